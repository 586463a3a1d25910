/**
 * Config of the procfs sensor: the JSON Schema the core validates against, and a runtime
 * normalizer so that the sensor never trusts an unvalidated block (tests, third-party hosts).
 */
import type { JsonSchema } from '../../../core/plugin/types.js';

export interface ProcfsConfig {
  /** Milliseconds between two scans of proc_root. */
  readonly poll_interval_ms: number;
  /** Root of the proc file system (a fake tree in tests). */
  readonly proc_root: string;
  /** Emit process.start (raw.existing = true) for processes already running at start. */
  readonly emit_existing: boolean;
  /** Upper bound of process directories inspected per scan; the rest are counted. */
  readonly max_processes_per_poll: number;
}

export const PROCFS_DEFAULTS: ProcfsConfig = Object.freeze({
  poll_interval_ms: 250,
  proc_root: '/proc',
  emit_existing: true,
  max_processes_per_poll: 100000,
});

export const MIN_POLL_INTERVAL_MS = 20;

export const procfsConfigSchema: JsonSchema = Object.freeze({
  type: 'object',
  additionalProperties: false,
  properties: {
    poll_interval_ms: {
      type: 'integer',
      minimum: MIN_POLL_INTERVAL_MS,
      default: PROCFS_DEFAULTS.poll_interval_ms,
      description: 'Milliseconds between two scans of proc_root.',
    },
    proc_root: {
      type: 'string',
      minLength: 1,
      default: PROCFS_DEFAULTS.proc_root,
      description: 'Root of the proc file system.',
    },
    emit_existing: {
      type: 'boolean',
      default: PROCFS_DEFAULTS.emit_existing,
      description: 'Emit process.start (raw.existing = true) for processes running at start.',
    },
    max_processes_per_poll: {
      type: 'integer',
      minimum: 1,
      default: PROCFS_DEFAULTS.max_processes_per_poll,
      description: 'Most process directories inspected per scan; the excess is counted as discarded.',
    },
  },
});

/**
 * Apply defaults and check types. The core has normally validated already; this keeps the
 * sensor safe when embedded elsewhere. Throws an Error naming the offending key.
 */
export function resolveProcfsConfig(raw: Readonly<Record<string, unknown>>): ProcfsConfig {
  const known = new Set(Object.keys(PROCFS_DEFAULTS));
  for (const key of Object.keys(raw)) {
    if (!known.has(key)) throw new Error(`procfs config: unknown key "${key}" (allowed: ${[...known].join(', ')})`);
  }
  const int = (key: 'poll_interval_ms' | 'max_processes_per_poll', min: number): number => {
    const v = raw[key] ?? PROCFS_DEFAULTS[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
      throw new Error(`procfs config: "${key}" must be an integer >= ${min}, found ${JSON.stringify(v)}`);
    }
    return v;
  };
  const root = raw['proc_root'] ?? PROCFS_DEFAULTS.proc_root;
  if (typeof root !== 'string' || root.length === 0) {
    throw new Error(`procfs config: "proc_root" must be a non-empty string, found ${JSON.stringify(root)}`);
  }
  const existing = raw['emit_existing'] ?? PROCFS_DEFAULTS.emit_existing;
  if (typeof existing !== 'boolean') {
    throw new Error(`procfs config: "emit_existing" must be a boolean, found ${JSON.stringify(existing)}`);
  }
  return Object.freeze({
    poll_interval_ms: int('poll_interval_ms', MIN_POLL_INTERVAL_MS),
    proc_root: root,
    emit_existing: existing,
    max_processes_per_poll: int('max_processes_per_poll', 1),
  });
}
