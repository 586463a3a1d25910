import Database from 'better-sqlite3';
import { SEVERITIES, type ActionResult, type Detection, type PrivateFiles } from '../../../core/index.js';
import { AlertStoreError, errorKind } from './errors.js';
import { migrate } from './schema.js';

/** JSON with bigints (possible in raw source fields) written as strings. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

type Param = string | number | null;

interface DetectionRow {
  readonly params: readonly Param[];
  readonly evidence: ReadonlyArray<readonly Param[]>;
}

/** Outcome of storing one batch of detections. */
export interface StoreDetectionsResult {
  stored: number;
  /** Already in the store (same detection id): a replayed or re-delivered batch. */
  duplicates: number;
  /** Could not be serialized, with the error kind of each. */
  unserializable: string[];
}

export interface PruneResult {
  byAge: number;
  byRows: number;
  /** Action-journal rows past the retention age. */
  journalByAge: number;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** One row of the action journal: who asked, the rule, the target identity, the mode, the outcome and why. */
function journalRow(r: ActionResult): Param[] {
  const t = r.target;
  return [
    r.time,
    r.request_id,
    r.detection_id,
    r.analyzer ?? null,
    r.rule_id ?? null,
    r.action,
    r.responder,
    r.mode ?? null,
    r.outcome ?? r.status,
    r.status,
    r.reason ?? null,
    t?.pid !== undefined && Number.isSafeInteger(t.pid) ? t.pid : null,
    num(t?.start_time),
    t?.guid ?? null,
    t?.image ?? null,
    r.playbook ?? null,
    r.step ?? null,
    r.details === undefined ? null : toJson(r.details),
  ];
}

const RANK = new Map<string, number>(SEVERITIES.map((s, i) => [s, i]));

function detectionRow(d: Detection): DetectionRow {
  const rank = RANK.get(d.severity);
  if (rank === undefined) throw new TypeError(`unknown severity ${JSON.stringify(d.severity)}`);
  const actor = d.actor ?? d.evidence[d.evidence.length - 1]?.proc;
  const { evidence, ...rest } = d;
  const params: Param[] = [
    d.id,
    d.time,
    d.raised,
    d.analyzer,
    d.rule.id,
    d.rule.title,
    d.rule.source,
    d.severity,
    rank,
    toJson(d.tags),
    actor?.image ?? null,
    actor?.pid !== undefined && Number.isSafeInteger(actor.pid) ? actor.pid : null,
    actor?.guid ?? null,
    d.host.name,
    d.summary ?? d.rule.title,
    toJson(rest),
  ];
  const ev = evidence.map((e, seq): Param[] => [
    d.id,
    seq,
    typeof e.id === 'string' ? e.id : null,
    typeof e.type === 'string' ? e.type : null,
    Number.isFinite(e.time) ? e.time : null,
    toJson(e),
  ]);
  return { params, evidence: ev };
}

/**
 * The SQLite file behind the alert-store responder: detections with their evidence and
 * the results of the actions taken on them. WAL mode, so `vigil alerts` can read while the
 * agent writes.
 */
export class AlertStore {
  private readonly insertDetection: Database.Statement;
  private readonly insertEvidence: Database.Statement;
  private readonly insertResult: Database.Statement;
  private readonly insertJournal: Database.Statement;
  private readonly countRows: Database.Statement;

