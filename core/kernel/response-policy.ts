import { randomUUID } from 'node:crypto';
import type { Bus } from '../bus/index.js';
import { SEVERITIES, type ActionRequest, type ActionResult, type Detection, type RequestedAction } from '../events/detection.js';
import type { ProcessInfo } from '../events/event.js';
import type { DiscardReason, PluginCounters } from '../telemetry/counters.js';
import type { ResponseSet, VigilConfig } from '../config/types.js';
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
  }

  handle(det: Detection): void {
    const sets = this.config.sets.filter((s) => setMatches(s, det));
    const simulatedBy = sets.find((s) => s.simulate)?.name;
    const seen = new Set<string>();
    const actions: RequestedAction[] = [];
    for (const a of [...det.actions, ...sets.flatMap((s) => s.actions)]) {
      if (a.action === 'alert' || seen.has(a.action)) continue;
      seen.add(a.action);
      actions.push(a);
    }
    for (const a of actions) this.decide(det, a, simulatedBy);
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
    return {
      ...r,
      outcome: r.outcome ?? (r.status === 'done' ? 'done' : r.status),
      ...(mode !== undefined ? { mode } : {}),
      ...(ruleId !== undefined ? { rule_id: ruleId } : {}),
      ...(analyzer !== undefined ? { analyzer } : {}),
      ...(target !== undefined ? { target } : {}),
    };
  }

  private decide(det: Detection, a: RequestedAction, simulatedBy: string | undefined): void {
    const target = det.actor;
    const mode: Mode = this.config.mode === 'enforce' && simulatedBy === undefined ? 'enforce' : 'monitor';
    const request: ActionRequest = {
      id: randomUUID(),
      action: a.action,
      params: a.params ?? {},
      detection: det,
      ...(target ? { target } : {}),
      dry_run: mode === 'monitor',
    };
    const refusal = this.refuse(request, det, mode);
    if (refusal) {
      this.skip(request, refusal, refusal.skip === SKIPS.replayed ? 'monitor' : mode);
      return;
    }
    if (mode === 'monitor') {
      const why = simulatedBy !== undefined && this.config.mode === 'enforce' ? `simulated by response set ${simulatedBy}` : 'monitor mode';
      this.skip(request, { skip: SKIPS.monitor, detail: `${a.action} ${describe(target!)} (${why})` }, mode);
      return;
    }
    this.remember(request.id, { rule_id: det.rule.id, analyzer: det.analyzer, mode, ...(target ? { target: identityOf(target) } : {}) });
    this.bus.publishAction(request);
  }

  private skip(request: ActionRequest, refusal: Refusal, mode: Mode): void {
    const { skip, detail } = refusal;
    this.counters.discard(skip.counted, 1, true);
    const target = identityOf(request.target);
    this.report({
      request_id: request.id,
      detection_id: request.detection.id,
      action: request.action,
      responder: 'core',
      status: 'skipped',
      reason: detail ? `${skip.reason}: ${detail}` : skip.reason,
      time: this.now(),
      outcome: skip.outcome,
      mode,
      rule_id: request.detection.rule.id,
      analyzer: request.detection.analyzer,
      ...(target ? { target } : {}),
    });
  }

  private remember(id: string, p: Pending): void {
    this.pending.set(id, p);
    if (this.pending.size > MAX_PENDING) {
      const oldest = this.pending.keys().next().value;
      if (oldest !== undefined) this.pending.delete(oldest);
      this.counters.discard('action_journal_evicted');
    }
  }

  private refuse(r: ActionRequest, det: Detection, mode: Mode): Refusal | undefined {
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
