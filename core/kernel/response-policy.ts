import { randomUUID } from 'node:crypto';
import type { Bus } from '../bus/index.js';
import { SEVERITIES, type ActionRequest, type ActionResult, type Detection, type RequestedAction } from '../events/detection.js';
import type { ProcessInfo } from '../events/event.js';
import type { DiscardReason, PluginCounters } from '../telemetry/counters.js';
import type { ResponseSet, VigilConfig } from '../config/types.js';
import { runPlaybook, type StepContext } from './playbooks.js';
import {
  PRIVILEGED_USERS,
  WINDOWS_CRITICAL_IMAGES,
  agentLineage,
  imageMatches,
  isSystemPid,
  normalizeImage,
  readLiveProcess,
  resolveProtectedImages,
  type LiveProcess,
} from './protected-processes.js';

type Mode = 'monitor' | 'enforce';

/** Why an action is not sent: the journal's outcome code, the reason's first words, and the discard counted. */
const SKIPS = {
  noResponder: { outcome: 'no_responder', reason: 'no responder for action', counted: 'action_no_responder_for_action' },
  noIdentity: { outcome: 'no_identity', reason: 'no target identity', counted: 'action_no_identity' },
  replayed: { outcome: 'replayed', reason: 'replayed telemetry', counted: 'action_replayed' },
  stale: { outcome: 'stale_event', reason: 'evidence too old', counted: 'action_stale_event' },
  protectedProcess: { outcome: 'protected', reason: 'protected process', counted: 'action_protected_process' },
  rateLimit: { outcome: 'rate_limit', reason: 'rate limit', counted: 'action_rate_limit' },
  cooldown: { outcome: 'cooldown', reason: 'cooldown', counted: 'action_cooldown' },
  monitor: { outcome: 'would_have', reason: 'would have', counted: 'action_monitor' },
  noPlaybook: { outcome: 'no_playbook', reason: 'no such playbook', counted: 'action_no_playbook' },
  planRunning: { outcome: 'in_progress', reason: 'a playbook already runs for this process', counted: 'action_playbook_busy' },
  timeout: { outcome: 'timeout', reason: 'no result in time', counted: 'action_timeout' },
  stopping: { outcome: 'stopping', reason: 'agent stopping', counted: 'action_timeout' },
} as const satisfies Record<string, { outcome: string; reason: string; counted: DiscardReason }>;

type Skip = (typeof SKIPS)[keyof typeof SKIPS];

interface Refusal {
  skip: Skip;
  /** Said after the reason's first words, e.g. `protected process: pid 1`. */
  detail?: string;
}

/** What the policy remembers of a request until its result comes back, to journal who asked. */
interface Pending {
  readonly rule_id: string;
  readonly analyzer: string;
  readonly mode: Mode;
  readonly target?: ActionResult['target'];
  readonly playbook?: string;
  readonly step?: string;
}

/** Requests in flight whose journal context is kept; past this the oldest is forgotten (counted). */
const MAX_PENDING = 10_000;

export interface ResponsePolicyOptions {
  /**
   * The delivery of the sensor behind an event's `source` (the kernel reads it from the
   * manifest); undefined for a source that is not a sensor (an analyzer's derived event).
   */
  readonly deliveryOf?: (source: string) => 'live' | 'replay' | undefined;
  /**
   * Whether a replay sensor is loaded. Then evidence whose origin cannot be told (derived
   * events, a detection without evidence) counts as replayed: fail closed.
   */
  readonly replaying?: () => boolean;
  /** The agent and its ancestors; default: walked from /proc/self (Linux) at construction. */
  readonly lineage?: ReadonlySet<number>;
  /** Live facts about a local process; default: procfs on Linux, nothing elsewhere. */
  readonly liveProcess?: (pid: number) => LiveProcess | undefined;
  /**
   * Whether every responder performing an action declares it read-only (manifest
   * `readOnlyActions`): such actions run in monitor mode too. Default: none is.
   */
  readonly readOnly?: (action: string) => boolean;
}

