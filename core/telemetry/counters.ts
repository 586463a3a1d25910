/**
 * Per-plugin accounting (DESIGN.md §5): received, emitted, errors by stage and kind,
 * discarded by reason (intended or not). Plain numbers and maps: cheap on the hot path.
 */
export interface DiscardKey {
  reason: string;
  intended: boolean;
}

/** An error that belongs to one file (a rule file that does not load), kept for status. */
export interface FileError {
  stage: string;
  kind: string;
  file: string;
  reason: string;
}

/** File errors kept per plugin; past this only the counts grow. */
export const MAX_FILE_ERRORS = 100;

export interface CountersSnapshot {
  received: number;
  emitted: number;
  errors: Record<string, number>;
  discarded: Record<string, { count: number; intended: boolean }>;
  /** Free-form gauges and counters a plugin adds (e.g. `rules_loaded`). */
  custom: Record<string, number>;
  /** Which files the file errors came from (distinct, the first MAX_FILE_ERRORS). */
  file_errors: FileError[];
}

export class PluginCounters {
  received = 0;
  emitted = 0;
  private readonly errors = new Map<string, number>();
  private readonly discarded = new Map<string, { count: number; intended: boolean }>();
  private readonly custom = new Map<string, number>();
  private readonly fileErrors = new Map<string, FileError>();

  /** Count an error at a stage (`start`, `event`, `parse` …) of a kind (`TypeError`, a code). */
  error(stage: string, kind: string, n = 1): void {
    const key = `${stage}:${kind}`;
    this.errors.set(key, (this.errors.get(key) ?? 0) + n);
  }

  /**
   * Count an error at a stage that one file caused, and remember the file and the reason so
   * that `vigil status` and the replay summary can name it (the same file and reason, seen
   * again on a reload, is listed once).
   */
  fileError(stage: string, kind: string, file: string, reason: string): void {
    this.error(stage, kind);
    const key = `${stage}\0${kind}\0${file}\0${reason}`;
    if (this.fileErrors.size < MAX_FILE_ERRORS && !this.fileErrors.has(key)) this.fileErrors.set(key, { stage, kind, file, reason });
  }

  /** Count items dropped with a reason; `intended` marks filtering as opposed to loss. */
  discard(reason: string, n = 1, intended = false): void {
    const cur = this.discarded.get(reason);
    if (cur) cur.count += n;
    else this.discarded.set(reason, { count: n, intended });
  }

  /** Add to a named counter. */
  add(name: string, n = 1): void {
    this.custom.set(name, (this.custom.get(name) ?? 0) + n);
  }

  /** Set a named gauge. */
  set(name: string, value: number): void {
    this.custom.set(name, value);
  }

  get errorTotal(): number {
    let t = 0;
    for (const v of this.errors.values()) t += v;
    return t;
  }

  /** Lost items (not intended discards). */
  get lostTotal(): number {
    let t = 0;
    for (const v of this.discarded.values()) if (!v.intended) t += v.count;
    return t;
  }

  snapshot(): CountersSnapshot {
    return {
      received: this.received,
      emitted: this.emitted,
      errors: Object.fromEntries(this.errors),
      discarded: Object.fromEntries([...this.discarded].map(([k, v]) => [k, { ...v }])),
      custom: Object.fromEntries(this.custom),
      file_errors: [...this.fileErrors.values()].map((f) => ({ ...f })),
    };
  }
}
