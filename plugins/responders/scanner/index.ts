import type { ResponderPlugin } from '../../../core/index.js';
import type { ScannerConfig } from './config.js';
import { manifest } from './manifest.js';
import { ScannerResponder, type ScannerOptions } from './responder.js';

/** Build the responder with non-config options (another /proc, another platform's scanner); `create` does no I/O. */
export function scannerPlugin(options: ScannerOptions = {}): ResponderPlugin<ScannerConfig> {
  return {
    manifest,
    create(ctx) {
      return new ScannerResponder(ctx, options);
    },
  };
}

/** memscan and filescan in the core worker pool, with scan.result events and a per-(identity, image) cache. */
export const plugin: ResponderPlugin<ScannerConfig> = scannerPlugin();

export { commands, scanCommand, formatScan, exitCode, SCAN_EXIT } from './cli.js';
export { manifest, SCANNER_ACTIONS, SCAN_TASKS } from './manifest.js';
export { scannerConfigSchema, SCANNER_DEFAULTS, type ScannerConfig } from './config.js';
export { ScannerResponder, WORKER_MODULE, type ScannerOptions } from './responder.js';
export { ScanCache } from './cache.js';
export { ImageHashes, identityOf, liveProcess, sameProcess } from './identity.js';
export { loadRuleSet, pickEngine, ruleSetHash } from './ruleset.js';
export { scanFile, scanMemory, yaraVerdict, RECYCLE_EXIT_CODE, type FileTask, type MemoryTask, type RuleSetRef, type TaskOutput } from './scans.js';
export { SCANNER_ERRORS, ScannerError } from './errors.js';
