/**
 * Types of the Sigma importer's own: what it adds to the native rule format (lib/rules), whose
 * rule, condition and literal types it produces.
 */
import type { Severity } from '../../core/index.js';
import type { Condition, RuleDoc } from '../rules/index.js';

/** Sigma-only metadata kept beside the rule (the engine accepts `x_`-prefixed properties). */
export interface SigmaExtension {
  status?: string;
  falsepositives?: string[];
  logsource: Record<string, string>;
  /** Sigma `name`, the handle correlation rules may use instead of the id. */
  name?: string;
  author?: string;
  date?: string;
  modified?: string;
  file: string;
}

/** A native rule converted from a Sigma detection rule: its optional parts filled, Sigma's metadata kept. */
export interface SigmaRuleDoc extends RuleDoc {
  description: string;
  version: string;
  tags: string[];
  references: string[];
  origin: 'sigma';
  match: Condition;
  x_sigma: SigmaExtension;
}

export type CorrelationType = 'event_count' | 'value_count' | 'temporal' | 'temporal_ordered';

/** Count condition of a correlation: every given bound must hold. */
export interface CorrelationCondition {
  gt?: number;
  gte?: number;
  lt?: number;
  lte?: number;
  eq?: number;
}

/** A parsed and validated Sigma correlation rule, handed to the correlation engine as is. */
export interface SigmaCorrelationDoc {
  id: string;
  title: string;
  description?: string;
  name?: string;
  severity?: Severity;
  tags: string[];
  references: string[];
  status?: string;
  type: CorrelationType;
  /** Referenced rules, by Sigma id or `name`, in the order given (matters for temporal_ordered). */
  rules: string[];
  group_by: string[];
  timespan_ms: number;
  /** Absent for temporal types that did not state one (then all referenced rules must match). */
  condition?: CorrelationCondition;
  /** value_count: the field whose distinct values are counted. */
  field?: string;
  /** alias → (rule id or name → field name). */
  aliases: Record<string, Record<string, string>>;
  /** When true, the referenced rules also alert on their own. */
  generate: boolean;
  file: string;
}

export interface SigmaOptions {
  /** Values for `|expand` placeholders, keyed by name (`known_cdcs` or `%known_cdcs%`). */
  placeholders?: Record<string, string[]>;
}

export interface SkippedSigma {
  file: string;
  id?: string;
  title?: string;
  /** logsource.product of the skipped rule, when it has one. */
  product?: string;
  /** `<kind>: <detail>`; the kind is counted in stats.skipped_by_kind. */
  reason: string;
}

export interface SigmaLoadStats {
  files: number;
  /** Files that could not be read or parsed as YAML at all. */
  file_errors: number;
  /** YAML documents seen (after multi-document merging). */
  documents: number;
  rules: number;
  correlations: number;
  skipped: number;
  skipped_by_kind: Record<string, number>;
  /** Converted rules per `product/category-or-service`. */
  rules_by_logsource: Record<string, number>;
}

export interface SigmaLoadResult {
  rules: SigmaRuleDoc[];
  correlations: SigmaCorrelationDoc[];
  skipped: SkippedSigma[];
  stats: SigmaLoadStats;
}

/** Raised inside the converter; caught per rule and turned into a skip reason. */
export class SigmaConversionError extends Error {
  readonly kind: string;
  constructor(kind: string, message: string) {
    super(message);
    this.name = 'SigmaConversionError';
    this.kind = kind;
  }
  get reason(): string {
    return `${this.kind}: ${this.message}`;
  }
}
