import type { ResponderPlugin } from '../../../core/index.js';
import type { AlertStoreConfig } from './config.js';
import { manifest } from './manifest.js';
import { AlertStoreResponder } from './responder.js';

/** Keeps detections, their evidence and action results in an embedded SQLite store. */
export const plugin: ResponderPlugin<AlertStoreConfig> = {
  manifest,
  create(ctx) {
    return new AlertStoreResponder(ctx);
  },
};

export { commands, alertsCommand, formatAlertTable, formatJournalTable } from './cli.js';
export { manifest, CLI_DEFAULT_LIMIT } from './manifest.js';
export { queryAlerts, queryActionJournal, parseSince, parseSeverity, parseLimit, DEFAULT_QUERY_LIMIT } from './query.js';
export type { AlertQuery, AlertRow, JournalQuery, JournalRow } from './query.js';
export { alertStoreConfigSchema, ALERT_STORE_DEFAULTS } from './config.js';
export type { AlertStoreConfig } from './config.js';
export { AlertStoreResponder } from './responder.js';
export { AlertStore } from './store.js';
export type { StoreDetectionsResult, PruneResult } from './store.js';
export { AlertStoreError } from './errors.js';
export type { AlertStoreErrorCode } from './errors.js';
export { SCHEMA_VERSION, MIGRATIONS } from './schema.js';
