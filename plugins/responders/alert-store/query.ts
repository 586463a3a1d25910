import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { SEVERITIES, type ActionResult, type ActionStatus, type Detection, type Severity, type VigilEvent } from '../../../core/index.js';
import { AlertStoreError, errorKind } from './errors.js';
import { checkReadable } from './schema.js';

/** Filters for `queryAlerts`. */
export interface AlertQuery {
  /**
   * Only alerts raised at or after this time: ms since the epoch, an ISO 8601 time
   * (`2024-05-01`, `2024-05-01T12:00:00Z`) or a relative span back from now (`30m`, `1h`, `7d`).
   * Compared with the raise time, so a replay of old recordings is found by when it ran.
   */
  since?: number | string;
  /** Minimum severity. */
  severity?: Severity;
  /** Rule id (exact) or part of the rule title (case-insensitive). */
  rule?: string;
  /** Most alerts to return, newest first (default 100). */
  limit?: number;
}

/** One stored alert with its evidence and the results of actions taken on it. */
export interface AlertRow {
  readonly id: string;
  /** Event time of the newest evidence, ms since the epoch. */
  readonly time: number;
  /** When the detection was raised, ms since the epoch. */
  readonly raised: number;
  readonly analyzer: string;
  readonly rule_id: string;
  readonly rule_title: string;
  readonly rule_source: string;
  readonly severity: Severity;
  readonly tags: readonly string[];
  readonly actor_image: string | null;
  readonly actor_pid: number | null;
  readonly actor_guid: string | null;
  readonly host: string;
  readonly summary: string;
  /** The detection as raised, without its evidence (see `evidence`). */
  readonly detection: Omit<Detection, 'evidence'>;
  /** Evidence events, oldest first. */
  readonly evidence: readonly VigilEvent[];
  /** Action results in the order they arrived. */
  readonly action_results: readonly ActionResult[];
}

export const DEFAULT_QUERY_LIMIT = 100;

const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
};

const RELATIVE = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)$/i;
const ISO = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i;

function badOption(message: string): AlertStoreError {
  return new AlertStoreError('VIGIL_ERR_ALERTS_BAD_OPTION', message);
}

/** Turns a `since` value into ms since the epoch; throws VIGIL_ERR_ALERTS_BAD_OPTION when it is neither. */
export function parseSince(value: number | string, now: number = Date.now()): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw badOption(`since must be a finite time in ms; got ${value}`);
    return value;
  }
  const text = value.trim();
  const rel = RELATIVE.exec(text);
  if (rel) {
    const amount = Number(rel[1]);
    const unit = UNIT_MS[(rel[2] ?? '').toLowerCase()];
    if (unit !== undefined && Number.isFinite(amount)) return now - amount * unit;
  }
  if (ISO.test(text)) {
    const t = Date.parse(text);
    if (!Number.isNaN(t)) return t;
  }
  throw badOption(
    `since ${JSON.stringify(value)} is neither an ISO time (2024-05-01, 2024-05-01T12:00:00Z) nor a span like 30m, 1h, 7d`,
  );
}

export function parseSeverity(value: string): Severity {
  const hit = SEVERITIES.find((s) => s === value.trim().toLowerCase());
  if (!hit) throw badOption(`severity ${JSON.stringify(value)} is not one of ${SEVERITIES.join(', ')}`);
  return hit;
}

export function parseLimit(value: number | string): number {
  const n = typeof value === 'number' ? value : /^\s*\d+\s*$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw badOption(`limit must be a whole number >= 1; got ${JSON.stringify(value)}`);
  return n;
}

interface DetectionDbRow {
  id: string;
  time: number;
  raised: number;
  analyzer: string;
  rule_id: string;
  rule_title: string;
  rule_source: string;
  severity: string;
  tags: string;
  actor_image: string | null;
  actor_pid: number | null;
  actor_guid: string | null;
  host: string;
  summary: string;
  json: string;
}

interface ResultDbRow {
  request_id: string;
  detection_id: string;
  action: string;
  responder: string;
  status: string;
  reason: string | null;
  time: number;
  json: string;
}

