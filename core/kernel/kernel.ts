import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { container as rootContainer, type DependencyContainer } from 'tsyringe';
import { Bus } from '../bus/index.js';
import { configInvalid, withLine, type LoadedConfig, type ConfigFinding } from '../config/index.js';
import type { VigilConfig } from '../config/types.js';
import { VigilError, describeError, errorKind } from '../errors/index.js';
import type { EventDraft, VigilEvent } from '../events/event.js';
import type { ActionResult, Detection, DetectionDraft } from '../events/detection.js';
import { deepFreeze, freezeEvent } from '../events/freeze.js';
import { envelope } from '../events/stamp.js';
import { ProcessTable, enrichProcesses, type EnrichedProcesses } from '../process-table/index.js';
import { builtinPluginsDir, loadBuiltinPlugins, loadPluginFromFolder, loadPluginFromPackage, type PluginModuleRef } from '../plugin/loader.js';
import { runsOn } from '../plugin/manifest.js';
import { admitDraft, preparePluginConfig, type ContextSinks } from '../plugin/context.js';
import type { ServiceProviders } from '../plugin/services.js';
import type { AnalyzerInstance, ResponderInstance } from '../plugin/types.js';
import type { Logger } from '../telemetry/logger.js';
import { PluginCounters } from '../telemetry/counters.js';
import { WorkerPool } from '../workers/index.js';
import { applyPrivateUmask, ensurePrivateDir } from '../private-files.js';
import { PluginHost, type PluginStatus, type SupervisorClock } from './plugin-host.js';
import { ResponsePolicy } from './response-policy.js';
import { HealthMonitor, healthDraft } from './health.js';
import { Activity } from './activity.js';
import { errorWithStack, folderPrefix, processGuard, type CrashKind, type GuardOwner } from './guard.js';

/** Why the agent runs again: what the watchdog saw of the previous agent process. */
export interface WatchdogReport {
  /** Restarts of the agent process since the watchdog started. */
  restarts: number;
  /** Why the previous agent process was restarted (stall, memory, exit). */
  reason: string;
  /** The plugin and method that held the event loop, when known. */
  plugin?: string;
  method?: string;
  detail: string;
  /** Restarts since the watchdog started, by reason. */
  by_reason?: Record<string, number>;
  /** Plugins the watchdog disabled, and why. */
  disabled?: DisabledPlugin[];
}

/** A plugin the watchdog disabled for this run, and why. */
export interface DisabledPlugin {
  id: string;
  reason: string;
}

export interface KernelOptions {
  logger: Logger;
  /** Plugin modules supplied directly (tests, embedding); they win over built-ins of the same id. */
  extraPlugins?: readonly PluginModuleRef[];
  /** Skip loading built-in plugins (tests). */
  noBuiltins?: boolean;
  platform?: string;
  /**
   * Adjust the plugin entries once every plugin module is known and before plugin configs
   * are validated (the replay command enables replay sensors this way).
   */
  adjust?: (refs: ReadonlyMap<string, PluginModuleRef>, config: VigilConfig) => void;
  /** The supervisor's clock for restart windows and backoff (tests); the system clock otherwise. */
  clock?: SupervisorClock;
  /**
   * Install the process-wide guard while the kernel runs (uncaught exceptions, unhandled
   * rejections and process.exit calls from plugins become plugin failures). The agent does.
   */
  guardProcess?: boolean;
  /** Plugins not to load or start, with the reason (the watchdog's verdict on repeat culprits). */
  disabled?: readonly DisabledPlugin[];
  /** What the watchdog saw of the previous agent process; raised as a health detection. */
  watchdog?: WatchdogReport;
  /** Where the running plugin call is recorded (the watchdog's probe reads it); a new one if absent. */
  activity?: Activity;
}

/** A plugin that was not started, and why (platform, disabled). */
export interface SkippedPlugin {
  id: string;
  reason: string;
}

