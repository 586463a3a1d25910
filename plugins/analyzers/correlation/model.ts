/** Correlation rule documents (as written) and their compiled form. */
import type { EventDraft } from '../../../core/index.js';
import type { RuleHeader } from '../../../lib/rules/index.js';
import type { CorrCondition, Literal } from './condition.js';

/** A fixture item: an event, or a detection of another rule (for `rule` steps). */
export type FixtureItem = EventDraft | { detection: string; event?: EventDraft; evidence?: EventDraft[] };

export interface CorrelationFixtures {
  /** Each fixture is an ordered list of items that must make the rule fire. */
  positive?: FixtureItem[][];
  /** Each must not make the rule fire. */
  negative?: FixtureItem[][];
}

/** The header every rule document has (lib/rules), with correlation fixtures. */
interface CommonDoc extends RuleHeader {
  fixtures?: CorrelationFixtures;
}

export interface StepDoc {
  name?: string;
  /** Consume detections of this rule (or any of these rules). */
  rule?: string | string[];
  /** Consume events matching this condition. */
  match?: unknown;
  event?: string[];
  /** Key paths in this step's event. */
  by: string[];
  /**
   * Where the key this step waits for comes from: `$<n>.<path>` / `$<name>.<path>` in an
   * earlier step's event. Default: the previous step's `by` in the previous step's event.
   */
  join_on?: string[];
  /** "This step did NOT happen within the span" (last step only). */
  absent?: boolean;
}

export interface SequenceDoc extends CommonDoc {
  kind: 'sequence';
  steps: StepDoc[];
  maxspan_ms?: number;
  maxspan?: string | number;
  until?: { event?: string[]; match: unknown; by?: string[] };
}

export interface CountConditionDoc {
  gt?: number;
  gte?: number;
  lt?: number;
  lte?: number;
  eq?: number;
}

export interface CountDoc extends CommonDoc {
  kind: 'count';
  event?: string[];
  rule?: string | string[];
  match?: unknown;
  group_by: string[];
  /** Per referenced rule id, group-by paths that replace `group_by` (Sigma aliases). */
  group_by_rule?: Record<string, string[]>;
  timespan?: string | number;
  timespan_ms?: number;
  condition: CountConditionDoc;
  /** Count distinct values of this path instead of events. */
  value_count?: string;
}

export type CorrelationRuleDoc = SequenceDoc | CountDoc;

/** `detection.<path>` reads the detection; other paths read the subject event. */
export type ItemKeyFn = (subj: object, det: object | null) => string | undefined;

export interface CompiledStep {
  readonly index: number;
  readonly name?: string;
  readonly types: ReadonlySet<string> | null;
  readonly ruleIds: readonly string[] | null;
  readonly cond: CorrCondition | null;
  readonly key: ItemKeyFn;
  /** How the key for this step is computed once the previous step matched (index ≥ 1). */
  readonly join: JoinFn | null;
  /** True when the step waits under the previous step's own `by` key (no join_on). */
  readonly defaultJoin: boolean;
  readonly absent: boolean;
  /** Positions of process-identity components in the key this step waits under. */
  readonly identityParts: readonly number[];
  readonly keyArity: number;
}

/** Subjects of steps 0..k (index = step); returns the key the next step waits under. */
export type JoinFn = (subjects: (i: number) => object | undefined, dets: (i: number) => object | null) => string | undefined;

export interface CompiledSequence {
  readonly kind: 'sequence';
  readonly doc: SequenceDoc;
  readonly hash: string;
  readonly spanMs: number;
  readonly steps: readonly CompiledStep[];
  readonly until: { types: ReadonlySet<string> | null; cond: CorrCondition; key: ItemKeyFn } | null;
}

export interface CompiledCount {
  readonly kind: 'count';
  readonly doc: CountDoc;
  readonly hash: string;
  readonly spanMs: number;
  readonly types: ReadonlySet<string> | null;
  readonly ruleIds: readonly string[] | null;
  readonly cond: CorrCondition | null;
  readonly key: ItemKeyFn;
  readonly keyByRule: ReadonlyMap<string, ItemKeyFn>;
  readonly distinct: ItemKeyFn | null;
  readonly condition: CountConditionDoc;
  /** Fires as soon as the count reaches `threshold` (only gt/gte given); else evaluated when the window closes. */
  readonly threshold: number | null;
  readonly identityParts: readonly number[];
  readonly keyArity: number;
}

export type CompiledCorrelation = CompiledSequence | CompiledCount;

export interface NamedDefs {
  lists: Record<string, Literal[]>;
  macros: Record<string, unknown>;
}
