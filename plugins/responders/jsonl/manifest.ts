import type { PluginManifest } from '../../../core/index.js';
import { jsonlConfigSchema } from './config.js';

/** Read by the CLI without importing the responder. */
export const manifest: PluginManifest & { readonly kind: 'responder' } = {
  id: 'jsonl',
  kind: 'responder',
  apiVersion: '2.0.0',
  version: '0.1.0',
  description: 'Writes detections as JSON lines to a file rotated by size.',
  platforms: ['any'],
  produces: [],
  consumes: ['detection'],
  actions: ['alert'],
  configSchema: jsonlConfigSchema,
};