export interface AgentStatus {
  pid: number;
  host: string;
  started: number;
  uptime_seconds: number;
  config_file: string;
  events: { total: number; by_type: Record<string, number> };
  detections: { total: number; by_severity: Record<string, number>; by_rule: Record<string, { title: string; count: number }> };
  actions: Record<string, number>;
  bus_backlog: number;
  process_table: { size: number; evicted: number };
  workers: { threads: number; queued: number; counters: ReturnType<PluginCounters['snapshot']> };
  plugins: PluginStatus[];
  skipped: SkippedPlugin[];
  core: ReturnType<PluginCounters['snapshot']>;
  /** Present when the agent runs under the watchdog and was restarted by it. */
  watchdog?: WatchdogReport;
}

const START_ORDER = ['responder', 'analyzer', 'sensor'] as const;


/**
 * The microkernel: loads the plugins named in the config, starts responders, then analyzers,
 * then sensors; routes sensor events (stamped, frozen, enriched from the process table) to
 * analyzers and detections to responders; stops in reverse so that queues drain.
 */
export class Kernel {
  readonly bus: Bus;
  readonly processTable = new ProcessTable();
  private readonly scratch: EnrichedProcesses = { proc: undefined, parent: undefined, target: undefined };
  readonly counters = new PluginCounters();
  readonly hosts: PluginHost[] = [];
  readonly skipped: SkippedPlugin[] = [];
  readonly pool: WorkerPool;
  readonly config: VigilConfig;
  readonly hostName: string;
  private readonly hostInfo: { readonly name: string };
  readonly dataDir: string;
  readonly logger: Logger;
  private readonly container: DependencyContainer;
  /** What plugins may declare in `services`. */
  private readonly services: ServiceProviders;
  private readonly bootId = randomBytes(4).toString('hex');
  private seq = 0;
  private detectionSeq = 0;
  private readonly started = Date.now();
  private readonly eventsByType = new Map<string, { n: number }>();
  private readonly detectionsBySeverity = new Map<string, number>();
  private readonly detectionsByRule = new Map<string, { title: string; count: number }>();
  private readonly actionsByStatus = new Map<string, number>();
  private readonly pendingSources = new Set<PluginHost>();
  private sourcesDone: (() => void) | undefined;
  private readonly sourcesFinished: Promise<void>;
  private readonly policy: ResponsePolicy;
  private health: HealthMonitor | undefined;
  private state: 'new' | 'loaded' | 'running' | 'stopping' | 'stopped' = 'new';
  /** Extra detection listeners (CLI summaries). */
  readonly detectionListeners: Array<(d: Detection) => void> = [];
  /** Which plugin call runs now (the watchdog's heartbeat and stall report read it). */
  readonly activity: Activity;
  private readonly lastReported = new Map<string, number>();
  private readonly guardOwner: GuardOwner = {
    plugins: () => this.hosts,
    unattributed: (what, err) => this.unattributed(what, err),
  };

