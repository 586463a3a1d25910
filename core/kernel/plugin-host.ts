import { isAbsolute, join, resolve } from 'node:path';
import type { DependencyContainer } from 'tsyringe';
import { VigilError, describeError, errorKind } from '../errors/index.js';
import { ensurePrivateDir } from '../private-files.js';
import type { Logger } from '../telemetry/logger.js';
import { PluginCounters } from '../telemetry/counters.js';
import type { Subscription } from '../bus/index.js';
import type {
  AnalyzerInstance,
  Disposer,
  PluginInstance,
  PluginManifest,
  ResponderInstance,
  VigilPlugin,
} from '../plugin/types.js';

export type PluginState = 'created' | 'starting' | 'running' | 'restarting' | 'stopping' | 'stopped' | 'detached';

export interface HostOptions {
  startTimeoutMs: number;
  stopTimeoutMs: number;
  maxRestarts: number;
  restartBackoffMs: number;
  maxErrorsBeforeRestart: number;
}

/** The pieces the kernel hands each host to build a context. */
export interface HostEnv {
  logger: Logger;
  container: DependencyContainer;
  dataDir: string;
  baseDir: string;
  hostName: string;
  /** Builds the kind-specific sink part of the context. */
  sinks(host: PluginHost): Record<string, unknown>;
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
 * after `maxRestarts`. Counters survive restarts.
 */
export class PluginHost {
  readonly counters = new PluginCounters();
  readonly logger: Logger;
  state: PluginState = 'created';
  restarts = 0;
  lastError: string | undefined;
  instance: PluginInstance | undefined;
  subscription: Subscription | undefined;
  private abort = new AbortController();
  private disposers: Disposer[] = [];
  private errorsSinceStart = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private readonly container: DependencyContainer;
  /** Called when the plugin is detached (the kernel unsubscribes, marks sources finished). */
  onDetached: (() => void) | undefined;

  constructor(
    readonly plugin: VigilPlugin,
    readonly origin: string,
    readonly config: Readonly<Record<string, unknown>>,
    private readonly env: HostEnv,
    private readonly options: HostOptions,
  ) {
    this.logger = env.logger.child({ plugin: plugin.manifest.id });
    this.container = env.container.createChildContainer();
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

  /** Create the instance (no I/O by contract). */
  create(): void {
    this.abort = new AbortController();
    this.disposers = [];
    const dataDir = join(this.env.dataDir, 'plugins', this.id);
    const ctx = {
      id: this.id,
      config: this.config,
      logger: this.logger,
      counters: this.counters,
      signal: this.abort.signal,
      container: this.container,
      defer: (d: Disposer) => {
        this.disposers.push(d);
      },
      get dataDir(): string {
        return ensurePrivateDir(dataDir, this.logger);
      },
      hostName: this.env.hostName,
      resolvePath: (p: string) => (isAbsolute(p) ? p : resolve(this.env.baseDir, p)),
      fail: (err: unknown) => this.failure('runtime', err),
      ...this.env.sinks(this),
    };
    try {
      // The plugin's factory gets the context shaped for its kind by env.sinks().
      this.instance = (this.plugin.create as (c: unknown) => PluginInstance)(ctx);
    } catch (cause) {
      this.counters.error('create', errorKind(cause));
      throw new VigilError('VIGIL_ERR_PLUGIN_CREATE', `plugin ${this.id}: create() threw: ${describeError(cause)}`, { cause });
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
    try {
      await Promise.race([instance.start(), timeout]);
      this.state = 'running';
    } catch (cause) {
      this.counters.error('start', errorKind(cause));
      this.lastError = describeError(cause);
      await this.release();
      this.state = 'stopped';
      if (cause instanceof VigilError && cause.code === 'VIGIL_ERR_PLUGIN_START_TIMEOUT') throw cause;
      throw new VigilError('VIGIL_ERR_PLUGIN_START', `plugin ${this.id}: start() failed: ${describeError(cause)}`, { cause });
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stop: abort, stop() with timeout, then the disposers LIFO. Idempotent. */
  async stop(): Promise<void> {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    if (this.state === 'stopped' || this.state === 'detached') {
      await this.release();
      return;
    }
    this.state = 'stopping';
    await this.release();
    this.state = 'stopped';
  }

  /** Flush a responder's buffered output. */
  async flush(): Promise<void> {
    const r = this.instance as ResponderInstance | undefined;
    if (r?.flush && this.state === 'running') {
      try {
        await r.flush();
      } catch (err) {
        this.counters.error('flush', errorKind(err));
        this.logger.error({ err: describeError(err) }, 'flush failed');
      }
    }
  }

  /** Ask an analyzer to reload its content. */
  async reload(): Promise<void> {
    const a = this.instance as AnalyzerInstance | undefined;
    if (a?.reload && this.state === 'running') await a.reload();
  }

  /**
   * Record a failure of the plugin (a throwing handler, a failed loop). Past the threshold
   * since the last (re)start the plugin is restarted with backoff; past maxRestarts detached.
   */
  failure(stage: string, err: unknown): void {
    this.counters.error(stage, errorKind(err));
    this.lastError = describeError(err);
    this.errorsSinceStart++;
    if (this.errorsSinceStart === 1 || this.errorsSinceStart % 1000 === 0) {
      this.logger.warn({ stage, err: this.lastError, errors: this.errorsSinceStart }, 'plugin error');
    }
    const threshold = stage === 'runtime' ? 1 : this.options.maxErrorsBeforeRestart;
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

  /** After a failed start: try again with backoff, detach past maxRestarts. */
  retryLater(): void {
    this.scheduleRestart();
  }

  private scheduleRestart(): void {
    if (this.restarts >= this.options.maxRestarts) {
      this.detach();
      return;
    }
    this.state = 'restarting';
    this.restarts++;
    const delay = this.options.restartBackoffMs * 2 ** (this.restarts - 1);
    this.logger.warn({ restart: this.restarts, delay_ms: delay }, 'restarting plugin after repeated failures');
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      void this.restartNow();
    }, delay);
  }

  private async restartNow(): Promise<void> {
    await this.release();
    try {
      this.create();
      await this.start();
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
    this.counters.error('supervisor', 'VIGIL_ERR_PLUGIN_DETACHED');
    this.logger.error(
      { restarts: this.restarts, err: this.lastError },
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
    if (instance) await this.bounded('stop()', () => instance.stop());
    const disposers = this.disposers;
    this.disposers = [];
    while (disposers.length > 0) {
      const d = disposers.pop()!;
      await this.bounded('disposer', d);
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
