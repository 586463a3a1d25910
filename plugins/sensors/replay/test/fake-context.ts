/**
 * A SensorContext for tests: real counters, a logger that keeps what it writes, an emit
 * that records drafts, checks declared types like the core does and can simulate a full
 * queue (every emit returns a Promise resolved later).
 */
import 'reflect-metadata';
import { container } from 'tsyringe';
import { resolve } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { type EventDraft, type Disposer, type SensorContext, PluginCounters } from '../../../../core/index.js';

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export interface FakeSensorContext<C> extends SensorContext<C> {
  readonly drafts: EventDraft[];
  readonly logs: LogLine[];
  /** Resolves when finished() is called. */
  readonly whenFinished: Promise<void>;
  finishedCalls: number;
  /** Errors passed to fail(). */
  readonly failures: unknown[];
  /** Abort the core's signal, as the core does when stopping the plugin. */
  abortCore(): void;
}

export interface FakeOptions {
  produces: readonly string[];
  /** Return a Promise from every emit, resolved after this many ms (a full queue). */
  backPressureMs?: number;
  /** Called for every accepted draft (e.g. to stop mid-replay). */
  onEmit?: (draft: EventDraft, count: number) => void;
  /** Folder relative config paths resolve against (default: the working directory). */
  baseDir?: string;
}

export function fakeSensorContext<C>(config: C, opts: FakeOptions): FakeSensorContext<C> {
  const logs: LogLine[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb): void {
      logs.push(JSON.parse(chunk.toString()) as LogLine);
      cb();
    },
  });
  const logger = pino({ level: 'debug' }, stream);
  const drafts: EventDraft[] = [];
  const declared = new Set(opts.produces);
  const core = new AbortController();
  const disposers: Disposer[] = [];
  let finish: () => void = () => undefined;
  const whenFinished = new Promise<void>((r) => (finish = r));
  const ctx: FakeSensorContext<C> = {
    id: 'replay',
    config: Object.freeze(config),
    logger,
    counters: new PluginCounters(),
    signal: core.signal,
    container: container.createChildContainer(),
    defer(d: Disposer): void {
      disposers.push(d);
    },
    dataDir: '/nonexistent',
    hostName: 'test-host',
    drafts,
    logs,
    whenFinished,
    finishedCalls: 0,
    failures: [],
    resolvePath: (p: string) => resolve(opts.baseDir ?? process.cwd(), p),
    fail(err: unknown): void {
      ctx.failures.push(err);
    },
    abortCore: () => core.abort(),
    emit(draft: EventDraft): Promise<void> | undefined {
      if (!declared.has(draft.type)) {
        const err = new Error(`type ${draft.type} not declared`) as Error & { code: string };
        err.code = 'VIGIL_ERR_PLUGIN_UNDECLARED_TYPE';
        throw err;
      }
      drafts.push(draft);
      ctx.counters.emitted++; // as the core does for every accepted event
      opts.onEmit?.(draft, drafts.length);
      if (opts.backPressureMs === undefined) return undefined;
      // Unref: a test that stops while "blocked" must not be kept alive by the timer.
      return new Promise((r) => setTimeout(r, opts.backPressureMs).unref());
    },
    finished(): void {
      ctx.finishedCalls++;
      finish();
    },
  };
  return ctx;
}