  constructor(
    readonly loaded: LoadedConfig,
    private readonly options: KernelOptions,
  ) {
    this.config = loaded.config;
    this.logger = options.logger;
    this.activity = options.activity ?? new Activity();
    this.hostName = this.config.agent.host_name || hostname();
    this.hostInfo = Object.freeze({ name: this.hostName });
    this.dataDir = this.resolvePath(this.config.agent.data_dir);
    this.bus = new Bus({ capacity: this.config.agent.max_queue_events, batchSize: this.config.agent.batch_events });
    this.pool = new WorkerPool({
      maxThreads: this.config.workers.max_threads,
      maxQueue: this.config.workers.max_queue_tasks,
      taskTimeoutMs: this.config.workers.task_timeout_seconds * 1000,
    });
    // The parent of every plugin's container. It holds no services: each plugin's container
    // registers the ones its manifest declares (createPluginContainer).
    this.container = rootContainer.createChildContainer();
    this.services = {
      'worker-pool': () => this.pool,
      'process-table': () => this.processTable,
    };
    this.policy = new ResponsePolicy(this.config.response, this.bus, this.counters, (r) => this.recordResult(r), Date.now, {
      // Replayed telemetry is monitor-only: the policy asks which sensor an event came from.
      deliveryOf: (source) => this.hosts.find((h) => h.id === source && h.manifest.kind === 'sensor')?.manifest.delivery,
      replaying: () => this.hosts.some((h) => h.manifest.kind === 'sensor' && h.manifest.delivery === 'replay'),
      // An action is read-only only when every responder performing it says so.
      readOnly: (action) => {
        const performers = this.hosts.filter((h) => h.manifest.kind === 'responder' && (h.manifest.actions ?? []).includes(action));
        return performers.length > 0 && performers.every((h) => (h.manifest.readOnlyActions ?? []).includes(action));
      },
    });
    this.sourcesFinished = new Promise((r) => (this.sourcesDone = r));
  }

  /** Resolve a path from the config (relative to the config file's folder). */
  resolvePath(p: string): string {
    return isAbsolute(p) ? p : resolve(this.loaded.baseDir, p);
  }

  /** Resolve a path given on the command line (relative to the working directory). */
  resolveCliPath(p: string): string {
    return resolve(p);
  }

  /**
   * Find and check every plugin named in the config (or built in and enabled), validate
   * each plugin's config block and create the instances. Config errors throw
   * VIGIL_ERR_CONFIG_INVALID with every finding; nothing has been started yet.
   */
  async load(): Promise<void> {
    // First, before a third-party plugin module runs any code at import.
    applyPrivateUmask(this.logger);
    const refs = new Map<string, PluginModuleRef>();
    if (!this.options.noBuiltins) {
      const builtins = await loadBuiltinPlugins((err, file) => {
        this.counters.error('load', errorKind(err));
        this.logger.error({ file, err: describeError(err) }, 'built-in plugin failed to load');
      });
      for (const r of builtins) refs.set(r.plugin.manifest.id, r);
    }
    for (const r of this.options.extraPlugins ?? []) refs.set(r.plugin.manifest.id, r);

    const findings: ConfigFinding[] = [];
    const disabled = new Map((this.options.disabled ?? []).map((d) => [d.id, d.reason]));
    for (const [id, entry] of Object.entries(this.config.plugins)) {
      if (!entry.path && !entry.package) continue;
      if (!entry.enabled) continue;
      if (disabled.has(id)) continue;
      const ref = entry.path
        ? await loadPluginFromFolder(this.resolvePath(entry.path))
        : await loadPluginFromPackage(entry.package!, this.loaded.baseDir);
      if (ref.plugin.manifest.id !== id) {
        findings.push({ path: `/plugins/${id}`, expected: `the plugin's manifest id`, found: `a plugin with id "${ref.plugin.manifest.id}"` });
        continue;
      }
      if (refs.has(id) && refs.get(id)!.origin === 'builtin') {
        throw new VigilError('VIGIL_ERR_PLUGIN_DUPLICATE', `plugin ${id} from ${ref.origin} has the id of a built-in plugin`);
      }
      refs.set(id, ref);
    }
    this.options.adjust?.(refs, this.config);
    for (const id of Object.keys(this.config.plugins)) {
      if (!refs.has(id) && !disabled.has(id)) {
        findings.push({
          path: `/plugins/${id}`,
          expected: `a known plugin id (${[...refs.keys()].sort().join(', ')}) or an entry with path/package`,
          found: `unknown plugin "${id}"`,
        });
      }
    }

    for (const [id, reason] of disabled) {
      if (this.config.plugins[id]?.enabled === false) continue;
      refs.delete(id);
      this.skipped.push({ id, reason: `disabled by the watchdog: ${reason}` });
    }
    const exclusive = new Map<string, string>();
    for (const [id, ref] of [...refs].sort(([a], [b]) => a.localeCompare(b))) {
      const entry = this.config.plugins[id];
      const m = ref.plugin.manifest;
      if (!entry || !entry.enabled) {
        this.skipped.push({ id, reason: entry ? 'disabled in config' : 'not enabled in config' });
        continue;
      }
      if (!runsOn(m, this.options.platform)) {
        this.skipped.push({ id, reason: `built for ${m.platforms.join('/')}, this is ${this.options.platform ?? process.platform}` });
        continue;
      }
      const prepared = preparePluginConfig(m, entry.config, { resolvePath: (p) => this.resolvePath(p) });
      const pf = prepared.findings.map((f) => ({ ...f, path: `/plugins/${id}/config${f.path === '/' ? '' : f.path}` }));
      if (pf.length > 0) {
        findings.push(...pf.map((f) => withLine(f, this.loaded.lineOf)));
        continue;
      }
      for (const res of m.exclusive ?? []) {
        const holder = exclusive.get(res);
        if (holder) {
          throw new VigilError('VIGIL_ERR_PLUGIN_EXCLUSIVE', `plugins ${holder} and ${id} both claim the exclusive resource ${res}`);
        }
        exclusive.set(res, id);
      }
      const host = new PluginHost(ref.plugin, ref.origin, prepared.config, this.hostEnv(), {
          startTimeoutMs: this.config.agent.start_timeout_seconds * 1000,
          stopTimeoutMs: this.config.agent.stop_timeout_seconds * 1000,
          flushTimeoutMs: this.config.agent.flush_timeout_seconds * 1000,
          reloadTimeoutMs: this.config.agent.reload_timeout_seconds * 1000,
          maxRestarts: this.config.agent.max_restarts,
          restartWindowMs: this.config.agent.restart_window_seconds * 1000,
          restartBackoffMs: this.config.agent.restart_backoff_ms,
          maxErrorsBeforeRestart: this.config.agent.max_errors_before_restart,
          ...(this.options.clock ? { clock: this.options.clock } : {}),
        });
      host.root = pluginRoot(ref.origin, m.kind, id);
      this.hosts.push(host);
    }
    if (findings.length > 0) throw configInvalid(this.loaded.file, findings);
    for (const h of this.hosts) h.create();
    // A stop decided while loading stands.
    if (this.state === 'new') this.state = 'loaded';
  }

