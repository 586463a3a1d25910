/**
 * sysmon: Sysmon events live from the Windows event log. The pull model (a subscription with
 * a signal event, batched EvtNext on a reader thread), values rendered through cached render
 * contexts (XML as the fallback), normalized by lib/windows exactly as `vigil replay` of the
 * same events, and a bookmark so a restart neither loses nor repeats events. Needs an elevated
 * agent; access denied and a missing channel fail the start with a code saying what to do.
 */
import type { SensorContext, SensorInstance, SensorPlugin } from '../../../core/index.js';
import type { SysmonConfig } from './config.js';
import { manifest } from './manifest.js';
import { SysmonSensor, type SysmonSensorOptions } from './sensor.js';

export { SYSMON_DEFAULTS, sysmonConfigSchema, type SysmonConfig } from './config.js';
export { SYSMON_ERRORS, SysmonError, type SysmonErrorCode } from './errors.js';
export { SysmonSensor, BOOKMARK_FILE, type SysmonSensorOptions } from './sensor.js';
export { recordFromValues, systemFromBuffer, systemFromReader, systemFromValues, dataFromReader, dataFromValues, dataNamesOfXml, dataXPath } from './records.js';
export { manifest } from './manifest.js';

/** Build a sensor with non-config options (test doubles of the DLLs); `create` does no I/O. */
export function createSysmonSensor(ctx: SensorContext, options: SysmonSensorOptions = {}): SysmonSensor {
  return new SysmonSensor(ctx, ctx.config as unknown as SysmonConfig, options);
}

export const plugin: SensorPlugin = Object.freeze({
  manifest,
  create: (ctx: SensorContext): SensorInstance => createSysmonSensor(ctx),
});
