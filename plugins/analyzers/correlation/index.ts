/**
 * The correlation analyzer: stateful sequences and counts over events and detections.
 * Rule format, semantics and limits: docs/correlation.md.
 */
import type { AnalyzerPlugin } from '../../../core/index.js';
import { CorrelationAnalyzer } from './analyzer.js';
import type { CorrelationConfig } from './config.js';
import { manifest } from './manifest.js';

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
  manifest,
  create(ctx) {
    return new CorrelationAnalyzer(ctx);
  },
};

/** The sequence/count tooling of the core's `vigil rules lint|test|explain` (manifest `ruleKinds`). */
export { correlationTooling, correlationTooling as ruleTooling } from './cli.js';
export { explainCorrelation, type CorrelationExplain, type ExplainItem, type ExplainLine, type ExplainOutcome } from './explain.js';
export { manifest } from './manifest.js';