  /** Hosts of one kind, in a stable order. */
  hostsOf(kind: 'sensor' | 'analyzer' | 'responder'): PluginHost[] {
    return this.hosts.filter((h) => h.manifest.kind === kind);
  }

  /** Start responders, then analyzers, then sensors. A plugin that fails to start is retried, never fatal. */
  async start(): Promise<void> {
    if (this.state === 'new') await this.load();
    if (this.state !== 'loaded') return;
    ensurePrivateDir(this.dataDir, this.logger);
    this.state = 'running';
    if (this.options.guardProcess) processGuard.add(this.guardOwner);
    for (const kind of START_ORDER) {
      for (const host of this.hostsOf(kind)) {
        // A stop decided while booting: start nothing more.
        if (this.state !== 'running') return;
        this.subscribe(host);
        if (host.manifest.kind === 'sensor' && host.manifest.delivery === 'replay') this.pendingSources.add(host);
        host.onDetached = () => this.sourceFinished(host);
        try {
          await host.start();
          this.logger.info({ plugin: host.id, kind, origin: host.origin }, 'plugin started');
        } catch (err) {
          this.logger.error({ plugin: host.id, err: describeError(err) }, 'plugin failed to start');
          host.retryLater();
        }
      }
    }
    for (const s of this.skipped) this.logger.info({ plugin: s.id, reason: s.reason }, 'plugin skipped');
    if (this.state !== 'running') return;
    this.raiseWatchdogReport();
    this.checkSourcesFinished();
    if (this.config.health.enabled) {
      this.health = new HealthMonitor(this.config.health, this.hosts, (d) => this.raiseDetection('core', d));
      this.health.start();
    }
  }

