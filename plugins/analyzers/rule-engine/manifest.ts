import { DETECTION_RULE_KIND, type PluginManifest } from '../../../core/index.js';

const configSchema = {
  type: 'object',
  properties: {
    rule_paths: {
      type: 'array',
      items: { type: 'string', minLength: 1, 'x-vigil-path': 'existing' },
      default: ['rules'],
      description: 'Rule files or folders (relative paths: see the config file rules); each must exist.',
    },
    sigma_paths: {
      type: 'array',
      items: { type: 'string', minLength: 1, 'x-vigil-path': 'existing' },
      default: [],
      description: 'Sigma YAML files or folders to import; each must exist.',
    },
    sigma_placeholders: {
      type: 'object',
      additionalProperties: { type: 'array', items: { type: 'string' } },
      default: {},
      description: 'Values for Sigma %placeholder% expansion.',
    },
    watch: { type: 'boolean', default: false, description: 'Reload when a rule file changes.' },
    max_regex_input_chars: { type: 'integer', minimum: 1, default: 65536, description: 'Regexes see at most this many leading characters of a value.' },
  },
  additionalProperties: false,
} as const;

/** Read by the CLI without importing the engine: `vigil rules` imports the module for detection rules. */
export const manifest: PluginManifest & { readonly kind: 'analyzer' } = {
  id: 'rule-engine',
  kind: 'analyzer',
  apiVersion: '2.0.0',
  version: '1.0.0',
  description: 'Native JSON rules and imported Sigma rules, compiled to indexed closures.',
  platforms: ['any'],
  produces: [],
  consumes: ['*'],
  configSchema,
  ruleKinds: [DETECTION_RULE_KIND],
  replay: { sigmaPathsKey: 'sigma_paths' },
};
