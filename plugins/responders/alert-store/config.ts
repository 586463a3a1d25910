import type { JsonSchema } from '../../../core/index.js';

/** The `alert-store` responder's config block (after schema defaults). */
export type AlertStoreConfig = {
  /** SQLite file; a relative path is relative to the config file's folder. */
  path: string;
  /** Delete alerts raised more than this many days ago (0 keeps them forever). */
  retention_days: number;
  /** Keep at most this many alerts, dropping the oldest first (0 means no limit). */
  max_rows: number;
  /** How often retention runs while the agent is up (it also runs at start). */
  prune_interval_seconds: number;
};

export const ALERT_STORE_DEFAULTS: Readonly<AlertStoreConfig> = Object.freeze({
  path: 'vigil-alerts.db',
  retention_days: 90,
  max_rows: 1_000_000,
  prune_interval_seconds: 3600,
});

export const alertStoreConfigSchema: JsonSchema = Object.freeze({
  type: 'object',
  additionalProperties: false,
  properties: {
    path: {
      type: 'string',
      minLength: 1,
      default: ALERT_STORE_DEFAULTS.path,
      description: 'SQLite database file. Relative paths are relative to the folder of the config file.',
    },
    retention_days: {
      type: 'number',
      minimum: 0,
      default: ALERT_STORE_DEFAULTS.retention_days,
      description: 'Delete alerts raised longer ago than this (by raise time, not event time); 0 keeps all.',
    },
    max_rows: {
      type: 'integer',
      minimum: 0,
      default: ALERT_STORE_DEFAULTS.max_rows,
      description: 'Keep at most this many alerts, oldest dropped first; 0 means no limit.',
    },
    prune_interval_seconds: {
      type: 'integer',
      minimum: 1,
      default: ALERT_STORE_DEFAULTS.prune_interval_seconds,
      description: 'How often retention runs while the agent is up (it also runs at start).',
    },
  },
});