  /** Resolves once every replay sensor has finished (or failed) and the bus has drained. */
  async whenSourcesFinished(): Promise<void> {
    await this.sourcesFinished;
    await this.bus.idle();
  }

  /** Ask analyzers to reload their content (SIGHUP). */
  async reload(): Promise<void> {
    for (const h of this.hostsOf('analyzer')) {
      try {
        await h.reload();
      } catch (err) {
        h.counters.error('load', `reload:${errorKind(err)}`);
        this.logger.error({ plugin: h.id, err: describeError(err) }, 'reload failed; the previous content stays active');
      }
    }
  }

  /** Stop sensors, drain, stop analyzers, drain, flush and stop responders. Bounded by stop timeouts. */
  stop(): Promise<void> {
    return (this.stopped ??= this.stopInOrder());
  }
  private stopped: Promise<void> | undefined;

  private async stopInOrder(): Promise<void> {
    this.state = 'stopping';
    // Decided: from here on no plugin restarts, whatever fails during the stop.
    for (const h of this.hosts) h.close();
    this.health?.stop();
    const drainMs = this.config.agent.stop_timeout_seconds * 1000;
    for (const kind of [...START_ORDER].reverse()) {
      const hosts = this.hostsOf(kind);
      if (kind !== 'sensor') await this.drain(drainMs);
      if (kind === 'responder') {
        // Plans still running break off now, while responders can still run their
        // restoring step (a suspended process is resumed before the agent goes).
        await this.policy.shutdown(drainMs);
        await this.drain(drainMs);
        await Promise.all(hosts.map((h) => h.flush()));
      }
      await Promise.all(hosts.map((h) => h.stop()));
      for (const h of hosts) h.subscription?.unsubscribe();
    }
    await this.pool.close();
    this.state = 'stopped';
    processGuard.remove(this.guardOwner);
    this.sourcesDone?.();
  }

  /** The running handler, for the watchdog's heartbeat. */
  currentHandler() {
    return this.activity.current();
  }

  /** What escaped the plugins and names none of them: logged with its stack, counted; the agent goes on. */
  private unattributed(what: CrashKind, err: unknown): void {
    this.counters.error('supervise', what === 'exit' ? 'VIGIL_ERR_AGENT_UNCAUGHT' : `VIGIL_ERR_AGENT_UNCAUGHT:${what}`);
    this.logger.error({ what, err: errorWithStack(err) }, `VIGIL_ERR_AGENT_UNCAUGHT: ${what} not attributable to a plugin; the agent goes on`);
  }

  /** A plugin crashed or hung a lifecycle call: a health detection, once per plugin and cause per health window. */
  private reportPlugin(host: PluginHost, what: string, err: unknown): void {
    if (!this.config.health.enabled || this.state !== 'running') return;
    const key = `${host.id}:${what}`;
    const now = Date.now();
    const last = this.lastReported.get(key);
    if (last !== undefined && now - last < this.config.health.window_seconds * 1000) return;
    this.lastReported.set(key, now);
    this.raiseDetection(
      'core',
      healthDraft(
        `plugin-${what}`,
        'high',
        `agent health: ${host.manifest.kind} ${host.id}: ${what}: ${describeError(err)}`,
        host.id,
        1,
      ),
    );
  }

  private raiseWatchdogReport(): void {
    const w = this.options.watchdog;
    if (!w || !this.config.health.enabled) return;
    const who = w.plugin ? ` (held by ${w.plugin}${w.method ? `.${w.method}` : ''})` : '';
    this.raiseDetection('core', healthDraft('agent-restarted', 'high', `agent health: the watchdog restarted the agent: ${w.reason}${who}: ${w.detail}`, w.plugin ?? 'agent', w.restarts));
  }

