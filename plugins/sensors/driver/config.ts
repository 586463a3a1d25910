import type { JsonSchema } from '../../../core/index.js';

export interface DriverConfig {
  /** Win32 path of the driver's device. */
  readonly device: string;
  /** Read IOCTLs kept pending at once. */
  readonly pending_reads: number;
  /** monitor: report handle access to protected processes; enforce: also strip the rights. */
  readonly mode: 'monitor' | 'enforce';
  /** Protected image names (file names, compared on the kernel's first 15 characters); lsass.exe is always added. */
  readonly protect_images: readonly string[];
  /** Callers whose handles are never stripped (image file names). */
  readonly allow_images: readonly string[];
  /** How often the callback canary is armed; 0 turns the tamper check off. */
  readonly canary_interval_ms: number;
  /** Also start a short-lived child each time, whose process start must be reported. */
  readonly canary_process: boolean;
  /** A canary not back within this is a tamper finding. */
  readonly canary_deadline_ms: number;
  /** Processes remembered (pid + creation time → image); past it the oldest is forgotten. */
  readonly max_processes: number;
}

export const DRIVER_DEFAULTS: DriverConfig = Object.freeze({
  device: '\\\\.\\VigilDrv',
  pending_reads: 4,
  mode: 'monitor',
  protect_images: Object.freeze([]) as readonly string[],
  allow_images: Object.freeze([]) as readonly string[],
  canary_interval_ms: 60_000,
  canary_process: true,
  canary_deadline_ms: 10_000,
  max_processes: 65_536,
});

const name = { type: 'string', minLength: 1, maxLength: 63, pattern: '^[^\\\\/]+$' } as const;

export const driverConfigSchema: JsonSchema = Object.freeze({
  type: 'object',
  additionalProperties: false,
  properties: {
    device: { type: 'string', minLength: 1, default: DRIVER_DEFAULTS.device, description: "The driver's device path." },
    pending_reads: { type: 'integer', minimum: 1, maximum: 64, default: DRIVER_DEFAULTS.pending_reads, description: 'Read IOCTLs kept pending.' },
    mode: { type: 'string', enum: ['monitor', 'enforce'], default: DRIVER_DEFAULTS.mode, description: 'monitor reports; enforce strips the rights too.' },
    protect_images: { type: 'array', maxItems: 15, items: name, default: [], description: 'Protected image file names (lsass.exe always).' },
    allow_images: { type: 'array', maxItems: 16, items: name, default: [], description: 'Callers never stripped.' },
    canary_interval_ms: { type: 'integer', minimum: 0, maximum: 3_600_000, default: DRIVER_DEFAULTS.canary_interval_ms, description: 'Tamper canary interval (0: off).' },
    canary_process: { type: 'boolean', default: DRIVER_DEFAULTS.canary_process, description: 'Also a process-start canary (a short-lived child).' },
    canary_deadline_ms: { type: 'integer', minimum: 100, maximum: 600_000, default: DRIVER_DEFAULTS.canary_deadline_ms, description: 'Longest wait for a canary.' },
    max_processes: { type: 'integer', minimum: 1024, maximum: 1_048_576, default: DRIVER_DEFAULTS.max_processes, description: 'Processes remembered for image names.' },
  },
});
