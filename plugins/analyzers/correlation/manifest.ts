import { PLUGIN_API_VERSION, type PluginManifest } from '../../../core/index.js';

/**
 * The engine's DEFAULT_SLICE_MS, written out so that reading the manifest does not load the
 * engine (a test holds the two equal).
 */
const DEFAULT_SLICE_MS = 2;

const CONFIG_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    rule_paths: { type: 'array', items: { type: 'string' }, default: ['rules/correlation'] },
    sigma_paths: { type: 'array', items: { type: 'string' }, default: [] },
    max_partial_per_rule: { type: 'integer', minimum: 1, default: 200_000 },
    max_partial_total: { type: 'integer', minimum: 1, default: 1_000_000 },
    clock: { enum: ['event', 'wall'], default: 'event' },
    condition_compiler: { enum: ['auto', 'builtin'], default: 'auto' },
    tick_ms: { type: 'integer', minimum: 10, default: 250 },
    slice_ms: { type: 'number', minimum: 0.5, maximum: 50, default: DEFAULT_SLICE_MS },
  },
} as const;

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