  status(): AgentStatus {
    return {
      pid: process.pid,
      host: this.hostName,
      started: this.started,
      uptime_seconds: Math.round((Date.now() - this.started) / 1000),
      config_file: this.loaded.file,
      events: { total: this.seq, by_type: Object.fromEntries([...this.eventsByType].map(([t, c]) => [t, c.n])) },
      detections: {
        total: this.detectionSeq,
        by_severity: Object.fromEntries(this.detectionsBySeverity),
        by_rule: Object.fromEntries([...this.detectionsByRule].map(([k, v]) => [k, { ...v }])),
      },
      actions: Object.fromEntries(this.actionsByStatus),
      bus_backlog: this.bus.backlog,
      process_table: { size: this.processTable.size, evicted: this.processTable.evicted },
      workers: { threads: this.pool.threads, queued: this.pool.queueSize, counters: this.pool.counters.snapshot() },
      plugins: this.hosts.map((h) => h.status()),
      skipped: [...this.skipped],
      core: this.counters.snapshot(),
      ...(this.options.watchdog ? { watchdog: { ...this.options.watchdog } } : {}),
    };
  }

  // ---- data path ------------------------------------------------------------------------

  /** A sensor's event: check, enrich from the process table, stamp, freeze, publish. */
  ingest(host: PluginHost, draft: EventDraft, wait: boolean): Promise<void> | undefined {
    if (!host.accepting) {
      host.counters.discard('plugin_not_running');
      return undefined;
    }
    if (!admitDraft(host.id, host.produces, host.counters, draft)) return undefined;
    host.counters.emitted++;
    return this.bus.publishEvent(this.stamp(host.id, draft), wait);
  }

  private stamp(source: string, draft: EventDraft): VigilEvent {
    const p = enrichProcesses(this.processTable, draft, this.scratch);
    const seq = ++this.seq;
    const e = envelope(draft, p, `${this.bootId}-${seq}`, seq, source, draft.host ?? this.hostInfo);
    let count = this.eventsByType.get(e.type);
    if (count === undefined) this.eventsByType.set(e.type, (count = { n: 0 }));
    count.n++;
    return freezeEvent(e);
  }

  /** An analyzer's (or the core's) detection: stamp, freeze, publish, apply the response policy. */
  raiseDetection(analyzer: string, draft: DetectionDraft): Detection {
    const n = ++this.detectionSeq;
    const newest = draft.evidence.length > 0 ? draft.evidence[draft.evidence.length - 1] : undefined;
    const actor = draft.actor ?? newest?.proc;
    const det: Detection = {
      ...draft,
      id: `${this.bootId}-d${n}`,
      time: newest?.time ?? Date.now(),
      raised: Date.now(),
      analyzer,
      host: newest?.host ?? { name: this.hostName },
      tags: draft.tags ?? [],
      actions: draft.actions ?? [],
      summary: draft.summary ?? draft.rule.title,
      ...(actor ? { actor } : {}),
    };
    deepFreeze(det);
    this.detectionsBySeverity.set(det.severity, (this.detectionsBySeverity.get(det.severity) ?? 0) + 1);
    const r = this.detectionsByRule.get(det.rule.id);
    if (r) r.count++;
    else this.detectionsByRule.set(det.rule.id, { title: det.rule.title, count: 1 });
    this.bus.publishDetection(det);
    for (const l of this.detectionListeners) l(det);
    this.policy.handle(det);
    return det;
  }

  private recordResult(r: ActionResult): void {
    const key = `${r.action}:${r.status}`;
    this.actionsByStatus.set(key, (this.actionsByStatus.get(key) ?? 0) + 1);
    this.bus.publishActionResult(deepFreeze(r));
  }

