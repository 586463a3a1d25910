/** Vigil rule library: format, schema, compiler, indexed rule sets, lint, fixtures, explain. */
export { RULE_SCHEMA, RULE_SCHEMA_ID } from './schema.js';
export { validateRuleFile, validateRuleEnvelope, validatePackEnvelope, atPointer, type SchemaError } from './validate.js';
export { compileCondition, compareFieldValues, ConditionError, OPERATORS, type Operator } from './compile.js';
export { compileRuleSet, compileRule, matchedPredicates, type RuleSetOptions } from './rule-set.js';
export { loadRuleFiles, formatIssue, ENGINE_VERSION, type LoadOptions } from './loader.js';
export { readRulePack, listRuleFiles, parseRuleFileText, type RulePack, type RuleEntry, type PackReadOptions } from './pack-reader.js';
export { packRootOf, sharedDefinitionsOf, SHARED_RULE_DEFINITIONS } from './pack-files.js';
export { lintRules, formatFinding, issueCode } from './lint.js';
export { testRules } from './test-rules.js';
export { explainRule, UnknownRuleError, type ExplainResult } from './explain.js';
export { compileGetter, checkFieldPath, checkPathSyntax, FIELD_GROUPS, FieldPathError, type Getter } from './fields.js';
export { toNumber, parseIp, parseCidr } from './values.js';
export { AhoCorasick } from './aho-corasick.js';
export type {
  Anchor,
  CompileEnv,
  CompiledCondition,
  CompiledRule,
  Condition,
  ExtraOperator,
  ExtraPredicate,
  FindingSeverity,
  FixtureFailure,
  Literal,
  LintFinding,
  LintReport,
  LoadIssue,
  LoadResult,
  NamedLists,
  NamedMacros,
  Predicate,
  PredicateTrace,
  RuleDoc,
  RuleHeader,
  RuleHit,
  RuleOrigin,
  RuleSet,
  RuleSetStats,
  TestReport,
} from './types.js';
