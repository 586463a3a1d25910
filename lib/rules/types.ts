import type { EventDraft, VigilEvent, MatchedPredicate, RequestedAction, Severity } from '../../core/index.js';

/** A literal a rule compares against. */
export type Literal = string | number | boolean;

/** Where a rule came from: written natively or converted from Sigma. */
export type RuleOrigin = 'native' | 'sigma';

/** What every rule document says about itself, whatever its kind (detection, sequence, count). */
export interface RuleHeader {
  id: string;
  title: string;
  description?: string;
  version?: string;
  severity: Severity;
  tags?: string[];
  enabled?: boolean;
  response?: RequestedAction[];
  references?: string[];
  author?: string;
}

/** A rule as written in a rule file (see docs/rule-format.md). */
export interface RuleDoc extends RuleHeader {
  event: string[];
  match: unknown;
  exceptions?: unknown[];
  min_engine_version?: string;
  status?: string;
  falsepositives?: string[];
  origin?: RuleOrigin;
  fixtures?: { positive?: EventDraft[]; negative?: EventDraft[] };
  /** Vendor extensions (`x_*` keys) are kept as written and ignored by the engine. */
  [extension: `x_${string}`]: unknown;
}

/**
 * A predicate as written (docs/rule-format.md): one field, exactly one operator, optional
 * modifiers. The typed form is for code that writes rules (the Sigma importer); loaders take
 * `unknown` and the compiler checks it.
 */
export interface Predicate {
  field: string;
  equals_any?: Literal[];
  contains_any?: (string | number)[];
  contains_all?: (string | number)[];
  startswith_any?: (string | number)[];
  endswith_any?: (string | number)[];
  regex_any?: string[];
  /** A subset of `ims`; only with regex_any. */
  regex_flags?: string;
  glob_any?: string[];
  cidr_any?: string[];
  lt?: number;
  lte?: number;
  gt?: number;
  gte?: number;
  exists?: boolean;
  mask_any?: (string | number)[];
  mask_all?: (string | number)[];
  in_list?: string;
  equals_field?: string;
  not_equals_field?: string;
  cased?: boolean;
}

/** A condition as written: a combinator over conditions, a macro reference or a predicate. */
export type Condition =
  | { all: Condition[] }
  | { any: Condition[] }
  | { not: Condition }
  | { n_of: { n: number; of: Condition[] } }
  | { macro: string }
  | Predicate;

/** Named lists and macros, global across all loaded files. */
export type NamedLists = Readonly<Record<string, readonly Literal[]>>;
export type NamedMacros = Readonly<Record<string, unknown>>;

/** What a condition may refer to while it is compiled. */
export interface CompileEnv {
  lists?: NamedLists;
  macros?: NamedMacros;
  /** JSON pointer of the condition inside its rule (e.g. `/match`), used in errors and traces. */
  basePath?: string;
  /** Regexes see at most this many leading characters of a value (RE2 is linear, but not free). */
  maxRegexInputChars?: number;
  /**
   * Predicate operators a host adds to the language (say, one comparing with an earlier event),
   * by name. A built-in operator of the same name wins: a host cannot change what one means.
   */
  extraOperators?: Readonly<Record<string, ExtraOperator>>;
}

/** A predicate whose operator a host added, handed to its ExtraOperator once, at compile time. */
export interface ExtraPredicate {
  readonly op: string;
  /** The predicate's field, checked like every predicate's. */
  readonly field: string;
  /** The field's getter (arrays are returned whole: the operator decides how to compare them). */
  readonly get: (e: object) => unknown;
  /** The operand as written (`p[op]`), not yet checked: the operator checks it. */
  readonly operand: unknown;
  readonly cased: boolean;
  /** JSON pointer of the predicate; a bad operand is reported at `${path}/${op}`. */
  readonly path: string;
}

/**
 * Compiles one predicate of an added operator into its test. Throws ConditionError for a bad
 * operand. The test gets only the event: a host that needs more at evaluation time keeps it
 * where its test can read it (see docs/rule-format.md, "Operators a host adds").
 */
export type ExtraOperator = (p: ExtraPredicate) => (e: object) => boolean;

/** A literal that must occur in an event field for a condition to be able to match. */
export interface Anchor {
  field: string;
  /** `eq`: the field equals the key; the others: the (lower-cased) key occurs in it there. */
  kind: 'eq' | 'contains' | 'starts' | 'ends';
  /** For `eq`: `s:<lower-cased string>` or `n:<number>`; otherwise the lower-cased literal. */
  key: string;
}

