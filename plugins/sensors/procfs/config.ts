/**
 * Config of the procfs sensor: the JSON Schema the core validates against, and a runtime
 * normalizer so that the sensor never trusts an unvalidated block (tests, third-party hosts).
 */
import type { JsonSchema } from '../../../core/index.js';

export interface ProcfsConfig {
  /** Milliseconds between two scans of proc_root. */
  readonly poll_interval_ms: number;
  /** Root of the proc file system (a fake tree in tests). */
  readonly proc_root: string;
  /** Emit process.start (raw.existing = true) for processes already running at start. */
  readonly emit_existing: boolean;
  /** Upper bound of process directories inspected per scan; the rest are counted. */
  readonly max_processes_per_poll: number;
  /**
   * The better sources this one stands in for, in order: poll only when none of them can run
   * here (`ebpf`: the shipped BPF object does not load; `proc-connector`: the connector cannot
   * be opened, bound, subscribed, or is deaf); when one can, stand by and say which. One name
   * or a list; empty: always poll.
   */
  readonly fallback_for: FallbackSource | '' | readonly FallbackSource[];
}

/** The live sources procfs can stand by for. */
export type FallbackSource = 'ebpf' | 'proc-connector';
export const FALLBACK_SOURCES: readonly FallbackSource[] = Object.freeze(['ebpf', 'proc-connector']);

/** The config value as a list, in order, without repeats. */
export function fallbackList(v: ProcfsConfig['fallback_for']): FallbackSource[] {
  const list = typeof v === 'string' ? (v === '' ? [] : [v]) : v;
  return [...new Set(list)];
}

export const PROCFS_DEFAULTS: ProcfsConfig = Object.freeze({
  poll_interval_ms: 250,
  proc_root: '/proc',
  emit_existing: true,
  max_processes_per_poll: 100000,
  fallback_for: '',
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
    fallback_for: {
      anyOf: [
        { type: 'string', enum: ['', ...FALLBACK_SOURCES] },
        { type: 'array', items: { type: 'string', enum: [...FALLBACK_SOURCES] }, maxItems: FALLBACK_SOURCES.length },
      ],
      default: PROCFS_DEFAULTS.fallback_for,
      description: 'ebpf, proc-connector or a list of them: poll only when none of these sources can run here; empty: always poll.',
    },
  },
});
