import type { JsonSchema } from '../../../core/index.js';

export interface EbpfConfig {
  /** The compiled CO-RE object; empty: the one shipped with Vigil (driver/linux/vigil.bpf.o). */
  readonly object_path: string;
  /** Size of the kernel ring buffer in bytes (a power of two, at least 64 KiB). */
  readonly ring_buffer_bytes: number;
  /** Emit process.start (raw.existing = true) for the processes the /proc walk finds at start. */
  readonly emit_existing: boolean;
  /** Root of the proc file system walked at start. */
  readonly proc_root: string;
  /** Longest wait of one ring-buffer poll; bounds how long stop waits for the poll thread. */
  readonly poll_timeout_ms: number;
  /** Most records in one batch posted from the poll thread. */
  readonly max_batch_records: number;
  /** Absolute path prefixes whose open / create / delete is reported (filtered in the kernel). */
  readonly file_prefixes: readonly string[];
}

/** The paths the shipped Linux rules watch (persistence, preload, credential files). */
export const DEFAULT_FILE_PREFIXES: readonly string[] = Object.freeze([
  '/etc/ld.so.preload',
  '/etc/cron',
  '/etc/anacrontab',
  '/var/spool/cron/',
  '/etc/systemd/',
  '/usr/lib/systemd/',
  '/lib/systemd/',
  '/run/systemd/system',
  '/etc/shadow',
  '/etc/gshadow',
  '/etc/security/opasswd',
  '/root/.ssh/',
]);

export const EBPF_DEFAULTS: EbpfConfig = Object.freeze({
  object_path: '',
  ring_buffer_bytes: 16 * 1024 * 1024,
  emit_existing: true,
  proc_root: '/proc',
  poll_timeout_ms: 100,
  max_batch_records: 1024,
  file_prefixes: DEFAULT_FILE_PREFIXES,
});

export const MIN_RING_BUFFER_BYTES = 64 * 1024;

export const ebpfConfigSchema: JsonSchema = Object.freeze({
  type: 'object',
  additionalProperties: false,
  properties: {
    object_path: { type: 'string', default: EBPF_DEFAULTS.object_path, description: 'Compiled BPF object; empty: the shipped one.' },
    ring_buffer_bytes: {
      type: 'integer',
      minimum: MIN_RING_BUFFER_BYTES,
      maximum: 1024 * 1024 * 1024,
      default: EBPF_DEFAULTS.ring_buffer_bytes,
      description: 'Kernel ring buffer size in bytes (a power of two).',
    },
    emit_existing: { type: 'boolean', default: EBPF_DEFAULTS.emit_existing, description: 'Report processes running at start.' },
    proc_root: { type: 'string', minLength: 1, default: EBPF_DEFAULTS.proc_root, description: 'Proc file system walked at start.' },
    poll_timeout_ms: { type: 'integer', minimum: 10, maximum: 1000, default: EBPF_DEFAULTS.poll_timeout_ms, description: 'Longest ring-buffer wait.' },
    max_batch_records: { type: 'integer', minimum: 1, maximum: 65536, default: EBPF_DEFAULTS.max_batch_records, description: 'Records per batch.' },
    file_prefixes: {
      type: 'array',
      maxItems: 16,
      items: { type: 'string', pattern: '^/', minLength: 1, maxLength: 63 },
      default: DEFAULT_FILE_PREFIXES,
      description: 'Absolute path prefixes (at most 16, 63 bytes each) whose open, create and delete are reported.',
    },
  },
});
