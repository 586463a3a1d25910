/**
 * procfs: a live Linux process sensor that polls /proc and reports process.start and
 * process.stop. Portable to any Linux with a proc file system; processes that live less than
 * one poll interval are missed (see README).
 */
import type { SensorContext, SensorInstance, SensorPlugin } from '../../../core/index.js';
import type { ProcfsConfig } from './config.js';
import { manifest } from './manifest.js';
import { ProcfsSensor, type ProcfsSensorOptions } from './sensor.js';

export { PROCFS_DEFAULTS, MIN_POLL_INTERVAL_MS, procfsConfigSchema, type ProcfsConfig } from './config.js';
export { ProcfsSensor, DEFAULT_CLOCK_TICKS, readClockTicks, type ProcfsSensorOptions } from './sensor.js';

export { manifest } from './manifest.js';

/** Build a sensor with non-config options (clock ticks, passwd path); `create` does no I/O. */
export function createProcfsSensor(ctx: SensorContext, options: ProcfsSensorOptions = {}): SensorInstance {
  // ctx.config is validated against procfsConfigSchema, with defaults, by the core.
  return new ProcfsSensor(ctx, ctx.config as unknown as ProcfsConfig, options);
}

export const plugin: SensorPlugin = Object.freeze({
  manifest,
  create: (ctx: SensorContext): SensorInstance => createProcfsSensor(ctx),
});
