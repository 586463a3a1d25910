import type { JsonSchema } from '../../../core/index.js';

export interface ProcConnConfig {
  /**
   * `ebpf`: stand by (and say so) while the eBPF sensor can run here; report only when it
   * cannot. Empty: always report.
   */
  readonly fallback_for: '' | 'ebpf';
  /** Socket receive buffer (SO_RCVBUFFORCE as root; the kernel doubles it). */
  readonly receive_buffer_bytes: number;
  /** Emit process.start (raw.existing = true) for the processes the /proc walk finds at start. */
  readonly emit_existing: boolean;
  /** Root of the proc file system (the walk at start, the reads after each exec, the rescans). */
  readonly proc_root: string;
  /** Longest wait of one poll on the socket; bounds how long stop waits for the receive thread. */
  readonly poll_timeout_ms: number;
  /** Most events in one batch posted from the receive thread. */
  readonly max_batch_events: number;
  /** Longest wait for the canary's events at start before the connector is declared deaf. */
  readonly probe_timeout_ms: number;
  /** Upper bound of the process table; past it new processes are counted and not remembered. */
  readonly max_processes: number;
}

export const PROCCONN_DEFAULTS: ProcConnConfig = Object.freeze({
  fallback_for: '',
  receive_buffer_bytes: 4 * 1024 * 1024,
  emit_existing: true,
  proc_root: '/proc',
  poll_timeout_ms: 100,
  max_batch_events: 1024,
  probe_timeout_ms: 2000,
  max_processes: 262144,
});

export const procConnConfigSchema: JsonSchema = Object.freeze({
  type: 'object',
  additionalProperties: false,
  properties: {
    fallback_for: {
      type: 'string',
      enum: ['', 'ebpf'],
      default: PROCCONN_DEFAULTS.fallback_for,
      description: 'ebpf: stand by while the eBPF sensor can run here; empty: always report.',
    },
    receive_buffer_bytes: {
      type: 'integer',
      minimum: 256,
      maximum: 256 * 1024 * 1024,
      default: PROCCONN_DEFAULTS.receive_buffer_bytes,
      description: 'Socket receive buffer in bytes (the kernel doubles it and applies its minimum).',
    },
    emit_existing: { type: 'boolean', default: PROCCONN_DEFAULTS.emit_existing, description: 'Report processes running at start.' },
    proc_root: { type: 'string', minLength: 1, default: PROCCONN_DEFAULTS.proc_root, description: 'Proc file system read for enrichment and rescans.' },
    poll_timeout_ms: { type: 'integer', minimum: 10, maximum: 1000, default: PROCCONN_DEFAULTS.poll_timeout_ms, description: 'Longest socket wait.' },
    max_batch_events: { type: 'integer', minimum: 1, maximum: 65536, default: PROCCONN_DEFAULTS.max_batch_events, description: 'Events per batch.' },
    probe_timeout_ms: {
      type: 'integer',
      minimum: 100,
      maximum: 30000,
      default: PROCCONN_DEFAULTS.probe_timeout_ms,
      description: "Longest wait for the canary process's events before the connector is declared deaf.",
    },
    max_processes: { type: 'integer', minimum: 1024, default: PROCCONN_DEFAULTS.max_processes, description: 'Most processes remembered.' },
  },
});
