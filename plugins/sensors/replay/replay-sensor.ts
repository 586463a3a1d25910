/**
 * The replay sensor instance: reads recorded telemetry in the background after start(),
 * emits with back-pressure, and calls finished() when every path is done.
 */
import type { EventDraft, SensorContext, SensorInstance } from '../../../core/index.js';
import { REPLAY_FORMATS, type ReplayConfig } from './config.js';
import { discoverFiles, type ReplayFile } from './discover.js';
import { mergeByTime } from './merge.js';
import { kindOf, messageOf, ReplayEnv } from './replay-env.js';
import { draftsOf } from './sources.js';

type State = 'idle' | 'running' | 'finished' | 'stopped' | 'failed';

function isAbort(err: unknown, signal: AbortSignal): boolean {
  return signal.aborted || (err instanceof Error && err.name === 'AbortError');
}

/** Resolves when `p` settles or the signal aborts, whichever is first. */
function untilSettledOrAborted(p: Promise<void>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => resolve();
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

export class ReplaySensor implements SensorInstance {
  private readonly stopper = new AbortController();
  private run: Promise<void> | undefined;
  private state: State = 'idle';
  private filesTotal = 0;
  private filesDone = 0;
  private filesFailed = 0;

  constructor(private readonly ctx: SensorContext<ReplayConfig>) {}

  start(): Promise<void> {
    if (this.run === undefined && this.state === 'idle') {
      this.state = 'running';
      // start() only launches the replay: a long replay must not hit the start timeout.
      this.run = this.replay().catch((err: unknown) => {
        // Nothing may escape unrecorded; the replay itself reports per file.
        this.state = 'failed';
        this.ctx.logger.error({ err }, `replay failed: ${messageOf(err)}`);
        this.ctx.fail(err);
      });
    }
    return Promise.resolve();
  }

  async stop(): Promise<void> {
    this.stopper.abort();
    if (this.state === 'idle' || this.state === 'running') this.state = 'stopped';
    await this.run;
  }

  summary(): Readonly<Record<string, unknown>> {
    const c = this.ctx.counters;
    return {
      state: this.state,
      files_total: this.filesTotal,
      files_done: this.filesDone,
      files_failed: this.filesFailed,
      received: c.received,
      emitted: c.emitted,
    };
  }

  private async replay(): Promise<void> {
    const { ctx } = this;
    const cfg = ctx.config;
    // The core's signal (plugin stopping) and our own stop() both end the replay.
    const signal = this.stopper.signal;
    const onCoreAbort = (): void => this.stopper.abort();
    if (ctx.signal.aborted) this.stopper.abort();
    else ctx.signal.addEventListener('abort', onCoreAbort, { once: true });
    const env = new ReplayEnv(ctx.counters, ctx.logger, signal, cfg.channels);
    try {
      const paths = cfg.paths.map((p) => ctx.resolvePath(p));
      const found = await discoverFiles(paths, cfg.formats ?? REPLAY_FORMATS, signal);
      for (const p of found.problems) {
        if (p.reason === 'format_disabled') {
          ctx.counters.discard('format_disabled', 1, true);
          ctx.logger.info({ file: p.path }, `${p.path}: skipped, ${p.message}`);
        } else {
          this.filesFailed++;
          ctx.counters.discard(p.reason === 'unsupported_format' ? 'unsupported_format' : 'file_unreadable');
          ctx.counters.error('receive', `read:${p.code ?? p.reason}`);
          ctx.logger.warn({ file: p.path, code: p.code }, `${p.path}: ${p.message}`);
        }
      }
      if (found.skipped > 0) ctx.counters.add('files_skipped', found.skipped);
      this.filesTotal = found.files.length;
      ctx.counters.set('files_total', found.files.length);
      if (found.files.length === 0) ctx.logger.warn({ paths }, 'replay: no files to replay in the configured paths');

      if (cfg.merge_by_time) await this.replayMerged(found.files, env, signal);
      else await this.replaySequential(found.files, env, signal);
    } catch (err) {
      if (!isAbort(err, signal)) throw err;
    } finally {
      ctx.signal.removeEventListener('abort', onCoreAbort);
    }
    if (signal.aborted) {
      this.state = 'stopped';
      return;
    }
    this.state = 'finished';
    ctx.logger.info(this.summary(), 'replay finished');
    ctx.finished();
  }

  /**
   * Emit one draft. Returns a Promise only when the core's queue is full (back-pressure),
   * so that the common path stays synchronous.
   */
  private emit(draft: EventDraft, file: string, env: ReplayEnv, signal: AbortSignal): Promise<void> | undefined {
    const { ctx } = this;
    let p: Promise<void> | undefined;
    try {
      p = ctx.emit(draft);
    } catch (err) {
      // E.g. a JSONL event of a type this sensor does not declare.
      ctx.counters.discard('emit_rejected');
      // The core counts its own refusal of an undeclared type; count only what it did not.
      if (kindOf(err) !== 'VIGIL_ERR_PLUGIN_UNDECLARED_TYPE') ctx.counters.error('send', kindOf(err));
      env.warn(file, `event of type ${draft.type}`, `refused: ${messageOf(err)}`);
      return undefined;
    }
    // `emitted` is counted by the core for every event it accepts.
    return p ? untilSettledOrAborted(p, signal) : undefined;
  }

  private fileFailed(file: ReplayFile, err: unknown): void {
    this.filesFailed++;
    this.ctx.counters.discard('file_unreadable');
    this.ctx.counters.error('receive', `read:${kindOf(err)}`);
    this.ctx.logger.warn({ file: file.path, err }, `${file.path}: cannot replay: ${messageOf(err)}`);
  }

  private async replaySequential(files: readonly ReplayFile[], env: ReplayEnv, signal: AbortSignal): Promise<void> {
    for (const file of files) {
      if (signal.aborted) return;
      this.ctx.counters.add('files');
      try {
        for await (const batch of draftsOf(file.format, file.path, env, { maxLineBytes: this.ctx.config.max_line_bytes })) {
          for (const d of batch) {
            if (signal.aborted) return;
            const p = this.emit(d, file.path, env, signal);
            if (p) await p;
          }
        }
        this.filesDone++;
      } catch (err) {
        if (isAbort(err, signal)) return;
        this.fileFailed(file, err);
      } finally {
        env.fileDone(file.path);
      }
    }
  }

  private async replayMerged(files: readonly ReplayFile[], env: ReplayEnv, signal: AbortSignal): Promise<void> {
    const streams = files.map((f) => {
      this.ctx.counters.add('files');
      return draftsOf(f.format, f.path, env, { maxLineBytes: this.ctx.config.max_line_bytes });
    });
    const merged = mergeByTime(
      streams,
      (i, err) => {
        const f = files[i] as ReplayFile;
        env.fileDone(f.path);
        if (!isAbort(err, signal)) this.fileFailed(f, err);
      },
      (i) => {
        this.filesDone++;
        env.fileDone((files[i] as ReplayFile).path);
      },
    );
    for await (const d of merged) {
      if (signal.aborted) return;
      const p = this.emit(d, 'merged replay', env, signal);
      if (p) await p;
    }
  }
}
