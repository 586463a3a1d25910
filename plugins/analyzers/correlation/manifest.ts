import { PLUGIN_API_VERSION, type PluginManifest } from '../../../core/index.js';
import { CONFIG_SCHEMA } from './config.js';

/** Read by the CLI on its own: `vigil rules` imports the plugin for sequence and count rules. */
export const manifest: PluginManifest & { readonly kind: 'analyzer' } = {
  id: 'correlation',
  kind: 'analyzer',
  apiVersion: PLUGIN_API_VERSION,
  version: '1.0.0',
  description: 'Stateful correlation: sequences (A then B by the same process within a span, absent steps) and counts, over events and detections',
  platforms: ['any'],
  produces: [],
  consumes: ['*', 'detection'],
  configSchema: CONFIG_SCHEMA,
  ruleKinds: ['sequence', 'count'],
  replay: { sigmaPathsKey: 'sigma_paths' },
};