  private constructor(
    readonly db: Database.Database,
    readonly file: string,
  ) {
    this.insertDetection = db.prepare(
      `INSERT OR IGNORE INTO detections (id, time, raised, analyzer, rule_id, rule_title, rule_source, severity,
        severity_rank, tags, actor_image, actor_pid, actor_guid, host, summary, json)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.insertEvidence = db.prepare(
      'INSERT OR REPLACE INTO evidence (detection_id, seq, event_id, event_type, time, event) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.insertResult = db.prepare(
      `INSERT INTO action_results (request_id, detection_id, action, responder, status, reason, time, json)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.insertJournal = db.prepare(
      `INSERT INTO action_journal (time, request_id, detection_id, analyzer, rule_id, action, responder, mode, outcome, status,
        reason, target_pid, target_start_time, target_guid, target_image, playbook, step, details)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.countRows = db.prepare('SELECT count(*) AS n FROM detections');
  }

  /**
   * Opens (creating and migrating as needed) the store at an absolute path. The database
   * and its -wal / -shm files are 0600 and a missing folder is created 0700; files left
   * wider by an older version are tightened (reported through `files`, the plugin context's).
   */
  static open(file: string, files: PrivateFiles): AlertStore {
    let db: Database.Database;
    try {
      // SQLite gives its side files the database's mode, so a private database comes first;
      // an empty file is a valid new database.
      files.file(file);
      tightenSideFiles(file, files);
      db = new Database(file, { timeout: 5000 });
    } catch (err) {
      throw new AlertStoreError(
        'VIGIL_ERR_ALERTS_OPEN',
        `cannot open alert store ${file} (${errorKind(err)}); check config.path and permissions`,
        { cause: err },
      );
    }
    try {
      db.pragma('journal_mode = WAL');
      // Switching to WAL creates -wal and -shm; checked here rather than trusted.
      tightenSideFiles(file, files);
      // Alerts are evidence: every committed batch is synced, at a cost that detection
      // rates (not event rates) easily afford.
      db.pragma('synchronous = FULL');
      migrate(db, file);
      return new AlertStore(db, file);
    } catch (err) {
      db.close();
      if (err instanceof AlertStoreError) throw err;
      throw new AlertStoreError('VIGIL_ERR_ALERTS_OPEN', `cannot use alert store ${file}: ${errorKind(err)}`, { cause: err });
    }
  }

  get open(): boolean {
    return this.db.open;
  }

  /** Stores a batch in one transaction. Throws when the transaction fails (nothing stored). */
  storeDetections(batch: readonly Detection[]): StoreDetectionsResult {
    const result: StoreDetectionsResult = { stored: 0, duplicates: 0, unserializable: [] };
    const rows: DetectionRow[] = [];
    for (const d of batch) {
      try {
        rows.push(detectionRow(d));
      } catch (err) {
        result.unserializable.push(errorKind(err));
      }
    }
    if (rows.length === 0) return result;
    this.db.transaction(() => {
      for (const row of rows) {
        if (this.insertDetection.run(...row.params).changes === 0) {
          result.duplicates += 1;
          continue;
        }
        for (const ev of row.evidence) this.insertEvidence.run(...ev);
        result.stored += 1;
      }
    })();
    return result;
  }

  /** Stores action results, and their journal rows, in one transaction. Throws when the transaction fails. */
  storeActionResults(batch: readonly ActionResult[]): number {
    const rows: Param[][] = batch.map((r) => [
      r.request_id,
      r.detection_id,
      r.action,
      r.responder,
      r.status,
      r.reason ?? null,
      r.time,
      toJson(r),
    ]);
    const journal: Param[][] = batch.map((r) => journalRow(r));
    this.db.transaction(() => {
      for (const row of rows) this.insertResult.run(...row);
      for (const row of journal) this.insertJournal.run(...row);
    })();
    return rows.length;
  }

  count(): number {
    const row = this.countRows.get() as { n: number } | undefined;
    return row?.n ?? 0;
  }

  /**
   * Drops alerts raised before `raisedBefore` and, beyond `maxRows`, the oldest ones, with
   * their evidence and action results. Results whose detection is gone are dropped too.
   */
  prune(options: { raisedBefore?: number; maxRows?: number }): PruneResult {
    const db = this.db;
    return db.transaction((): PruneResult => {
      let byAge = 0;
      let byRows = 0;
      let journalByAge = 0;
      if (options.raisedBefore !== undefined) {
        const cut = options.raisedBefore;
        db.prepare('DELETE FROM evidence WHERE detection_id IN (SELECT id FROM detections WHERE raised < ?)').run(cut);
        db.prepare('DELETE FROM action_results WHERE detection_id IN (SELECT id FROM detections WHERE raised < ?) OR time < ?').run(cut, cut);
        byAge = db.prepare('DELETE FROM detections WHERE raised < ?').run(cut).changes;
        // The journal outlives max_rows (it is the record of what was done) but not the retention age.
        journalByAge = db.prepare('DELETE FROM action_journal WHERE time < ?').run(cut).changes;
      }
      if (options.maxRows !== undefined && options.maxRows > 0) {
        const edge = db.prepare('SELECT rid FROM detections ORDER BY rid DESC LIMIT 1 OFFSET ?').get(options.maxRows) as
          | { rid: number }
          | undefined;
        if (edge) {
          db.prepare('DELETE FROM evidence WHERE detection_id IN (SELECT id FROM detections WHERE rid <= ?)').run(edge.rid);
          db.prepare('DELETE FROM action_results WHERE detection_id IN (SELECT id FROM detections WHERE rid <= ?)').run(edge.rid);
          byRows = db.prepare('DELETE FROM detections WHERE rid <= ?').run(edge.rid).changes;
          // Results that arrived for a detection never stored would otherwise stay forever.
          db.prepare(
            'DELETE FROM action_results WHERE time < (SELECT min(raised) FROM detections) AND detection_id NOT IN (SELECT id FROM detections)',
          ).run();
        }
      }
      return { byAge, byRows, journalByAge };
    })();
  }

  /** Moves the write-ahead log into the main file (cheap when there is nothing to move). */
  checkpoint(): void {
    if (this.db.open) this.db.pragma('wal_checkpoint(PASSIVE)');
  }

  /** Idempotent. */
  close(): void {
    if (this.db.open) this.db.close();
  }
}

/** The files SQLite keeps beside the database (write-ahead log, shared memory, rollback journal). */
export const SIDE_FILE_SUFFIXES = ['-wal', '-shm', '-journal'] as const;

function tightenSideFiles(file: string, files: PrivateFiles): void {
  for (const suffix of SIDE_FILE_SUFFIXES) files.tighten(file + suffix);
}
