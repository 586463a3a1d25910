import { join } from 'node:path';
import type { DependencyContainer } from 'tsyringe';
import { VigilError, describeError, errorKind } from '../errors/index.js';
import type { Logger } from '../telemetry/logger.js';
import { PluginCounters, type ErrorStage } from '../telemetry/counters.js';
import type { Subscription } from '../bus/index.js';
import { createInstance, createPluginContext, type ContextSinks } from '../plugin/context.js';
import { createPluginContainer, type ServiceProviders } from '../plugin/services.js';
import { Activity, type PluginMethod } from './activity.js';
import { errorWithStack, pluginScope, type CrashKind, type GuardedPlugin } from './guard.js';
import type {
  AnalyzerInstance,
  Disposer,
  PluginInstance,
  PluginManifest,
  ResponderInstance,
  VigilPlugin,
} from '../plugin/types.js';

export type PluginState = 'created' | 'starting' | 'running' | 'restarting' | 'stopping' | 'stopped' | 'detached';

/**
 * Time as the supervisor sees it: the restart window and the backoff timers. Injectable so
 * that a test can move through hours of failures without waiting for any of them.
 */
export interface SupervisorClock {
  /** Milliseconds, as Date.now(). */
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The wall clock and the event loop's timers. */
export const systemClock: SupervisorClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface HostOptions {
  startTimeoutMs: number;
  stopTimeoutMs: number;
  /** A responder's flush(); defaults to stopTimeoutMs. */
  flushTimeoutMs?: number;
  /** An analyzer's reload(); defaults to startTimeoutMs. */
  reloadTimeoutMs?: number;
  /** Restarts allowed within `restartWindowMs`; one more failure detaches the plugin. */
  maxRestarts: number;
  /** Restarts older than this no longer count toward `maxRestarts` nor the backoff. */
  restartWindowMs: number;
  restartBackoffMs: number;
  maxErrorsBeforeRestart: number;
  /** Defaults to the system clock. */
  clock?: SupervisorClock;
}

/** The pieces the kernel hands each host to build a context. */
export interface HostEnv {
  logger: Logger;
  container: DependencyContainer;
  dataDir: string;
  baseDir: string;
  hostName: string;
  /** The services a plugin may declare; each plugin's container gets the ones it declares. */
  services: ServiceProviders;
  /** Builds the kind-specific sink part of the context. */
  sinks(host: PluginHost): ContextSinks;
  /** Which plugin call runs now (the watchdog's stall report names it); a private one if absent. */
  activity?: Activity;
  /** Told of a crash or a hung lifecycle call (the kernel raises a health detection). */
  report?(host: PluginHost, what: string, err: unknown): void;
}

/** Status of one plugin as `vigil status` shows it. */
export interface PluginStatus {
  id: string;
  kind: string;
  origin: string;
  state: PluginState;
  restarts: number;
  lastError?: string;
  counters: ReturnType<PluginCounters['snapshot']>;
}

/**
 * Supervises one plugin: builds its context, starts it with a timeout, runs its disposers
 * last-in first-out on stop, restarts it with backoff when it keeps failing and detaches it
 * when it needs more than `maxRestarts` restarts within `restartWindowMs` (the intensity
 * and period of an Erlang/OTP supervisor). Counters survive restarts.
 */
export class PluginHost implements GuardedPlugin {
  readonly counters = new PluginCounters();
  readonly logger: Logger;
  state: PluginState = 'created';
  /** Every restart since the agent started (status); only those in the window count toward maxRestarts. */
  restarts = 0;
  lastError: string | undefined;
  instance: PluginInstance | undefined;
  subscription: Subscription | undefined;
  private abort = new AbortController();
  private disposers: Disposer[] = [];
  private errorsSinceStart = 0;
  private restartTimer: unknown;
  /** When each restart within the window was scheduled, oldest first. */
  private readonly restartTimes: number[] = [];
  private readonly clock: SupervisorClock;
  private readonly container: DependencyContainer;
  /** Called when the plugin is detached (the kernel unsubscribes, marks sources finished). */
  onDetached: (() => void) | undefined;
  /** Set once the agent decided to stop: from then on nothing restarts. */
  private closing = false;
  /** Crashes (uncaught, rejections, exit calls) since the agent started. */
  private crashes = 0;
  /** Abandons a start() in progress (the agent decided to stop while it ran). */
  private cancelStart: (() => void) | undefined;
  private readonly activity: Activity;
  /** Folder of the plugin's code (attribution of crashes by stack); empty when unknown. */
  root = '';

