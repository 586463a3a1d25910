/**
 * `vigil/testing`: what plugin tests need. Contexts come from the kernel's own factory
 * (core/plugin/context.ts) with recording sinks, configs are validated as the kernel
 * validates them, and the conformance suite every plugin must pass runs on them.
 */
export { recordingContext, instantiate, pluginConfig, type Recording, type RecordingOptions, type LogLine, type HasManifest } from './context.js';
export { checkConformance, STOP_DEADLINE_MS } from './conformance.js';
export { sampleEvents, sampleDetection, stampDraft, type SampleDetectionOptions } from './samples.js';
export { validateWithSchema, type ConfigFinding } from '../core/config/validate.js';
export { PluginCounters } from '../core/telemetry/counters.js';
export { silentLogger } from '../core/telemetry/logger.js';
export { projectRoot, datasetsDir } from '../core/paths.js';
