import type { ResponderPlugin } from '../../../core/index.js';
import { alertStoreConfigSchema, type AlertStoreConfig } from './config.js';
import { AlertStoreResponder } from './responder.js';

/** Keeps detections, their evidence and action results in an embedded SQLite store. */
export const plugin: ResponderPlugin<AlertStoreConfig> = {
  manifest: {
    id: 'alert-store',
    kind: 'responder',
    apiVersion: '2.0.0',
    version: '0.1.0',
    description: 'Stores detections with their evidence and action results in an embedded SQLite database (WAL).',
    platforms: ['any'],
    produces: [],
    consumes: ['detection'],
    actions: ['alert'],
    configSchema: alertStoreConfigSchema,
  },
  create(ctx) {
    return new AlertStoreResponder(ctx);
  },
};

export { registerAlertCommands as cli, registerAlertCommands, formatAlertTable, EXIT_BAD_OPTION } from './cli.js';
export type { AlertCommandOptions } from './cli.js';
export { queryAlerts, parseSince, parseSeverity, parseLimit, DEFAULT_QUERY_LIMIT } from './query.js';
export type { AlertQuery, AlertRow } from './query.js';
export { alertStoreConfigSchema, ALERT_STORE_DEFAULTS } from './config.js';
export type { AlertStoreConfig } from './config.js';
export { AlertStoreResponder } from './responder.js';
export { AlertStore } from './store.js';
export type { StoreDetectionsResult, PruneResult } from './store.js';
export { AlertStoreError } from './errors.js';
export type { AlertStoreErrorCode } from './errors.js';
export { SCHEMA_VERSION, MIGRATIONS } from './schema.js';