const RANK = new Map<string, number>(SEVERITIES.map((s, i) => [s, i]));

/** The identity a request must carry: pid + start time, or guid. */
function hasIdentity(p: ProcessInfo | undefined): p is ProcessInfo {
  if (!p) return false;
  if (typeof p.guid === 'string' && p.guid.length > 0) return true;
  return typeof p.pid === 'number' && Number.isSafeInteger(p.pid) && p.pid > 0 && typeof p.start_time === 'number' && Number.isFinite(p.start_time);
}

function identityOf(p: ProcessInfo | undefined): ActionResult['target'] | undefined {
  if (!p) return undefined;
  const t: { pid?: number; start_time?: number; guid?: string; image?: string } = {};
  if (p.pid !== undefined) t.pid = p.pid;
  if (p.start_time !== undefined) t.start_time = p.start_time;
  if (p.guid !== undefined) t.guid = p.guid;
  if (p.image !== undefined) t.image = p.image;
  return t;
}

function identityKey(t: ProcessInfo): string {
  return t.guid ?? `${t.pid}@${t.start_time}`;
}

function describe(p: ProcessInfo): string {
  const who = p.pid !== undefined ? `pid ${p.pid}` : `guid ${p.guid ?? '?'}`;
  return p.image ? `${who} (${p.image})` : who;
}

/** Whether a response set applies to a detection: every criterion it names must hold. */
function setMatches(set: ResponseSet, det: Detection): boolean {
  if (set.rules && !set.rules.includes(det.rule.id)) return false;
  if (set.min_severity && (RANK.get(det.severity) ?? -1) < (RANK.get(set.min_severity) ?? 0)) return false;
  if (set.tags && !set.tags.some((t) => det.tags.includes(t))) return false;
  return true;
}

/**
 * Turns the actions a detection requests (its rule's `response`, plus the actions of every
 * response set it matches) into ActionRequests for the responders that perform them — or
 * into a journaled ActionResult saying why not. Fail closed: a target without identity,
 * replayed telemetry, evidence past its age, a protected process, a rate limit or a
 * cooldown each stop the action; in monitor mode (the default) or under a simulating
 * response set an action that passes every rail is journaled as "would have" and not sent.
 * `alert` is implicit (outputs consume every detection).
 */
export class ResponsePolicy {
  /** Rate and cooldown state per mode, so simulated actions never spend enforce's budget. */
  private readonly recent = { monitor: new Map<string, number[]>(), enforce: new Map<string, number[]>() };
  private readonly lastByKey = { monitor: new Map<string, number>(), enforce: new Map<string, number>() };
  private readonly pending = new Map<string, Pending>();
  /** Playbook steps awaiting their responder's result, by request id. */
  private readonly waiters = new Map<string, { resolve: (r: ActionResult) => void; abort: () => void; restoring: boolean }>();
  /** Targets a playbook runs for now: one plan per process at a time. */
  private readonly planning = new Set<string>();
  private readonly plans = new Set<Promise<void>>();
  private readonly readOnly: (action: string) => boolean;
  private readonly lineage: ReadonlySet<number>;
  private readonly protectedImages: readonly string[];
  private readonly deliveryOf: (source: string) => 'live' | 'replay' | undefined;
  private readonly replaying: () => boolean;
  private readonly liveProcess: (pid: number) => LiveProcess | undefined;

  constructor(
    private readonly config: VigilConfig['response'],
    private readonly bus: Bus,
    private readonly counters: PluginCounters,
    private readonly report: (r: ActionResult) => void,
    /** Milliseconds, as Date.now(); rate limits, cooldowns and event age are measured on it. */
    private readonly now: () => number = Date.now,
    options: ResponsePolicyOptions = {},
  ) {
    this.lineage = options.lineage ?? agentLineage();
    this.protectedImages = resolveProtectedImages(config.protected_images);
    this.deliveryOf = options.deliveryOf ?? (() => 'live');
    this.replaying = options.replaying ?? (() => false);
    this.liveProcess = options.liveProcess ?? (process.platform === 'linux' ? (pid) => readLiveProcess(pid) : () => undefined);
    this.readOnly = options.readOnly ?? (() => false);
  }

