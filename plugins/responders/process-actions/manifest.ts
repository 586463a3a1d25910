import type { PluginManifest } from '../../../core/index.js';
import { processActionsConfigSchema } from './config.js';

/** The actions this responder performs; the response policy routes requests for them here. */
export const PROCESS_ACTIONS = ['kill', 'kill_tree', 'suspend', 'resume'] as const;

/** Read by the CLI without importing the responder. */
export const manifest: PluginManifest & { readonly kind: 'responder' } = Object.freeze({
  id: 'process-actions',
  kind: 'responder',
  apiVersion: '2.0.0',
  version: '0.1.0',
  description: 'Kills, suspends and resumes processes (and process trees) through pidfds (Linux) or a checked process handle (Windows), after re-checking the target identity; success only once confirmed.',
  platforms: Object.freeze(['linux', 'win32'] as const),
  produces: Object.freeze([]),
  consumes: Object.freeze([]),
  actions: Object.freeze([...PROCESS_ACTIONS]),
  configSchema: processActionsConfigSchema,
});
