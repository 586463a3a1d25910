import type { PluginManifest } from '../../../core/index.js';
import { scannerConfigSchema } from './config.js';

/** The actions this responder performs; both only read, so they also run in monitor mode. */
export const SCANNER_ACTIONS = ['memscan', 'filescan'] as const;

/** The worker-pool tasks this plugin registers (the module is worker.ts). */
export const SCAN_TASKS = { memory: 'scanner.memory', file: 'scanner.file' } as const;

/** Read by the CLI without importing the responder: `vigil scan` is declared here, run by `commands` in cli.ts. */
export const manifest: PluginManifest & { readonly kind: 'responder' } = Object.freeze({
  id: 'scanner',
  kind: 'responder',
  apiVersion: '2.2.0',
  version: '0.1.0',
  description: 'On-demand scans in the worker pool: process memory (Linux region scanner + YARA; PE-sieve / HollowsHunter on Windows) and files (YARA); results as scan.result events.',
  platforms: Object.freeze(['linux', 'win32'] as const),
  produces: Object.freeze(['scan.result']),
  consumes: Object.freeze([]),
  actions: Object.freeze([...SCANNER_ACTIONS]),
  // Scans only read: the response policy runs them in monitor mode too (and in monitor-mode playbooks).
  readOnlyActions: Object.freeze([...SCANNER_ACTIONS]),
  services: Object.freeze(['worker-pool'] as const),
  configSchema: scannerConfigSchema,
  commands: Object.freeze([
    Object.freeze({
      name: 'scan',
      description: 'Scan a process (memory regions + YARA; PE-sieve on Windows) or a file (YARA) now, outside the agent, and print the scan.result',
      options: Object.freeze([
        Object.freeze({ name: 'pid', value: 'n', description: 'the process to scan' }),
        Object.freeze({ name: 'file', value: 'path', description: 'the file to scan with YARA' }),
        Object.freeze({ name: 'yara', value: 'rules', description: "a YARA rules file or folder, used instead of the config's yara.rule_paths" }),
        Object.freeze({ name: 'engine', value: 'engine', choices: Object.freeze(['auto', 'yara-x', 'libyara-wasm']), description: 'YARA engine (default: the config\'s yara.engine)' }),
        Object.freeze({ name: 'json', description: 'print the ScanInfo as JSON' }),
      ]),
    }),
  ]),
});
