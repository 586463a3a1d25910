import type { PluginManifest } from '../../../core/index.js';
import { ETW_DEFAULTS, etwConfigSchema } from './config.js';

/** Read by the CLI without importing the sensor. */
export const manifest: PluginManifest & { readonly kind: 'sensor' } = Object.freeze({
  id: 'etw',
  kind: 'sensor',
  apiVersion: '2.0.0',
  version: '0.1.0',
  description:
    'Windows ETW real-time session (administrator): Kernel-Process process start/stop, image load and remote thread creation, Kernel-Network TCP connects, DNS-Client queries and PowerShell script blocks, decoded through TDH',
  platforms: Object.freeze(['win32'] as const),
  produces: Object.freeze(['process.start', 'process.stop', 'image.load', 'thread.remote_create', 'net.connect', 'dns.query', 'script.block']),
  consumes: Object.freeze([]),
  delivery: 'live',
  // The default session name; a configured other name is still one session per agent.
  exclusive: Object.freeze([`etw:${ETW_DEFAULTS.session_name}`]),
  configSchema: etwConfigSchema,
});
