import { SEVERITIES, type Detection, type Severity, type ResponderContext, type ResponderInstance, errorKind } from '../../../core/index.js';
import type { ConsoleConfig } from './config.js';
import { createPalette, formatDetection, type Palette } from './format.js';

/** The part of a Node writable the console responder needs (process.stdout, a test sink …). */
export interface ConsoleOutput {
  write(chunk: string, callback: (err?: Error | null) => void): boolean;
  once(event: 'drain' | 'close' | 'error', listener: (...args: unknown[]) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  off(event: 'drain' | 'close' | 'error', listener: (...args: unknown[]) => void): unknown;
  readonly isTTY?: boolean;
  readonly destroyed?: boolean;
  readonly writableNeedDrain?: boolean;
}

const RANK: Readonly<Record<Severity, number>> = Object.freeze(
  Object.fromEntries(SEVERITIES.map((s, i) => [s, i])) as Record<Severity, number>,
);


/** Decides colour from the mode and the actual stream (NO_COLOR is honoured in `auto`). */
export function colorEnabled(mode: ConsoleConfig['color'], out: { readonly isTTY?: boolean }, env = process.env): boolean {
  if (mode === 'always') return true;
  if (mode === 'never') return false;
  return out.isTTY === true && (env['NO_COLOR'] === undefined || env['NO_COLOR'] === '');
}

type State = 'created' | 'running' | 'stopped';

/**
 * Prints detections for a human watching the agent. `output` replaces the configured
 * process stream (embedding, tests); it is resolved in `start`, never in the constructor.
 */
export class ConsoleResponder implements ResponderInstance {
  private readonly config: ConsoleConfig;
  private readonly minRank: number;
  private state: State = 'created';
  private out: ConsoleOutput | undefined;
  private palette: Palette = createPalette(false);
  private readonly pending = new Set<Promise<void>>();
  private readonly onStreamError = (err: Error): void => {
    // Write callbacks count the lost lines; this listener only keeps an EPIPE from
    // becoming an uncaught 'error' event that would take the agent down.
    this.ctx.logger.warn({ err: errorKind(err) }, 'console output stream failed');
  };

  constructor(
    private readonly ctx: ResponderContext<ConsoleConfig>,
    private readonly output?: ConsoleOutput,
  ) {
    this.config = ctx.config; // validated, with defaults, and frozen by the core
    this.minRank = RANK[this.config.min_severity];
  }

  start(): Promise<void> {
    if (this.state !== 'created') return Promise.resolve();
    const out: ConsoleOutput = this.output ?? (this.config.stream === 'stderr' ? process.stderr : process.stdout);
    out.on('error', this.onStreamError);
    this.ctx.defer(() => {
      out.off('error', this.onStreamError as (...args: unknown[]) => void);
    });
    this.out = out;
    this.palette = createPalette(colorEnabled(this.config.color, out));
    this.state = 'running';
    return Promise.resolve();
  }

  onDetections(batch: readonly Detection[]): Promise<void> | void {
    const out = this.out;
    if (this.state !== 'running' || out === undefined) {
      this.ctx.counters.discard('plugin_not_running', batch.length);
      return;
    }
    let text = '';
    let lines = 0;
    let below = 0;
    for (const d of batch) {
      const rank = RANK[d.severity];
      if (rank === undefined || rank < this.minRank) {
        if (rank === undefined) {
          this.ctx.counters.error('process', 'format:bad_severity');
          this.ctx.counters.discard('bad_severity', 1);
        } else below += 1;
        continue;
      }
      try {
        text += formatDetection(d, this.palette);
        lines += 1;
      } catch (err) {
        this.ctx.counters.error('process', `format:${errorKind(err)}`);
        this.ctx.counters.discard('unserializable', 1);
      }
    }
    if (below > 0) this.ctx.counters.discard('below_min_severity', below, true);
    if (lines === 0) return;
    return this.write(out, text, lines);
  }

  private write(out: ConsoleOutput, text: string, count: number): Promise<void> | void {
    let settle!: () => void;
    const done = new Promise<void>((resolve) => (settle = resolve));
    this.pending.add(done);
    let ok: boolean;
    try {
      ok = out.write(text, (err) => {
        if (err) {
          this.ctx.counters.error('send', `write:${errorKind(err)}`);
          this.ctx.counters.discard('write_error', count);
        } else {
          this.ctx.counters.emitted += count;
        }
        this.pending.delete(done);
        settle();
      });
    } catch (err) {
      // A destroyed stream may throw synchronously instead of calling back.
      this.ctx.counters.error('send', `write:${errorKind(err)}`);
      this.ctx.counters.discard('write_error', count);
      this.pending.delete(done);
      settle();
      return;
    }
    // Back-pressure: the bus waits for a slow terminal or pipe instead of buffering without bound.
    if (!ok) return waitDrain(out);
  }

  async flush(): Promise<void> {
    await Promise.all([...this.pending]);
  }

  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    const wasRunning = this.state === 'running';
    this.state = 'stopped';
    if (!wasRunning) return;
    await this.flush();
    this.out?.off('error', this.onStreamError as (...args: unknown[]) => void);
    this.out = undefined;
  }
}

function waitDrain(out: ConsoleOutput): Promise<void> {
  // A destroyed stream never drains; its write callbacks already carry the error.
  if (out.destroyed === true || out.writableNeedDrain === false) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = (): void => {
      out.off('drain', done);
      out.off('close', done);
      out.off('error', done);
      resolve();
    };
    out.once('drain', done);
    out.once('close', done);
    out.once('error', done);
  });
}
