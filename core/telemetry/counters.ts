/**
 * Per-plugin accounting (DESIGN.md §5): received, emitted, errors by stage and kind,
 * discarded by reason (intended or not). Plain numbers and maps: cheap on the hot path.
 */

/**
 * Where in a plugin's life an error happened: a closed set, so that every plugin's errors
 * read the same way in `vigil status`, the metrics file and Prometheus. The detail (which
 * step, which error) goes into the kind: `receive:read:ENOENT`, `send:write:EPIPE`.
 */
export const ERROR_STAGES = ['load', 'start', 'receive', 'process', 'send', 'stop', 'supervise'] as const;

export type ErrorStage = (typeof ERROR_STAGES)[number];

/** What each stage covers (docs/architecture.md#accounting lists the same). */
export const ERROR_STAGE_MEANINGS: Readonly<Record<ErrorStage, string>> = {
  load: "finding and creating the plugin and loading its content (rule files, lists, Sigma), at start and on reload; refused content is a load error, never lost items",
  start: "the plugin's start() and what it acquires there (files, sockets, sessions)",
  receive: 'taking input in: a sensor reading or decoding its source (a file, /proc, an event log), a record that cannot be parsed',
  process: 'working on what was received: a handler that throws, a rule evaluation, a worker task, rendering an item for output',
  send: 'handing results on: an event the core refuses, writing to a file, console, store or socket, flushing',
  stop: 'stop(), the disposers and closing what the plugin holds',
  supervise: "the supervisor's own records: a failure reported with ctx.fail(), a detach",
};

/**
 * Discard reasons with one spelling each. The core counts the first group itself; the
 * second are reasons several plugins share, spelled once here. A plugin's own reasons are
 * listed in its README. A reason may carry a qualifier after a colon (the worker pool's
 * `queue_full:<task>`).
 */
export const DISCARD_REASONS = {
  queue_full: 'a bounded queue was full: a live event dropped for one subscriber, or a task refused by the worker pool (`queue_full:<task>`)',
  plugin_not_running: 'items handed to or sent by a plugin that is not running (before start, after stop)',
  plugin_restarting: 'items delivered to a plugin while it is being restarted',
  plugin_detached: 'items held by or delivered to a plugin the supervisor detached',
  invalid_event: 'an event draft without a string `type` or a finite `time`',
  cancelled: 'a worker task cancelled by its caller (`cancelled:<task>`, intended)',
  action_no_responder_for_action: 'a requested action no responder performs (intended)',
  action_monitor: 'a requested action simulated and journaled as "would have": `response.mode: monitor`, or a response set with `simulate` (intended)',
  action_replayed: 'a requested action on replayed telemetry: monitor only, whatever the mode (intended)',
  action_no_identity: 'a requested action whose target has no identity (pid + start time, or guid): refused (intended)',
  action_stale_event: 'a requested action on evidence older than `response.max_event_age_seconds` (intended)',
  action_protected_process: 'a requested action against a protected process: the agent or an ancestor, pid 1, a kernel thread, a critical or configured image or user, or a privileged one under `low_privilege_only` (intended)',
  action_rate_limit: 'a requested action past its `response.max_actions_per_minute` (intended)',
  action_cooldown: 'the same action against the same process identity within `response.cooldown_seconds` (intended)',
  action_no_playbook: 'a detection asked for a playbook that `response.playbooks` does not define (or named none)',
  action_playbook_busy: 'a playbook not started because one already runs for the same process identity (intended)',
  action_timeout: 'a playbook step whose responder gave no result within the step\'s timeout: the plan stops (and runs `on_timeout`)',
  action_journal_evicted: 'a pending action request forgotten before its result came back (more than 10,000 in flight): its result is journaled without the request\'s rule, target and mode',
  emit_rejected: 'a sensor event the core refused (an undeclared type, an invalid draft)',
  parse_error: 'a record that cannot be parsed (not JSON, malformed XML, an undecodable EVTX record, an unreadable /proc line)',
  unserializable: 'a detection that cannot be rendered for an output (JSON, an SQL row, console text)',
  write_error: 'output lost because writing it failed (the console stream, a JSONL file)',
  store_error: 'items the alert store failed to store',
} as const satisfies Record<string, string>;

export type DiscardReason = keyof typeof DISCARD_REASONS;

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
  /** By `stage:kind`. */
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
  private readonly errorsByStage = new Map<ErrorStage, number>();
  private readonly discarded = new Map<string, { count: number; intended: boolean }>();
  private readonly custom = new Map<string, number>();
  private readonly fileErrors = new Map<string, FileError>();

  /** Count an error at a stage (ERROR_STAGES) of a kind (a code, `TypeError`, `read:ENOENT`). */
  error(stage: ErrorStage, kind: string, n = 1): void {
    const key = `${stage}:${kind}`;
    this.errors.set(key, (this.errors.get(key) ?? 0) + n);
    this.errorsByStage.set(stage, (this.errorsByStage.get(stage) ?? 0) + n);
  }

  /**
   * Count an error at a stage that one file caused, and remember the file and the reason so
   * that `vigil status` and the replay summary can name it (the same file and reason, seen
   * again on a reload, is listed once).
   */
  fileError(stage: ErrorStage, kind: string, file: string, reason: string): void {
    this.error(stage, kind);
    const key = `${stage}\0${kind}\0${file}\0${reason}`;
    if (this.fileErrors.size < MAX_FILE_ERRORS && !this.fileErrors.has(key)) this.fileErrors.set(key, { stage, kind, file, reason });
  }

  /**
   * Count items dropped with a reason (DISCARD_REASONS, or one the plugin's README lists);
   * `intended` marks filtering as opposed to loss.
   */
  discard(reason: DiscardReason | (string & {}), n = 1, intended = false): void {
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

  /** Errors counted at one stage. */
  errorsAt(stage: ErrorStage): number {
    return this.errorsByStage.get(stage) ?? 0;
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
