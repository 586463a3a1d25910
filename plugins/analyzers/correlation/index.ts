/**
 * The correlation analyzer: stateful sequences and counts over events and detections.
 * Rule format, semantics and limits: docs/correlation.md.
 */
import { PLUGIN_API_VERSION, type AnalyzerPlugin, type PluginCliRegistrar } from '../../../core/index.js';
import { CorrelationAnalyzer } from './analyzer.js';
import { correlationTooling } from './cli.js';
import { CONFIG_SCHEMA, type CorrelationConfig } from './config.js';

export { CorrelationEngine, DEFAULT_SLICE_MS, type EngineTrace, type TraceOutcome, type EngineOptions, type EngineStats, type LoadReport, type EngineCounters } from './engine.js';
export { EventClock, WallClock, VirtualClock, createClock, type Clock, type ClockKind } from './clock.js';
export { compileCorrelation, CompileError, ruleHash } from './compile.js';
export { compileCorrCondition, ConditionError, type CorrCondition, type BoundLookup } from './condition.js';
export { loadCorrelationFiles, compileCorrelationDocs, validateCorrelationDoc, type CorrelationIssue, type LoadedCorrelations, type LoadedRule } from './loader.js';
export { loadCorrelations, type CorrelationLoad } from './load.js';
export type { CorrelationConfig } from './config.js';
export {
  testCorrelationRules,
  lintCorrelationRules,
  replayFixture,
  type CorrelationTestReport,
  type CorrelationLintReport,
  type CorrelationLintFinding,
  type CorrelationFixtureFailure,
} from './fixtures.js';
export {
  loadSigmaCorrelations,
  convertSigmaCorrelations,
  parseSigmaCorrelationDoc,
  type SigmaCorrelationInput,
  type SigmaConversion,
  type SigmaLoad,
  type SigmaLoadStats,
  type SigmaSkip,
} from './sigma.js';
export { CORRELATION_RULE_SCHEMA, SEQUENCE_RULE_SCHEMA, COUNT_RULE_SCHEMA } from './schema.js';
export { parseDuration } from './duration.js';
export type { DetectionLike } from './evidence.js';
export type * from './model.js';

export const plugin: AnalyzerPlugin<CorrelationConfig> = {
  manifest: {
    id: 'correlation',
    kind: 'analyzer',
    apiVersion: PLUGIN_API_VERSION,
    version: '1.0.0',
    description: 'Stateful correlation: sequences (A then B by the same process within a span, absent steps) and counts, over events and detections',
    platforms: ['any'],
    produces: [],
    consumes: ['*', 'detection'],
    configSchema: CONFIG_SCHEMA,
  },
  create(ctx) {
    return new CorrelationAnalyzer(ctx);
  },
};

export { correlationTooling } from './cli.js';
export { explainCorrelation, type CorrelationExplain, type ExplainItem, type ExplainLine, type ExplainOutcome } from './explain.js';
/** Contributes the sequence/count tooling to the core's `vigil rules lint|test|explain`. */
export const cli: PluginCliRegistrar = (_program, host) => host.registerRuleTooling?.(correlationTooling);