function parseObject(text: string, what: string): Record<string, unknown> {
  const v: unknown = JSON.parse(text);
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new TypeError(`${what} is not a JSON object`);
  return v as Record<string, unknown>;
}

function parseTags(text: string): string[] {
  const v: unknown = JSON.parse(text);
  return Array.isArray(v) ? v.filter((t): t is string => typeof t === 'string') : [];
}

function toSeverity(s: string): Severity {
  return SEVERITIES.find((x) => x === s) ?? 'informational';
}

function toStatus(s: string): ActionStatus {
  return s === 'done' || s === 'failed' || s === 'skipped' ? s : 'failed';
}

function toResult(r: ResultDbRow): ActionResult {
  const extra = parseObject(r.json, `action result ${r.request_id}`);
  const details = extra['details'];
  return {
    request_id: r.request_id,
    detection_id: r.detection_id,
    action: r.action,
    responder: r.responder,
    status: toStatus(r.status),
    ...(r.reason === null ? {} : { reason: r.reason }),
    ...(details !== null && typeof details === 'object' && !Array.isArray(details)
      ? { details: details as Readonly<Record<string, unknown>> }
      : {}),
    time: r.time,
    ...journalFields(extra),
  };
}

/** The journal fields a result carries (outcome, mode, who asked, target), read back from its JSON. */
function journalFields(extra: Record<string, unknown>): Pick<ActionResult, 'outcome' | 'mode' | 'rule_id' | 'analyzer' | 'target'> {
  const out: { outcome?: string; mode?: 'monitor' | 'enforce'; rule_id?: string; analyzer?: string; target?: NonNullable<ActionResult['target']> } = {};
  if (typeof extra['outcome'] === 'string') out.outcome = extra['outcome'];
  if (extra['mode'] === 'monitor' || extra['mode'] === 'enforce') out.mode = extra['mode'];
  if (typeof extra['rule_id'] === 'string') out.rule_id = extra['rule_id'];
  if (typeof extra['analyzer'] === 'string') out.analyzer = extra['analyzer'];
  const t = extra['target'];
  if (t !== null && typeof t === 'object' && !Array.isArray(t)) out.target = t as NonNullable<ActionResult['target']>;
  return out;
}

/** Filters for `queryActionJournal`. */
export interface JournalQuery {
  /** As AlertQuery's `since`, compared with the decision time. */
  since?: number | string;
  /** Rule id (exact). */
  rule?: string;
  /** Most rows, newest first (default 100). */
  limit?: number;
}

/** One row of the action journal. */
export interface JournalRow {
  readonly time: number;
  readonly request_id: string;
  readonly detection_id: string;
  readonly analyzer: string | null;
  readonly rule_id: string | null;
  readonly action: string;
  readonly responder: string;
  readonly mode: string | null;
  readonly outcome: string;
  readonly status: string;
  readonly reason: string | null;
  readonly target_pid: number | null;
  readonly target_start_time: number | null;
  readonly target_guid: string | null;
  readonly target_image: string | null;
  readonly playbook: string | null;
  readonly step: string | null;
  /** The result's details as JSON (a scan's verdict and findings). */
  readonly details: string | null;
}

/** Open a store read-only and check that this code can read it. */
function openForReading(dbPath: string): { db: Database.Database; file: string } {
  const file = resolve(dbPath);
  if (!existsSync(file)) {
    throw new AlertStoreError(
      'VIGIL_ERR_ALERTS_NO_DB',
      `no alert store at ${file}; it is created when the agent runs with the alert-store responder (use --db to read another file)`,
    );
  }
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true, timeout: 5000 });
  } catch (err) {
    throw new AlertStoreError('VIGIL_ERR_ALERTS_OPEN', `cannot open alert store ${file} (${errorKind(err)})`, { cause: err });
  }
  try {
    checkReadable(db, file);
  } catch (err) {
    db.close();
    if (err instanceof AlertStoreError) throw err;
    // SQLITE_NOTADB and friends: the file exists but is not a database at all.
    throw new AlertStoreError('VIGIL_ERR_ALERTS_SCHEMA', `${file} is not a Vigil alert store (${errorKind(err)})`, { cause: err });
  }
  return { db, file };
}