  private stopping = false;

  /** Resolves once no plan runs (tests wait on it). */
  async idle(): Promise<void> {
    while (this.plans.size > 0) await Promise.allSettled([...this.plans]);
  }

  /**
   * The agent stops: no new plan starts, every step still waiting ends as `stopping` (so each
   * plan runs its restoring action), and plans get up to `waitMs` to finish.
   */
  async shutdown(waitMs: number): Promise<void> {
    this.stopping = true;
    const deadline = Date.now() + waitMs;
    while (this.plans.size > 0 && Date.now() < deadline) {
      for (const [id, w] of [...this.waiters]) {
        if (w.restoring) continue;
        this.waiters.delete(id);
        w.abort();
      }
      await Promise.race([Promise.allSettled([...this.plans]), new Promise((r) => setTimeout(r, 50).unref?.())]);
    }
  }

  handle(det: Detection): void {
    const sets = this.config.sets.filter((s) => setMatches(s, det));
    const simulatedBy = sets.find((s) => s.simulate)?.name;
    const seen = new Set<string>();
    const actions: RequestedAction[] = [];
    for (const a of [...det.actions, ...sets.flatMap((s) => s.actions)]) {
      const key = a.action === 'playbook' ? `playbook:${String(a.params?.['name'])}` : a.action;
      if (a.action === 'alert' || seen.has(key)) continue;
      seen.add(key);
      actions.push(a);
    }
    for (const a of actions) {
      if (a.action === 'playbook') this.startPlaybook(det, a, simulatedBy);
      else this.decide(det, a.action, a.params ?? {}, simulatedBy);
    }
  }

  /**
   * A responder's result, completed with what the journal needs (who asked, the rule, the
   * target identity and the mode) from the request it answers.
   */
  complete(r: ActionResult): ActionResult {
    const p = this.pending.get(r.request_id);
    if (p) this.pending.delete(r.request_id);
    const mode = r.mode ?? p?.mode;
    const ruleId = r.rule_id ?? p?.rule_id;
    const analyzer = r.analyzer ?? p?.analyzer;
    const target = r.target ?? p?.target;
    const playbook = r.playbook ?? p?.playbook;
    const step = r.step ?? p?.step;
    const done: ActionResult = {
      ...r,
      outcome: r.outcome ?? (r.status === 'done' ? 'done' : r.status),
      ...(mode !== undefined ? { mode } : {}),
      ...(ruleId !== undefined ? { rule_id: ruleId } : {}),
      ...(analyzer !== undefined ? { analyzer } : {}),
      ...(target !== undefined ? { target } : {}),
      ...(playbook !== undefined ? { playbook } : {}),
      ...(step !== undefined ? { step } : {}),
    };
    const waiter = this.waiters.get(r.request_id);
    if (waiter) {
      this.waiters.delete(r.request_id);
      waiter.resolve(done);
    }
    return done;
  }

