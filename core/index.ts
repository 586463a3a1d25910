/**
 * Vigil's public SDK: the only module plugins import from the core.
 * Third-party plugins list `vigil` as a peer dependency and import from `vigil/sdk`.
 */
import 'reflect-metadata';

export type * from './events/event.js';
export type * from './events/detection.js';
export { SEVERITIES } from './events/detection.js';
export { EVENT_TYPES, isKnownEventType, type KnownEventType } from './events/event-types.js';
export type * from './plugin/types.js';
export { PLUGIN_API_VERSION, DETECTION_RULE_KIND } from './plugin/types.js';
// The check the kernel applies to a plugin's `config` against its manifest `configSchema`
// (defaults filled in place): plugin tests validate their configs exactly as the agent will.
export { validateWithSchema, type ConfigFinding } from './config/validate.js';
export { PluginCounters, type CountersSnapshot } from './telemetry/counters.js';
export { createLogger, silentLogger, type Logger } from './telemetry/logger.js';
export { VigilError, ERROR_CODES, describeError, errorKind, isVigilError, type ErrorCode } from './errors/index.js';
export { WORKER_POOL, PROCESS_TABLE, ROOT_LOGGER, AGENT_CONFIG, BLOCK_POOL, inject, injectable } from './di/index.js';
export type { WorkerPool, RunOptions } from './workers/index.js';
export { BlockPool, PLAIN_BLOCKS, type BlockSource, type BlockPoolCounters, fixMmapThreshold, nativeHeapStatus, DEFAULT_MMAP_THRESHOLD, type NativeHeapStatus } from './memory/index.js';
export type { ProcessTable, ProcessRecord } from './process-table/index.js';
export { projectRoot, datasetsDir, listFiles, filesNamedAbove, SHARED_RULE_DEFINITIONS } from './paths.js';
// Every data file and folder a plugin writes is private to the agent's user (0600 / 0700).
export { ensurePrivateDir, ensurePrivateFile, ensurePrivateParent, openPrivateFile, openPrivateFileSync, tightenPrivate, PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, type PrivateFileLog, type PrivateOpenFlags } from './private-files.js';
export { stampDraft } from './events/stamp.js';