/** One node of a condition as evaluated against one event (printable by explain). */
export interface PredicateTrace {
  /** JSON pointer inside the rule; inside a macro it continues after `macro:<name>`. */
  path: string;
  node: 'predicate' | 'all' | 'any' | 'not' | 'n_of' | 'macro';
  depth: number;
  field?: string;
  op?: string;
  /** The rule's operand as written. */
  expected?: unknown;
  /** The event value the predicate saw (truncated when large; undefined when missing). */
  value?: unknown;
  cased?: boolean;
  /** Macro name, for `macro` nodes. */
  name?: string;
  verdict: boolean;
  /** True when the node sits under an odd number of `not`s. */
  negated: boolean;
}

export interface CompiledCondition {
  test(e: object): boolean;
  explain(e: object): PredicateTrace[];
  /**
   * Literals at least one of which must hit for `test` to be true (a prefilter may skip the
   * condition when none hits); null when no such set can be derived; empty when the condition
   * can never be true.
   */
  readonly anchors: readonly Anchor[] | null;
}

/** A problem with one file or rule; the rule (or the whole file) was skipped. */
export interface LoadIssue {
  file: string;
  ruleId?: string;
  /** JSON pointer inside the file. */
  path: string;
  message: string;
  expected?: string;
  found?: string;
}

export interface LoadResult {
  rules: RuleDoc[];
  lists: Record<string, Literal[]>;
  macros: Record<string, unknown>;
  /** Where each list and each macro is defined. */
  listFileOf: Map<string, string>;
  macroFileOf: Map<string, string>;
  /** Files read: the shared lists and macros above the given paths, then the JSON files under them. */
  files: string[];
  /**
   * Shared-definitions files (`lists.json`) read from the folders above the given paths, not
   * among them: their lists and macros are there for the rules given, not linted as unused.
   */
  sharedAbove: string[];
  /** Rule id → the file it came from. */
  fileOf: Map<string, string>;
  /** Rule id → JSON pointer of the rule inside its file (`` for a single-rule file). */
  pointerOf: Map<string, string>;
  issues: LoadIssue[];
  /** Files holding correlation rules (`kind: sequence | count`), left to the correlation engine. */
  correlationFiles: string[];
}

export interface RuleHit {
  rule: RuleDoc;
  source: RuleOrigin;
  matched: MatchedPredicate[];
}

export interface CompiledRule {
  readonly doc: RuleDoc;
  readonly index: number;
  readonly source: RuleOrigin;
  readonly match: CompiledCondition;
  readonly exceptions: readonly CompiledCondition[];
  /** True when the event's type is one of the rule's and the rule fires (match and no exception). */
  test(e: object): boolean;
}

export interface RuleSetStats {
  rules: number;
  eventTypes: number;
  /** Rules that are candidates for every event of their type (no literal prefilter). */
  unindexed: number;
  compileMs: number;
}

export interface RuleSet {
  readonly rules: readonly CompiledRule[];
  /** Rules that could not be compiled (skipped). */
  readonly issues: readonly LoadIssue[];
  readonly stats: RuleSetStats;
  get(ruleId: string): CompiledRule | undefined;
  /** Evaluate every candidate rule for the event; onHit once per firing rule, in rule order. */
  match(e: VigilEvent | EventDraft, onHit: (hit: RuleHit) => void): void;
}

export type FindingSeverity = 'error' | 'warning';

export interface LintFinding {
  severity: FindingSeverity;
  file: string;
  ruleId?: string;
  path: string;
  code: string;
  message: string;
}

export interface LintReport {
  files: number;
  rules: number;
  errors: number;
  warnings: number;
  findings: LintFinding[];
}

export interface FixtureFailure {
  ruleId: string;
  file: string;
  /** `positive` fixtures must fire, `negative` ones must not; `missing` when a kind is absent. */
  kind: 'positive' | 'negative' | 'missing' | 'invalid';
  index?: number;
  message: string;
}

export interface TestReport {
  files: number;
  rules: number;
  passed: number;
  failed: number;
  fixtures: number;
  /** Every rule whose fixtures ran, with its verdict. */
  results: { ruleId: string; file: string; fixtures: number; passed: boolean }[];
  failures: FixtureFailure[];
  /** Load problems (rules that could not be tested). */
  issues: LoadIssue[];
}
