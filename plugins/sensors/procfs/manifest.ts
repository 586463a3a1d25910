import type { PluginManifest } from '../../../core/index.js';
import { procfsConfigSchema } from './config.js';

/** Read by the CLI without importing the sensor. */
export const manifest: PluginManifest & { readonly kind: 'sensor' } = Object.freeze({
  id: 'procfs',
  kind: 'sensor',
  apiVersion: '2.0.0',
  version: '0.1.0',
  description: 'Linux process start/stop by polling /proc (pid + start time identity)',
  platforms: Object.freeze(['linux'] as const),
  produces: Object.freeze(['process.start', 'process.stop']),
  consumes: Object.freeze([]),
  delivery: 'live',
  configSchema: procfsConfigSchema,
});
