import type { PluginManifest } from '../../../core/index.js';
import { consoleConfigSchema } from './config.js';

/** Read by the CLI without importing the responder. */
export const manifest: PluginManifest & { readonly kind: 'responder' } = {
  id: 'console',
  kind: 'responder',
  apiVersion: '2.0.0',
  version: '0.1.0',
  description: 'Prints detections as readable lines (time, severity, rule, actor, host) on the console.',
  platforms: ['any'],
  produces: [],
  consumes: ['detection'],
  actions: ['alert'],
  configSchema: consoleConfigSchema,
  // `vigil replay --json` keeps stdout for its summary.
  replay: { streamKey: 'stream' },
};