  /** Runs a playbook the detection asks for, unless one already runs for its target. */
  private startPlaybook(det: Detection, a: RequestedAction, simulatedBy: string | undefined): void {
    const name = a.params?.['name'];
    const requestId = randomUUID();
    if (this.stopping) {
      this.counters.discard('plugin_not_running');
      return;
    }
    const request: ActionRequest = { id: requestId, action: 'playbook', params: a.params ?? {}, detection: det, ...(det.actor ? { target: det.actor } : {}), dry_run: this.modeFor(simulatedBy) === 'monitor' };
    const pb = typeof name === 'string' && Object.prototype.hasOwnProperty.call(this.config.playbooks, name) ? this.config.playbooks[name] : undefined;
    if (pb === undefined || typeof name !== 'string') {
      const known = Object.keys(this.config.playbooks);
      this.skip(request, { skip: SKIPS.noPlaybook, detail: `${JSON.stringify(name ?? null)} (response.playbooks has ${known.length > 0 ? known.join(', ') : 'none'})` }, this.modeFor(simulatedBy));
      return;
    }
    const t = det.actor;
    if (!hasIdentity(t)) {
      this.skip(request, { skip: SKIPS.noIdentity, detail: `playbook ${name}: a target needs pid + start time, or guid; refused` }, this.modeFor(simulatedBy));
      return;
    }
    const key = identityKey(t);
    if (this.planning.has(key)) {
      this.skip(request, { skip: SKIPS.planRunning, detail: `playbook ${name} not started for ${describe(t)}` }, this.modeFor(simulatedBy));
      return;
    }
    this.planning.add(key);
    const run = runPlaybook(name, pb, det, requestId, {
      now: this.now,
      report: (r) => this.report({ ...r, mode: this.modeFor(simulatedBy), rule_id: det.rule.id, analyzer: det.analyzer, ...(identityOf(t) ? { target: identityOf(t)! } : {}) }),
      step: (d, action, params, ctx, timeoutMs) => this.step(d, action, params, simulatedBy, ctx, timeoutMs),
    })
      .then((summary) => {
        const mode = this.modeFor(simulatedBy);
        this.report({
          request_id: requestId,
          detection_id: det.id,
          action: 'playbook',
          responder: 'core',
          status: summary.outcome === 'aborted' ? 'failed' : summary.outcome === 'done' ? 'done' : 'skipped',
          outcome: summary.outcome,
          reason: `${name}: ${summary.reason}`,
          time: this.now(),
          mode,
          rule_id: det.rule.id,
          analyzer: det.analyzer,
          playbook: name,
          details: { steps: Object.fromEntries([...summary.results].map(([id, r]) => [id, { action: r.action, outcome: r.outcome ?? r.status, ...(r.details?.['verdict'] !== undefined ? { verdict: r.details['verdict'] } : {}) }])) },
          ...(identityOf(t) ? { target: identityOf(t)! } : {}),
        });
      })
      .catch((err: unknown) => {
        this.counters.error('process', 'playbook');
        this.report({
          request_id: requestId,
          detection_id: det.id,
          action: 'playbook',
          responder: 'core',
          status: 'failed',
          outcome: 'failed',
          reason: `${name}: ${err instanceof Error ? err.message : String(err)}`,
          time: this.now(),
          playbook: name,
        });
      })
      .finally(() => {
        this.planning.delete(key);
        this.plans.delete(run);
      });
    this.plans.add(run);
  }

  /** One playbook step: decided by the rails, then awaited until its result or the step's timeout. */
  private step(det: Detection, action: string, params: Readonly<Record<string, unknown>>, simulatedBy: string | undefined, ctx: StepContext, timeoutMs: number): Promise<ActionResult> {
    const decided = this.decide(det, action, params, simulatedBy, ctx);
    if (decided.result) return Promise.resolve(decided.result);
    const id = decided.requestId;
    return new Promise<ActionResult>((resolve) => {
      const request: ActionRequest = { id, action, params, detection: det, ...(det.actor ? { target: det.actor } : {}), dry_run: false };
      const mode = this.modeFor(simulatedBy);
      // The late result, when it comes, is journaled as any other; the plan has moved on.
      const giveUp = (refusal: Refusal): void => {
        clearTimeout(timer);
        resolve(this.skip(request, refusal, mode, ctx, 'failed'));
      };
      const timer = setTimeout(() => {
        if (this.waiters.delete(id)) giveUp({ skip: SKIPS.timeout, detail: `${action} gave no result within ${timeoutMs / 1000} s` });
      }, timeoutMs);
      this.waiters.set(id, {
        restoring: ctx.restoring,
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        abort: () => giveUp({ skip: SKIPS.stopping, detail: `${action} abandoned: the agent is stopping` }),
      });
    });
  }

