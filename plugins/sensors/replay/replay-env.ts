/**
 * Per-run bookkeeping shared by the sources: counting, rate-limited reporting of bad input
 * and the channel filter. Every record read is `received`; each ends up emitted or
 * discarded with a reason, so received = emitted + discarded.
 */
import type { EventDraft, Logger, PluginCounters } from '../../../core/index.js';
import { normalizeWindowsEvent, type WindowsRecord } from '../../../lib/windows/index.js';

/** Warnings logged per file before the rest are only counted. */
export const WARNINGS_PER_FILE = 10;

export class ReplayEnv {
  private readonly warned = new Map<string, number>();
  private readonly channels: ReadonlySet<string> | undefined;

  constructor(
    readonly counters: PluginCounters,
    readonly logger: Logger,
    readonly signal: AbortSignal,
    channels: readonly string[] | undefined,
  ) {
    this.channels = channels && channels.length > 0 ? new Set(channels.map((c) => c.toLowerCase())) : undefined;
  }

  /** One record read from a source. */
  record(): void {
    this.counters.received++;
    this.counters.add('records');
  }

  /** Log a problem in a file, at most WARNINGS_PER_FILE times per file. */
  warn(file: string, where: string, message: string): void {
    const n = (this.warned.get(file) ?? 0) + 1;
    this.warned.set(file, n);
    if (n <= WARNINGS_PER_FILE) this.logger.warn({ file, at: where }, `${file} (${where}): ${message}`);
  }

  /** End of a file: say how many problems were counted but not logged. */
  fileDone(file: string): void {
    const n = this.warned.get(file) ?? 0;
    if (n > WARNINGS_PER_FILE) {
      this.logger.warn({ file, problems: n }, `${file}: ${n - WARNINGS_PER_FILE} more problems counted but not logged (${n} in all)`);
    }
    this.warned.delete(file);
  }

  /** A record that cannot be replayed: reported, counted as discarded and as an error. */
  bad(file: string, where: string, reason: string, kind: string, message: string): void {
    this.counters.discard(reason);
    this.counters.error('receive', `parse:${kind}`);
    this.warn(file, where, message);
  }

  /** False (and counted as an intended discard) when the channel filter rejects it. */
  channelAllowed(channel: unknown): boolean {
    if (this.channels === undefined) return true;
    if (typeof channel === 'string' && this.channels.has(channel.toLowerCase())) return true;
    this.counters.discard('channel_filtered', 1, true);
    return false;
  }

  /** Filter and normalize a Windows record; undefined when filtered out. */
  windows(rec: WindowsRecord): EventDraft | undefined {
    if (!this.channelAllowed(rec.system.Channel)) return undefined;
    const d = normalizeWindowsEvent(rec);
    if (d.time === 0) this.counters.add('records_without_time');
    return d;
  }
}

/** The text of an unknown thrown value. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A short, stable kind for an error (its code, else its class name). */
export function kindOf(err: unknown): string {
  if (typeof err === 'object' && err !== null) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && code.length > 0) return code;
    if (err instanceof Error) return err.name;
  }
  return 'unknown';
}
