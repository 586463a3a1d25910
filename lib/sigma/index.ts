/**
 * Sigma → Vigil native rule importer. See README.md and docs/sigma.md.
 */
export { loadSigmaRules, expandCollection, mergeDocs, SIGMA_MAX_ALIAS_COUNT } from './loader.js';
export { convertSigmaRule, nativeRuleId } from './convert.js';
export { parseCorrelation, parseTimespan } from './correlation.js';
export { SIGMA_ERROR_KINDS, isSigmaLoadError, sigmaReasonKind } from './skip-kinds.js';
export { parseCondition, selectIdentifiers, type ConditionNode } from './condition-parser.js';
export { convertDetection, convertSearchIdentifier, type DetectionContext } from './detection.js';
export { base64OffsetEncode, base64Encode, utf16Encode, windashVariants, WINDASH_CHARS } from './encoders.js';
export {
  resolveLogsource,
  pinnedEventIds,
  CATEGORY_SYSMON_IDS,
  WINDOWS_SERVICE_CHANNELS,
  LINUX_GENERIC_TYPES,
  RAW_ONLY_FIELDS,
  type ResolvedLogsource,
} from './logsource.js';
export {
  SigmaConversionError,
  type CorrelationCondition,
  type CorrelationType,
  type SigmaCorrelationDoc,
  type SigmaExtension,
  type SigmaLoadResult,
  type SigmaLoadStats,
  type SigmaOptions,
  type SigmaRuleDoc,
  type SkippedSigma,
} from './types.js';
