import type { PluginManifest } from '../../../core/index.js';
import { alertStoreConfigSchema } from './config.js';

/** How many alerts `vigil alerts` shows without --limit. */
export const CLI_DEFAULT_LIMIT = 50;

/** Read by the CLI without importing the store: `vigil alerts` is declared here, run by `commands` in cli.ts. */
export const manifest: PluginManifest & { readonly kind: 'responder' } = {
  id: 'alert-store',
  kind: 'responder',
  apiVersion: '2.0.0',
  version: '0.1.0',
  description: 'Stores detections with their evidence and action results in an embedded SQLite database (WAL).',
  platforms: ['any'],
  produces: [],
  consumes: ['detection'],
  actions: ['alert'],
  configSchema: alertStoreConfigSchema,
  commands: [
    {
      name: 'alerts',
      description: 'List alerts from the alert store, newest first, with evidence and action results in --json',
      options: [
        { name: 'db', value: 'file', description: 'alert store database (default: the alert-store path from the config)' },
        { name: 'since', value: 'time', description: 'only alerts raised since an ISO time or a span back from now (30m, 1h, 7d)' },
        { name: 'severity', value: 'level', description: 'minimum severity: informational, low, medium, high, critical' },
        { name: 'rule', value: 'text', description: 'rule id, or part of the rule title' },
        { name: 'limit', value: 'n', description: `most alerts to show (default ${CLI_DEFAULT_LIMIT})` },
        { name: 'json', description: 'print a JSON array, each alert with its evidence and action results' },
        { name: 'actions', description: 'list the action journal instead: every response decision and outcome (who asked, rule, target, mode, outcome, reason)' },
      ],
    },
  ],
};
