import { PLUGIN_API_VERSION, type PluginManifest } from '../../../core/index.js';
import { windowsEventTypes } from '../../../lib/windows/index.js';
import { sysmonConfigSchema } from './config.js';

/** Read by the CLI without importing the sensor. */
export const manifest: PluginManifest & { readonly kind: 'sensor' } = Object.freeze({
  id: 'sysmon',
  kind: 'sensor',
  apiVersion: PLUGIN_API_VERSION,
  version: '0.1.0',
  description:
    'Windows: Sysmon events live from the event log (EvtSubscribe pull model, batched EvtNext on a worker thread, values rendered with cached contexts), normalized as replay normalizes them; a bookmark keeps restarts lossless. Needs an elevated agent.',
  platforms: Object.freeze(['win32'] as const),
  produces: Object.freeze(windowsEventTypes()),
  consumes: Object.freeze([]),
  delivery: 'live',
  configSchema: sysmonConfigSchema,
});
