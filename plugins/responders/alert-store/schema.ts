import type { Database } from 'better-sqlite3';
import { AlertStoreError } from './errors.js';

/**
 * Migrations, index i taking the database from `user_version` i to i + 1. Append only:
 * a shipped migration never changes, so any older file can be brought forward on open.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE detections (
    rid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    time REAL NOT NULL,
    raised REAL NOT NULL,
    analyzer TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    rule_title TEXT NOT NULL,
    rule_source TEXT NOT NULL,
    severity TEXT NOT NULL,
    severity_rank INTEGER NOT NULL,
    tags TEXT NOT NULL,
    actor_image TEXT,
    actor_pid INTEGER,
    actor_guid TEXT,
    host TEXT NOT NULL,
    summary TEXT NOT NULL,
    json TEXT NOT NULL
  );
  CREATE INDEX detections_raised ON detections (raised);
  CREATE INDEX detections_rule_id ON detections (rule_id);
  CREATE TABLE evidence (
    detection_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    event_id TEXT,
    event_type TEXT,
    time REAL,
    event TEXT NOT NULL,
    PRIMARY KEY (detection_id, seq)
  ) WITHOUT ROWID;
  CREATE TABLE action_results (
    rid INTEGER PRIMARY KEY,
    request_id TEXT NOT NULL,
    detection_id TEXT NOT NULL,
    action TEXT NOT NULL,
    responder TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    time REAL NOT NULL,
    json TEXT NOT NULL
  );
  CREATE INDEX action_results_detection_id ON action_results (detection_id);
  CREATE INDEX action_results_time ON action_results (time);
  `,
  // The action journal: every response decision and outcome, append-only (rows are never
  // changed; only retention by age removes them).
  `
  CREATE TABLE action_journal (
    rid INTEGER PRIMARY KEY,
    time REAL NOT NULL,
    request_id TEXT NOT NULL,
    detection_id TEXT NOT NULL,
    analyzer TEXT,
    rule_id TEXT,
    action TEXT NOT NULL,
    responder TEXT NOT NULL,
    mode TEXT,
    outcome TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    target_pid INTEGER,
    target_start_time REAL,
    target_guid TEXT,
    target_image TEXT
  );
  CREATE INDEX action_journal_time ON action_journal (time);
  CREATE INDEX action_journal_detection_id ON action_journal (detection_id);
  CREATE TRIGGER action_journal_append_only BEFORE UPDATE ON action_journal
  BEGIN SELECT RAISE(ABORT, 'the action journal is append-only'); END;
  `,
  // Playbooks: the plan and step a journaled action was part of, and the result's details
  // (a scan's verdict and findings) as JSON.
  `
  ALTER TABLE action_journal ADD COLUMN playbook TEXT;
  ALTER TABLE action_journal ADD COLUMN step TEXT;
  ALTER TABLE action_journal ADD COLUMN details TEXT;
  `,
];

/** The schema version this code writes and reads. */
export const SCHEMA_VERSION = MIGRATIONS.length;

export function schemaVersion(db: Database): number {
  const v = db.pragma('user_version', { simple: true });
  return typeof v === 'number' ? v : 0;
}

/** A version-0 file that already holds tables belongs to something else: never write into it. */
function hasForeignTables(db: Database): boolean {
  const row = db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").get() as
    | { n: number }
    | undefined;
  return (row?.n ?? 0) > 0;
}

/** Brings the database to SCHEMA_VERSION, one transaction per step. */
export function migrate(db: Database, file: string): void {
  const from = schemaVersion(db);
  if (from > SCHEMA_VERSION) {
    throw new AlertStoreError(
      'VIGIL_ERR_ALERTS_SCHEMA',
      `alert store ${file} has schema version ${from}, newer than this Vigil understands (${SCHEMA_VERSION}); upgrade Vigil or point path at another file`,
    );
  }
  if (from === 0 && hasForeignTables(db)) {
    throw new AlertStoreError(
      'VIGIL_ERR_ALERTS_SCHEMA',
      `${file} is an SQLite database that is not a Vigil alert store; point path at another file`,
    );
  }
  for (let v = from; v < SCHEMA_VERSION; v++) {
    const step = db.transaction(() => {
      db.exec(MIGRATIONS[v] as string);
      db.pragma(`user_version = ${v + 1}`);
    });
    step.immediate();
  }
}

/** For readers (no migration): the file must be a Vigil alert store this code can read. */
export function checkReadable(db: Database, file: string): void {
  const v = schemaVersion(db);
  if (v === 0) {
    throw new AlertStoreError('VIGIL_ERR_ALERTS_SCHEMA', `${file} is not a Vigil alert store (no schema version)`);
  }
  if (v > SCHEMA_VERSION) {
    throw new AlertStoreError(
      'VIGIL_ERR_ALERTS_SCHEMA',
      `alert store ${file} has schema version ${v}, newer than this Vigil understands (${SCHEMA_VERSION}); upgrade Vigil`,
    );
  }
  if (v < SCHEMA_VERSION) {
    throw new AlertStoreError(
      'VIGIL_ERR_ALERTS_SCHEMA',
      `alert store ${file} has schema version ${v}; start the agent once (the alert-store responder migrates it to ${SCHEMA_VERSION})`,
    );
  }
}
