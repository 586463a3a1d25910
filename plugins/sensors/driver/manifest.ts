import type { PluginManifest } from '../../../core/index.js';
import { driverConfigSchema } from './config.js';

/** Read by the CLI without importing the sensor. */
export const manifest: PluginManifest & { readonly kind: 'sensor' } = Object.freeze({
  id: 'driver',
  kind: 'sensor',
  apiVersion: '2.0.0',
  version: '0.1.0',
  description:
    'Windows kernel events from the Vigil driver (process start/stop, remote threads, image loads, handle access to protected processes with the rights stripped in enforce mode) and the callback tamper check',
  platforms: Object.freeze(['win32'] as const),
  produces: Object.freeze(['process.start', 'process.stop', 'thread.remote_create', 'image.load', 'process.access', 'sensor.error']),
  consumes: Object.freeze([]),
  delivery: 'live',
  configSchema: driverConfigSchema,
});