  private modeFor(simulatedBy: string | undefined): Mode {
    return this.config.mode === 'enforce' && simulatedBy === undefined ? 'enforce' : 'monitor';
  }

  /**
   * Decide one action: refused or simulated (the journaled result is returned), or sent to
   * its responder (the request id is returned; the result comes through `complete`).
   */
  private decide(
    det: Detection,
    action: string,
    params: Readonly<Record<string, unknown>>,
    simulatedBy: string | undefined,
    ctx?: StepContext,
  ): { requestId: string; result?: ActionResult } {
    const target = det.actor;
    const mode = this.modeFor(simulatedBy);
    // A read-only action (a scan) touches nothing: it is performed in monitor mode too.
    const readOnly = this.readOnly(action);
    const request: ActionRequest = {
      id: randomUUID(),
      action,
      params,
      detection: det,
      ...(target ? { target } : {}),
      dry_run: mode === 'monitor' && !readOnly,
      ...(ctx ? { playbook: { name: ctx.playbook, step: ctx.step } } : {}),
    };
    const refusal = this.refuse(request, det, mode, ctx?.restoring === true);
    if (refusal) {
      return { requestId: request.id, result: this.skip(request, refusal, refusal.skip === SKIPS.replayed ? 'monitor' : mode, ctx) };
    }
    if (mode === 'monitor' && !readOnly) {
      const why = simulatedBy !== undefined && this.config.mode === 'enforce' ? `simulated by response set ${simulatedBy}` : 'monitor mode';
      return { requestId: request.id, result: this.skip(request, { skip: SKIPS.monitor, detail: `${action} ${describe(target!)} (${why})` }, mode, ctx) };
    }
    this.remember(request.id, {
      rule_id: det.rule.id,
      analyzer: det.analyzer,
      mode,
      ...(target ? { target: identityOf(target) } : {}),
      ...(ctx ? { playbook: ctx.playbook, step: ctx.step } : {}),
    });
    this.bus.publishAction(request);
    return { requestId: request.id };
  }

  private skip(request: ActionRequest, refusal: Refusal, mode: Mode, ctx?: StepContext, status: ActionResult['status'] = 'skipped'): ActionResult {
    const { skip, detail } = refusal;
    this.counters.discard(skip.counted, 1, true);
    const target = identityOf(request.target);
    const r: ActionResult = {
      request_id: request.id,
      detection_id: request.detection.id,
      action: request.action,
      responder: 'core',
      status,
      reason: detail ? `${skip.reason}: ${detail}` : skip.reason,
      time: this.now(),
      outcome: skip.outcome,
      mode,
      rule_id: request.detection.rule.id,
      analyzer: request.detection.analyzer,
      ...(target ? { target } : {}),
      ...(ctx ? { playbook: ctx.playbook, step: ctx.step } : {}),
    };
    this.report(r);
    return r;
  }

  private remember(id: string, p: Pending): void {
    this.pending.set(id, p);
    if (this.pending.size > MAX_PENDING) {
      const oldest = this.pending.keys().next().value;
      if (oldest !== undefined) this.pending.delete(oldest);
      this.counters.discard('action_journal_evicted');
    }
  }

