/**
 * etw: a live Windows sensor on an ETW real-time trace session (administrator). Kernel-Process
 * (process start / stop, image load, thread start), Kernel-Network (TCP connects), DNS-Client
 * (queries) and PowerShell (script blocks), decoded through TDH; see README.
 */
import type { SensorContext, SensorInstance, SensorPlugin } from '../../../core/index.js';
import type { EtwConfig } from './config.js';
import { manifest } from './manifest.js';
import { EtwSensor, type EtwSensorOptions } from './sensor.js';

export { ETW_DEFAULTS, DEFAULT_PROVIDERS, KERNEL_PROCESS, KERNEL_NETWORK, DNS_CLIENT, POWERSHELL, etwConfigSchema, type EtwConfig, type EtwProviderConfig } from './config.js';
export { ETW_ERRORS, EtwError, type EtwErrorCode } from './errors.js';
export { EtwSensor, type EtwSensorOptions } from './sensor.js';
export { EtwMapper, PROVIDER_NAMES } from './map.js';
export { SchemaCache, ipv6Text, decodeEvent, decodeUserData, parseEventInfo, readHeader, schemaKey, InType, OutType, PropertyFlags, type DecodedEvent, type EventSchema } from './decode.js';
export { manifest } from './manifest.js';

/** Build a sensor with non-config options (a test's DLL doubles); `create` does no I/O. */
export function createEtwSensor(ctx: SensorContext, options: EtwSensorOptions = {}): EtwSensor {
  return new EtwSensor(ctx, ctx.config as unknown as EtwConfig, options);
}

export const plugin: SensorPlugin = Object.freeze({
  manifest,
  create: (ctx: SensorContext): SensorInstance => createEtwSensor(ctx),
});
