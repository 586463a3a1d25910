/**
 * A recording plugin context for tests, built by the kernel's own context factory
 * (core/plugin/context.ts) with sinks that record instead of publishing.
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { container as rootContainer } from 'tsyringe';
import { VigilError, errorKind } from '../core/errors/index.js';
import type { ActionResult, DetectionDraft } from '../core/events/detection.js';
import type { EventDraft } from '../core/events/event.js';
import { deepFreeze } from '../core/events/freeze.js';
import { admitDraft, createInstance, createPluginContext, preparePluginConfig } from '../core/plugin/context.js';
import { createPluginContainer, type ServiceProviders } from '../core/plugin/services.js';
import type {
  AnalyzerContext,
  AnalyzerPlugin,
  Disposer,
  PluginContext,
  PluginInstance,
  PluginManifest,
  ResponderContext,
  ResponderPlugin,
  SensorContext,
  SensorPlugin,
  VigilPlugin,
} from '../core/plugin/types.js';
import { ProcessTable } from '../core/process-table/process-table.js';
import { PluginCounters } from '../core/telemetry/counters.js';
import { silentLogger, type Logger } from '../core/telemetry/logger.js';
import { WorkerPool } from '../core/workers/worker-pool.js';

/** Anything with a manifest: a plugin, or the manifest wrapped as `{ manifest }`. */
export interface HasManifest {
  readonly manifest: PluginManifest;
}

/** One line a plugin logged (pino's JSON object). */
export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export interface RecordingOptions {
  /** The config block as an operator writes it; validated and completed as the kernel does. */
  config?: object;
  /** Folder relative config paths resolve against (default: the working directory). */
  baseDir?: string;
  /** The plugin's state folder (default: a fresh temporary folder, made on first use). */
  dataDir?: string;
  /** Host name of the context (default `test-host`). */
  hostName?: string;
  /** Services over the kit's defaults (a real process table and worker pool, plain memory blocks). */
  services?: ServiceProviders;
  /** Keep what the plugin logs at this level and above in `logs` (default: log nothing). */
  logLevel?: pino.LevelWithSilent;
  /**
   * Called with every accepted draft and how many were accepted so far. A Promise returned
   * is what `emit` returns to the plugin: a full queue, for replay sensors.
   */
  onEmit?: (draft: EventDraft, count: number) => unknown;
  /** Bound on each disposer in `dispose()`, as the agent's stop timeout (default 5000 ms). */
  stopTimeoutMs?: number;
}

/** A context as the kernel builds it, plus what the plugin did with it. */
export interface Recording<X extends PluginContext = PluginContext> {
  readonly ctx: X;
  /** Drafts accepted by `emit` (declared type, valid type and time), in order. */
  readonly emitted: EventDraft[];
  /** Types emitted that the manifest does not declare (each also threw, as the core does). */
  readonly undeclared: string[];
  readonly detections: DetectionDraft[];
  /** Action results, frozen as the core freezes them. */
  readonly results: ActionResult[];
  /** Errors handed to `ctx.fail` (the agent would restart the plugin). */
  readonly failures: unknown[];
  /** Disposers registered and not yet run. */
  readonly disposers: Disposer[];
  readonly counters: PluginCounters;
  /** Log lines, when `logLevel` was given. */
  readonly logs: LogLine[];
  /** How many times the plugin called `finished()`. */
  readonly finishedCalls: number;
  /** Resolves at the first `finished()`. */
  readonly whenFinished: Promise<void>;
  /** Abort `ctx.signal`, as the core does when it stops the plugin. */
  abort(): void;
  /**
   * What the core does after the instance's stop(): abort, then run the disposers last in
   * first out, each bounded by the stop timeout. Every disposer runs; failures are counted
   * (`stop:<kind>`) as the core counts them, and then rejected together.
   */
  dispose(): Promise<void>;
  /** The first accepted draft matching `pred`, waiting for it up to `timeoutMs`. */
  waitFor(pred: (draft: EventDraft) => boolean, timeoutMs?: number): Promise<EventDraft>;
}

/**
 * Validate a config block with the plugin's schema exactly as the kernel does (a copy,
 * defaults applied, frozen). Invalid: VIGIL_ERR_PLUGIN_CONFIG listing every finding at its
 * config path (`/plugins/<id>/config/<key>`).
 */
export function pluginConfig<C = Record<string, unknown>>(plugin: HasManifest, block: object = {}): Readonly<C> {
  const m = plugin.manifest;
  const { config, findings } = preparePluginConfig(m, block);
  if (findings.length > 0) {
    const lines = findings.map((f) => `/plugins/${m.id}/config${f.path === '/' ? '' : f.path}: expected ${f.expected}, found ${f.found}`);
    throw new VigilError('VIGIL_ERR_PLUGIN_CONFIG', `invalid config for plugin ${m.id}:\n  ${lines.join('\n  ')}`, { details: { plugin: m.id, findings } });
  }
  return config as Readonly<C>;
}

/** The services the kit hands a plugin that declares them, each made on first resolve. */
function defaultServices(cleanups: Array<() => Promise<void> | void>): ServiceProviders {
  return {
    'worker-pool': () => {
      const pool = new WorkerPool({ maxThreads: 2, maxQueue: 1000, taskTimeoutMs: 30_000 });
      cleanups.push(() => pool.close());
      return pool;
    },
    'process-table': () => new ProcessTable(),
  };
}