/** Reads the action journal, newest first: every response decision and outcome. Read-only. */
export function queryActionJournal(dbPath: string, query: JournalQuery = {}): JournalRow[] {
  const since = query.since === undefined ? undefined : parseSince(query.since);
  const limit = query.limit === undefined ? DEFAULT_QUERY_LIMIT : parseLimit(query.limit);
  const { db } = openForReading(dbPath);
  try {
    const where: string[] = [];
    const params: Array<string | number> = [];
    if (since !== undefined) {
      where.push('time >= ?');
      params.push(since);
    }
    if (query.rule !== undefined && query.rule !== '') {
      where.push('rule_id = ?');
      params.push(query.rule);
    }
    const sql = `SELECT time, request_id, detection_id, analyzer, rule_id, action, responder, mode, outcome, status, reason,
                        target_pid, target_start_time, target_guid, target_image, playbook, step, details
                 FROM action_journal ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
                 ORDER BY time DESC, rid DESC LIMIT ?`;
    return db.prepare(sql).all(...params, limit) as JournalRow[];
  } finally {
    db.close();
  }
}

/**
 * Reads alerts from an alert store, newest first, each with its evidence and action
 * results. Opens the file read-only (safe while the agent writes to it).
 */
export function queryAlerts(dbPath: string, query: AlertQuery = {}): AlertRow[] {
  const since = query.since === undefined ? undefined : parseSince(query.since);
  const severity = query.severity === undefined ? undefined : parseSeverity(query.severity);
  const limit = query.limit === undefined ? DEFAULT_QUERY_LIMIT : parseLimit(query.limit);
  const { db } = openForReading(dbPath);
  try {
    const where: string[] = [];
    const params: Array<string | number> = [];
    if (since !== undefined) {
      where.push('raised >= ?');
      params.push(since);
    }
    if (severity !== undefined) {
      where.push('severity_rank >= ?');
      params.push(SEVERITIES.indexOf(severity));
    }
    if (query.rule !== undefined && query.rule !== '') {
      where.push('(rule_id = ? OR instr(lower(rule_title), lower(?)) > 0)');
      params.push(query.rule, query.rule);
    }
    const sql =
      `SELECT id, time, raised, analyzer, rule_id, rule_title, rule_source, severity, tags, actor_image, actor_pid,
              actor_guid, host, summary, json
       FROM detections ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY raised DESC, rid DESC LIMIT ?`;
    const rows = db.prepare(sql).all(...params, limit) as DetectionDbRow[];
    const evidenceStmt = db.prepare('SELECT event FROM evidence WHERE detection_id = ? ORDER BY seq');
    const resultsStmt = db.prepare(
      `SELECT request_id, detection_id, action, responder, status, reason, time, json
       FROM action_results WHERE detection_id = ? ORDER BY rid`,
    );
    return rows.map((r): AlertRow => {
      const evidence = (evidenceStmt.all(r.id) as Array<{ event: string }>).map(
        // Written by the store from frozen VigilEvents; checked to be objects, not re-validated field by field.
        (e) => parseObject(e.event, `evidence of ${r.id}`) as unknown as VigilEvent,
      );
      const action_results = (resultsStmt.all(r.id) as ResultDbRow[]).map(toResult);
      return {
        id: r.id,
        time: r.time,
        raised: r.raised,
        analyzer: r.analyzer,
        rule_id: r.rule_id,
        rule_title: r.rule_title,
        rule_source: r.rule_source,
        severity: toSeverity(r.severity),
        tags: parseTags(r.tags),
        actor_image: r.actor_image,
        actor_pid: r.actor_pid,
        actor_guid: r.actor_guid,
        host: r.host,
        summary: r.summary,
        detection: parseObject(r.json, `detection ${r.id}`) as unknown as Omit<Detection, 'evidence'>,
        evidence,
        action_results,
      };
    });
  } finally {
    db.close();
  }
}