  constructor(
    readonly plugin: VigilPlugin,
    readonly origin: string,
    readonly config: Readonly<Record<string, unknown>>,
    private readonly env: HostEnv,
    private readonly options: HostOptions,
  ) {
    this.logger = env.logger.child({ plugin: plugin.manifest.id });
    // Refuses a plugin declaring a service the core does not offer, before anything runs.
    this.container = createPluginContainer(env.container, plugin.manifest, env.services);
    this.clock = options.clock ?? systemClock;
    this.activity = env.activity ?? new Activity();
  }

  /**
   * Run a call into the plugin inside its scope (timers and promises it makes inherit it, so
   * what escapes them is its failure) and as the current handler (a stall names it).
   */
  call<T>(method: PluginMethod, fn: () => T): T {
    return pluginScope.run(this, () => this.activity.run(this.id, method, fn));
  }

  /** The agent is stopping: no restart is scheduled or run from now on. */
  close(): void {
    this.closing = true;
    this.cancelStart?.();
    if (this.restartTimer !== undefined) this.clock.clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
  }

  /**
   * An uncaught exception, an unhandled rejection or a process.exit call that came from this
   * plugin: logged with its stack, reported, and handled as a failure (restart or detach).
   */
  crashed(what: CrashKind, err: unknown): void {
    // A detached plugin's leftover timers may go on failing: the first crash and every
    // thousandth are logged with the stack, all are counted.
    this.crashes++;
    if (this.crashes === 1 || this.crashes % 1000 === 0) {
      this.logger.error({ what, err: errorWithStack(err), crashes: this.crashes }, `VIGIL_ERR_PLUGIN_CRASH: plugin ${this.id}: ${what}`);
    }
    this.env.report?.(this, what, err);
    this.failure('supervise', what === 'exit' ? err : new VigilError('VIGIL_ERR_PLUGIN_CRASH', `plugin ${this.id}: ${what}: ${describeError(err)}`, { cause: err }));
  }

  get id(): string {
    return this.plugin.manifest.id;
  }

  /** The declared `produces` as a set (checked for every emitted event). */
  get produces(): ReadonlySet<string> {
    return (this.producesSet ??= new Set(this.plugin.manifest.produces));
  }
  private producesSet: ReadonlySet<string> | undefined;

  get manifest(): PluginManifest {
    return this.plugin.manifest;
  }

  get running(): boolean {
    return this.state === 'running';
  }

  /** A plugin may hand over events while starting (a sensor's initial scan) and running. */
  get accepting(): boolean {
    return this.state === 'running' || this.state === 'starting';
  }

  /** Create the instance (no I/O by contract) and check it implements what the manifest declares. */
  create(): void {
    this.abort = new AbortController();
    this.disposers = [];
    const ctx = createPluginContext({
      manifest: this.manifest,
      config: this.config,
      logger: this.logger,
      counters: this.counters,
      signal: this.abort.signal,
      container: this.container,
      dataDir: join(this.env.dataDir, 'plugins', this.id),
      baseDir: this.env.baseDir,
      hostName: this.env.hostName,
      defer: (d: Disposer) => {
        this.disposers.push(d);
      },
      fail: (err: unknown) => this.failure('supervise', err),
      sinks: this.env.sinks(this),
    });
    try {
      this.instance = this.call('create', () => createInstance(this.plugin, ctx));
    } catch (err) {
      // Counted by what create() threw, not by the wrapper.
      const cause = err instanceof VigilError && err.code === 'VIGIL_ERR_PLUGIN_CREATE' ? err.cause : err;
      this.counters.error('load', `create:${errorKind(cause)}`);
      throw err;
    }
  }

