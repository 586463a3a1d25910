/**
 * driver: the Windows kernel sensor on the Vigil driver (driver/windows). See docs/driver.md.
 */
import type { SensorContext, SensorInstance, SensorPlugin } from '../../../core/index.js';
import type { DriverConfig } from './config.js';
import { manifest } from './manifest.js';
import { DriverSensor } from './sensor.js';

export { DRIVER_DEFAULTS, driverConfigSchema, type DriverConfig } from './config.js';
export { DRIVER_ERRORS, DriverSensorError, type DriverErrorCode } from './errors.js';
export { DriverSensor, driverPolicy } from './sensor.js';
export { normalizeDriverRecord, processGuid } from './normalize.js';
export { manifest } from './manifest.js';

export const plugin: SensorPlugin = Object.freeze({
  manifest,
  create: (ctx: SensorContext): SensorInstance => new DriverSensor(ctx, ctx.config as unknown as DriverConfig),
});