  private hostEnv() {
    return {
      logger: this.logger,
      container: this.container,
      dataDir: this.dataDir,
      baseDir: this.loaded.baseDir,
      hostName: this.hostName,
      services: this.services,
      sinks: (host: PluginHost) => this.sinksFor(host),
      activity: this.activity,
      report: (host: PluginHost, what: string, err: unknown) => this.reportPlugin(host, what, err),
    };
  }

  private sinksFor(host: PluginHost): ContextSinks {
    const m = host.manifest;
    const emitDerived = (draft: EventDraft): void => {
      void this.ingest(host, draft, false);
    };
    switch (m.kind) {
      case 'sensor': {
        const wait = m.delivery === 'replay';
        return {
          emit: (draft: EventDraft) => this.ingest(host, draft, wait),
          finished: () => this.sourceFinished(host),
        };
      }
      case 'analyzer':
        return {
          detect: (draft: DetectionDraft) => {
            if (!host.accepting) {
              host.counters.discard('plugin_not_running');
              return;
            }
            host.counters.emitted++;
            this.raiseDetection(host.id, draft);
          },
          emit: emitDerived,
        };
      case 'responder':
        return {
          result: (r: ActionResult) => this.recordResult(this.policy.complete(r)),
          emit: emitDerived,
        };
    }
  }

  private subscribe(host: PluginHost): void {
    const m = host.manifest;
    if (m.kind === 'sensor') return;
    const onFailure = (err: unknown) => host.failure('process', err);
    const current = () => (host.running ? host.instance : undefined);
    const skip = (n: number) => host.counters.discard(host.state === 'restarting' ? 'plugin_restarting' : 'plugin_not_running', n);
    const eventTypes = m.consumes.filter((t) => t !== 'detection');
    const a = () => current() as (AnalyzerInstance & ResponderInstance) | undefined;
    host.subscription = this.bus.subscribe({
      name: host.id,
      counters: host.counters,
      onFailure,
      eventTypes,
      onEvents: (batch) => {
        const i = a();
        if (!i?.onEvents) return skip(batch.length);
        return host.call('onEvents', () => i.onEvents!(batch));
      },
      ...(m.consumes.includes('detection')
        ? {
            onDetections: (batch: readonly Detection[]) => {
              const i = a();
              if (!i?.onDetections) return skip(batch.length);
              return host.call('onDetections', () => i.onDetections!(batch));
            },
          }
        : {}),
      ...(m.kind === 'responder' && (m.actions ?? []).filter((x) => x !== 'alert').length > 0
        ? {
            actions: (m.actions ?? []).filter((x) => x !== 'alert'),
            onActions: (batch) => {
              const i = a();
              if (!i?.onActions) return skip(batch.length);
              return host.call('onActions', () => i.onActions!(batch));
            },
          }
        : {}),
      ...(m.kind === 'responder'
        ? {
            onActionResults: (batch: readonly ActionResult[]) => {
              const i = a();
              if (!i) return skip(batch.length);
              return host.call('onActionResults', () => i.onActionResults?.(batch));
            },
          }
        : {}),
    });
  }

  private sourceFinished(host: PluginHost): void {
    if (this.pendingSources.delete(host)) this.checkSourcesFinished();
  }

  private checkSourcesFinished(): void {
    if (this.pendingSources.size === 0 && this.state === 'running') this.sourcesDone?.();
  }

  private async drain(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      this.bus.idle().then(() => false),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(true), ms))),
    ]);
    clearTimeout(timer);
    if (timedOut) this.logger.warn({ backlog: this.bus.backlog }, 'queues did not drain before the stop deadline');
  }
}

/** The folder of a plugin's code, for attributing a crash by its stack ('' when unknown). */
function pluginRoot(origin: string, kind: string, id: string): string {
  if (origin === 'builtin') return folderPrefix(join(builtinPluginsDir(), `${kind}s`, id));
  if (origin.startsWith('path:')) return folderPrefix(origin.slice('path:'.length));
  return '';
}