  /** create() + start() with the start timeout. Throws on failure (state back to stopped). */
  async start(): Promise<void> {
    if (!this.instance) this.create();
    this.state = 'starting';
    this.errorsSinceStart = 0;
    const instance = this.instance!;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new VigilError('VIGIL_ERR_PLUGIN_START_TIMEOUT', `plugin ${this.id}: start() took longer than ${this.options.startTimeoutMs} ms`),
          ),
        this.options.startTimeoutMs,
      );
    });
    const abandoned = new Promise<never>((_, reject) => {
      this.cancelStart = () => reject(new VigilError('VIGIL_ERR_PLUGIN_START', `plugin ${this.id}: start() abandoned: the agent is stopping`));
    });
    if (this.closing) this.cancelStart?.();
    try {
      await Promise.race([this.call('start', () => instance.start()), timeout, abandoned]);
      this.state = 'running';
    } catch (cause) {
      this.counters.error('start', errorKind(cause));
      this.lastError = describeError(cause);
      if (cause instanceof VigilError && cause.code === 'VIGIL_ERR_PLUGIN_START_TIMEOUT') this.env.report?.(this, 'start-timeout', cause);
      await this.release();
      this.state = 'stopped';
      if (cause instanceof VigilError && cause.code === 'VIGIL_ERR_PLUGIN_START_TIMEOUT') throw cause;
      throw new VigilError('VIGIL_ERR_PLUGIN_START', `plugin ${this.id}: start() failed: ${describeError(cause)}`, { cause });
    } finally {
      clearTimeout(timer);
      this.cancelStart = undefined;
    }
  }

  /** Stop: abort, stop() with timeout, then the disposers LIFO. Idempotent. */
  async stop(): Promise<void> {
    if (this.restartTimer !== undefined) this.clock.clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    if (this.state === 'stopped' || this.state === 'detached') {
      await this.release();
      return;
    }
    this.state = 'stopping';
    await this.release();
    this.state = 'stopped';
  }

  /** Flush a responder's buffered output, bounded by the flush timeout. */
  async flush(): Promise<void> {
    const r = this.instance as ResponderInstance | undefined;
    if (r?.flush && this.state === 'running') {
      const ms = this.options.flushTimeoutMs ?? this.options.stopTimeoutMs;
      try {
        await this.withTimeout(this.call('flush', () => r.flush!()), ms, () => new VigilError('VIGIL_ERR_PLUGIN_FLUSH_TIMEOUT', `plugin ${this.id}: flush() took longer than ${ms} ms`));
      } catch (err) {
        this.counters.error('send', `flush:${errorKind(err)}`);
        this.lastError = describeError(err);
        this.logger.error({ err: describeError(err) }, 'flush failed');
      }
    }
  }

  /** Ask an analyzer to reload its content, bounded by the reload timeout (throws on failure). */
  async reload(): Promise<void> {
    const a = this.instance as AnalyzerInstance | undefined;
    if (a?.reload && this.state === 'running') {
      const ms = this.options.reloadTimeoutMs ?? this.options.startTimeoutMs;
      try {
        await this.withTimeout(this.call('reload', () => a.reload!()), ms, () => new VigilError('VIGIL_ERR_PLUGIN_RELOAD_TIMEOUT', `plugin ${this.id}: reload() took longer than ${ms} ms`));
      } catch (err) {
        if (err instanceof VigilError && err.code === 'VIGIL_ERR_PLUGIN_RELOAD_TIMEOUT') this.env.report?.(this, 'reload-timeout', err);
        throw err;
      }
    }
  }

  private async withTimeout(p: Promise<void> | void, ms: number, timedOut: () => Error): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        Promise.resolve(p),
        new Promise<void>((_, reject) => {
          timer = setTimeout(() => reject(timedOut()), ms);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Record a failure of the plugin (a throwing handler, a failed loop). Past the threshold
   * since the last (re)start the plugin is restarted with backoff, or detached when the
   * restart window already holds maxRestarts restarts.
   */
  failure(stage: ErrorStage, err: unknown): void {
    this.counters.error(stage, errorKind(err));
    this.lastError = describeError(err);
    this.errorsSinceStart++;
    if (this.errorsSinceStart === 1 || this.errorsSinceStart % 1000 === 0) {
      this.logger.warn({ stage, err: this.lastError, errors: this.errorsSinceStart }, 'plugin error');
    }
    const threshold = stage === 'supervise' ? 1 : this.options.maxErrorsBeforeRestart;
    if (this.state === 'running' && this.errorsSinceStart >= threshold) this.scheduleRestart();
  }

  status(): PluginStatus {
    const s: PluginStatus = {
      id: this.id,
      kind: this.manifest.kind,
      origin: this.origin,
      state: this.state,
      restarts: this.restarts,
      counters: this.counters.snapshot(),
    };
    if (this.lastError !== undefined) s.lastError = this.lastError;
    return s;
  }

  /** After a failed start: try again with backoff, or detach (the same window applies). */
  retryLater(): void {
    this.scheduleRestart();
  }

  private forgetOldRestarts(now: number): void {
    const since = now - this.options.restartWindowMs;
    while (this.restartTimes.length > 0 && this.restartTimes[0]! <= since) this.restartTimes.shift();
  }

  private scheduleRestart(): void {
    if (this.closing) return;
    const now = this.clock.now();
    this.forgetOldRestarts(now);
    if (this.restartTimes.length >= this.options.maxRestarts) {
      this.detach();
      return;
    }
    this.state = 'restarting';
    this.restarts++;
    this.restartTimes.push(now);
    // The backoff grows with the restarts in the window, so a quiet window resets it.
    const delay = this.options.restartBackoffMs * 2 ** (this.restartTimes.length - 1);
    this.logger.warn(
      { restart: this.restarts, in_window: this.restartTimes.length, delay_ms: delay },
      'restarting plugin after repeated failures',
    );
    this.restartTimer = this.clock.setTimeout(() => {
      this.restartTimer = undefined;
      void this.restartNow();
    }, delay);
  }

  private async restartNow(): Promise<void> {
    if (this.closing) return;
    await this.release();
    if (this.closing) return;
    try {
      this.create();
      await this.start();
      if (this.closing) {
        // The agent decided to stop while this restart ran: it does not stay up.
        await this.stop();
        return;
      }
      this.logger.info({ restarts: this.restarts }, 'plugin restarted');
    } catch (err) {
      this.logger.error({ err: describeError(err) }, 'plugin restart failed');
      this.scheduleRestart();
    }
  }

  /** Give up on the plugin: stop it, discard (and count) whatever is sent to it from now on. */
  detach(): void {
    if (this.state === 'detached') return;
    this.state = 'detached';
    this.counters.error('supervise', 'VIGIL_ERR_PLUGIN_DETACHED');
    this.logger.error(
      { restarts: this.restarts, in_window: this.restartTimes.length, window_ms: this.options.restartWindowMs, err: this.lastError },
      `VIGIL_ERR_PLUGIN_DETACHED: plugin ${this.id} failed repeatedly and was detached`,
    );
    this.subscription?.detach();
    void this.release();
    this.onDetached?.();
  }

  /** stop() the instance and run the disposers, each bounded by the stop timeout. */
  private async release(): Promise<void> {
    this.abort.abort();
    const instance = this.instance;
    this.instance = undefined;
    if (instance) await this.bounded('stop()', () => this.call('stop', () => instance.stop()));
    const disposers = this.disposers;
    this.disposers = [];
    while (disposers.length > 0) {
      const d = disposers.pop()!;
      await this.bounded('disposer', () => this.call('disposer', d));
    }
  }

  private async bounded(what: string, fn: () => void | Promise<void>): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        Promise.resolve().then(fn),
        new Promise<void>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`${what} took longer than ${this.options.stopTimeoutMs} ms`)), this.options.stopTimeoutMs);
        }),
      ]);
    } catch (err) {
      this.counters.error('stop', errorKind(err));
      this.lastError = describeError(err);
      this.logger.error({ err: this.lastError }, `VIGIL_ERR_PLUGIN_STOP: ${what} failed`);
    } finally {
      clearTimeout(timer);
    }
  }
}