function captureLogger(level: pino.LevelWithSilent, logs: LogLine[]): Logger {
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb): void {
      logs.push(JSON.parse(chunk.toString()) as LogLine);
      cb();
    },
  });
  return pino({ level }, stream);
}

async function bounded(fn: () => void | Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      Promise.resolve().then(fn),
      new Promise<void>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`disposer took longer than ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export function recordingContext<C>(plugin: SensorPlugin<C>, options?: RecordingOptions): Recording<SensorContext<C>>;
export function recordingContext<C>(plugin: AnalyzerPlugin<C>, options?: RecordingOptions): Recording<AnalyzerContext<C>>;
export function recordingContext<C>(plugin: ResponderPlugin<C>, options?: RecordingOptions): Recording<ResponderContext<C>>;
export function recordingContext<C = Record<string, unknown>>(plugin: HasManifest, options?: RecordingOptions): Recording<PluginContext<C>>;
/**
 * The context the kernel would give `plugin` (same factory, same config validation, a
 * container with the declared services), with sinks that record what the plugin does.
 * An invalid config throws VIGIL_ERR_PLUGIN_CONFIG; a declared service the core does not
 * offer throws VIGIL_ERR_PLUGIN_SERVICE.
 */
export function recordingContext(plugin: HasManifest, options: RecordingOptions = {}): Recording {
  const m = plugin.manifest;
  const config = pluginConfig(plugin, options.config ?? {});
  const cleanups: Array<() => Promise<void> | void> = [];
  const services = { ...defaultServices(cleanups), ...(options.services ?? {}) };
  const pluginContainer = createPluginContainer(rootContainer, m, services);
  const logs: LogLine[] = [];
  const logger = (options.logLevel ? captureLogger(options.logLevel, logs) : silentLogger()).child({ plugin: m.id });
  const counters = new PluginCounters();
  const controller = new AbortController();
  const produces = new Set(m.produces);
  const emitted: EventDraft[] = [];
  const undeclared: string[] = [];
  const detections: DetectionDraft[] = [];
  const results: ActionResult[] = [];
  const failures: unknown[] = [];
  const disposers: Disposer[] = [];
  let finishedCalls = 0;
  let finish: () => void = () => undefined;
  const whenFinished = new Promise<void>((r) => (finish = r));
  const stopTimeoutMs = options.stopTimeoutMs ?? 5000;

  const emit = (draft: EventDraft): Promise<void> | undefined => {
    try {
      if (!admitDraft(m.id, produces, counters, draft)) return undefined;
    } catch (err) {
      undeclared.push(draft.type);
      throw err;
    }
    counters.emitted++; // as the kernel counts every accepted event
    emitted.push(draft);
    const back = options.onEmit?.(draft, emitted.length);
    return back instanceof Promise ? (back as Promise<void>) : undefined;
  };
  const ctx = createPluginContext({
    manifest: m,
    config,
    logger,
    counters,
    signal: controller.signal,
    container: pluginContainer,
    dataDir: options.dataDir ?? join(tmpdir(), `vigil-test-${m.id}-${randomBytes(6).toString('hex')}`),
    baseDir: options.baseDir ?? process.cwd(),
    hostName: options.hostName ?? 'test-host',
    defer: (d) => {
      disposers.push(d);
    },
    fail: (err) => {
      failures.push(err);
    },
    sinks: {
      emit,
      finished: () => {
        finishedCalls++;
        finish();
      },
      detect: (d) => {
        counters.emitted++;
        detections.push(d);
      },
      result: (r) => {
        results.push(deepFreeze(r));
      },
    },
  });

  return {
    ctx,
    emitted,
    undeclared,
    detections,
    results,
    failures,
    disposers,
    counters,
    logs,
    get finishedCalls() {
      return finishedCalls;
    },
    whenFinished,
    abort: () => controller.abort(),
    async dispose() {
      controller.abort();
      const errors: unknown[] = [];
      while (disposers.length > 0) {
        const d = disposers.pop()!;
        try {
          await bounded(d, stopTimeoutMs);
        } catch (err) {
          counters.error('stop', errorKind(err));
          errors.push(err);
        }
      }
      while (cleanups.length > 0) await cleanups.pop()!();
      if (errors.length > 0) throw new AggregateError(errors, `${errors.length} disposer(s) of ${m.id} failed`);
    },
    waitFor(pred, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const deadline = Date.now() + timeoutMs;
        const check = (): void => {
          const hit = emitted.find(pred);
          if (hit) resolve(hit);
          else if (Date.now() > deadline) reject(new Error(`no matching event within ${timeoutMs} ms`));
          else setTimeout(check, 10);
        };
        check();
      });
    },
  };
}

/**
 * Create the plugin's instance in a recording context the way the kernel does: create(),
 * then the check that the instance implements what the manifest declares
 * (VIGIL_ERR_PLUGIN_CAPABILITY).
 */
export function instantiate<P extends VigilPlugin>(plugin: P, recording: Recording): ReturnType<P['create']> & PluginInstance {
  return createInstance(plugin, recording.ctx) as ReturnType<P['create']> & PluginInstance;
}
