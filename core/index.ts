/**
 * Vigil's public SDK: the only module plugins import from the core. It carries contracts
 * only: event, detection, action and plugin types, constants, VigilError and the core's error
 * codes, the DI service tokens, and the rule of which files the agent trusts (fileTrustProblem). What plugin tests need is in the `vigil/testing` kit.
 * Third-party plugins list `vigil` as a peer dependency and import from `vigil/sdk`.
 * Every export is part of plugin API PLUGIN_API_VERSION: an addition is a minor bump, a
 * removal a major one (test/core/sdk-exports.test.ts holds the list).
 */
import 'reflect-metadata';

export type * from './events/event.js';
export type * from './events/detection.js';
export { SEVERITIES } from './events/detection.js';
export { EVENT_TYPES, isKnownEventType, type KnownEventType } from './events/event-types.js';
export type * from './plugin/types.js';
export { PLUGIN_API_VERSION, DETECTION_RULE_KIND } from './plugin/types.js';
export type { ServiceName } from './plugin/services.js';
export { ERROR_STAGES, ERROR_STAGE_MEANINGS, DISCARD_REASONS, type ErrorStage, type DiscardReason, type PluginCounters, type CountersSnapshot } from './telemetry/counters.js';
export type { Logger } from './telemetry/logger.js';
export { VigilError, ERROR_CODES, defineErrorCodes, describeError, errorKind, isVigilError, type ErrorCode, type ErrorCodeTable, type VigilErrorCode } from './errors/index.js';
export { WORKER_POOL, PROCESS_TABLE, inject, injectable } from './di/index.js';
export type { WorkerPool, RunOptions } from './workers/index.js';
export type { ProcessTable, ProcessRecord } from './process-table/index.js';
export { fileTrustProblem, folderTrustProblem, STRICT_FILE_MODES_ENV } from './file-trust.js';