  private refuse(r: ActionRequest, det: Detection, mode: Mode, restoring = false): Refusal | undefined {
    if (!this.bus.hasActionHandler(r.action)) return { skip: SKIPS.noResponder };
    const t = r.target;
    if (!hasIdentity(t)) return { skip: SKIPS.noIdentity, detail: 'a target needs pid + start time, or guid; refused' };
    if (this.isReplayed(det)) {
      return { skip: SKIPS.replayed, detail: `monitor only, would have ${r.action} ${describe(t)}` };
    }
    const now = this.now();
    const maxAge = this.config.max_event_age_seconds;
    if (maxAge > 0 && now - det.time > maxAge * 1000) {
      return { skip: SKIPS.stale, detail: `${Math.round((now - det.time) / 1000)} s old, max_event_age_seconds is ${maxAge}` };
    }
    const guarded = this.protectedBy(t);
    if (guarded) return { skip: SKIPS.protectedProcess, detail: guarded };
    // A plan's restoring action (resume after a broken-off plan) is never held back by a budget.
    if (restoring) return undefined;
    const limit = this.config.max_actions_per_minute_by_action[r.action] ?? this.config.max_actions_per_minute;
    const recentMap = this.recent[mode];
    let recent = recentMap.get(r.action);
    if (!recent) recentMap.set(r.action, (recent = []));
    while (recent.length > 0 && recent[0]! <= now - 60_000) recent.shift();
    if (recent.length >= limit) return { skip: SKIPS.rateLimit, detail: `${limit} ${r.action} per minute` };
    const cooldownMs = this.config.cooldown_seconds * 1000;
    const lastByKey = this.lastByKey[mode];
    const key = `${r.action}|${t.guid ?? `${t.pid}@${t.start_time}`}`;
    const last = lastByKey.get(key);
    if (last !== undefined && now - last < cooldownMs) return { skip: SKIPS.cooldown };
    lastByKey.set(key, now);
    if (lastByKey.size > 10_000) {
      for (const [k, at] of lastByKey) if (now - at >= cooldownMs) lastByKey.delete(k);
    }
    recent.push(now);
    return undefined;
  }

  /** Evidence from a replay sensor — or, while one is loaded, evidence of unknown origin. */
  private isReplayed(det: Detection): boolean {
    const replaying = this.replaying();
    if (replaying && det.evidence.length === 0) return true;
    return det.evidence.some((e) => {
      const d = this.deliveryOf(e.source);
      return d === 'replay' || (d === undefined && replaying);
    });
  }

  /** Why a target is protected, or undefined. Reads /proc for a local pid so a wrong image in the event cannot hide it. */
  private protectedBy(t: ProcessInfo): string | undefined {
    const pid = t.pid;
    let live: LiveProcess | undefined;
    if (pid !== undefined) {
      if (this.lineage.has(pid)) return `pid ${pid} is the agent or one of its ancestors`;
      live = this.liveProcess(pid);
      if (isSystemPid(pid, live?.ppid ?? t.ppid)) return `pid ${pid} is init or a kernel thread`;
      if (live?.kernelThread) return `pid ${pid} is a kernel thread`;
    }
    for (const image of [t.image, live?.exe]) {
      if (image === undefined) continue;
      // Windows' critical processes are Windows images: a Linux /tmp/lsass.exe is not one.
      const critical = normalizeImage(image).windows ? WINDOWS_CRITICAL_IMAGES.find((p) => imageMatches(image, p)) : undefined;
      const entry = critical ?? this.protectedImages.find((p) => imageMatches(image, p));
      if (entry !== undefined) return `image ${image} matches ${entry}`;
    }
    const user = t.user;
    const uid = live?.uid ?? t.uid;
    for (const u of this.config.protected_users) {
      if (user !== undefined && user.toLowerCase() === u.toLowerCase()) return `user ${user} is protected`;
      if (uid !== undefined && String(uid) === u) return `uid ${uid} is protected`;
    }
    if (this.config.low_privilege_only) {
      if (uid === 0) return 'low_privilege_only: the target runs as root';
      if (user !== undefined && PRIVILEGED_USERS.some((p) => p.toLowerCase() === user.toLowerCase())) return `low_privilege_only: the target runs as ${user}`;
      if (uid === undefined && user === undefined) return "low_privilege_only: the target's user is unknown";
    }
    return undefined;
  }
}
