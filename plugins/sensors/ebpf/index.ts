/**
 * ebpf: a live Linux process sensor in the kernel. CO-RE BPF programs (driver/linux) report
 * every exec with its program, argv and cwd as the kernel saw them, every fork and every
 * exit; a /proc walk at start seeds the process table. Needs root and a kernel with BTF; its
 * start fails with a VIGIL_ERR_EBPF_* code naming what is missing (see README).
 */
import type { SensorContext, SensorInstance, SensorPlugin } from '../../../core/index.js';
import type { EbpfConfig } from './config.js';
import { manifest } from './manifest.js';
import { EbpfSensor, type EbpfSensorOptions } from './sensor.js';

export { EBPF_DEFAULTS, ebpfConfigSchema, type EbpfConfig } from './config.js';
export { EBPF_ERRORS, EbpfError, type EbpfErrorCode } from './errors.js';
export { EbpfSensor, SHIPPED_OBJECT, BTF_PATH, type EbpfSensorOptions } from './sensor.js';
export { decodeRecord, RecordDecodeError, HEADER_BYTES, EXT_BYTES, ABI_VERSION, type KernelRecord } from './decode.js';
export { manifest } from './manifest.js';

/** Build a sensor with non-config options; `create` does no I/O. */
export function createEbpfSensor(ctx: SensorContext, options: EbpfSensorOptions = {}): EbpfSensor {
  return new EbpfSensor(ctx, ctx.config as unknown as EbpfConfig, options);
}

export const plugin: SensorPlugin = Object.freeze({
  manifest,
  create: (ctx: SensorContext): SensorInstance => createEbpfSensor(ctx),
});
