import type { JsonSchema } from '../../../core/plugin/types.js';

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

/** Fills defaults and refuses wrong values with a clear message (for embedders that skip the core's validation). */
export function resolveAlertStoreConfig(raw: Readonly<Partial<AlertStoreConfig>> | undefined): AlertStoreConfig {
  const c: Readonly<Record<string, unknown>> = raw ?? {};
  for (const key of Object.keys(c)) {
    if (!(key in ALERT_STORE_DEFAULTS)) throw new TypeError(`alert-store responder: unknown config key "${key}"`);
  }
  const path = c['path'] ?? ALERT_STORE_DEFAULTS.path;
  if (typeof path !== 'string' || path.length === 0) {
    throw new TypeError(`alert-store responder: config.path must be a non-empty string; got ${JSON.stringify(path)}`);
  }
  return {
    path,
    retention_days: num(c, 'retention_days', 0, false),
    max_rows: num(c, 'max_rows', 0, true),
    prune_interval_seconds: num(c, 'prune_interval_seconds', 1, true),
  };
}

function num(
  c: Readonly<Record<string, unknown>>,
  key: 'retention_days' | 'max_rows' | 'prune_interval_seconds',
  min: number,
  integer: boolean,
): number {
  const v = c[key] ?? ALERT_STORE_DEFAULTS[key];
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || (integer && !Number.isInteger(v))) {
    const what = integer ? 'an integer' : 'a number';
    throw new TypeError(`alert-store responder: config.${key} must be ${what} >= ${min}; got ${JSON.stringify(v)}`);
  }
  return v;
}
