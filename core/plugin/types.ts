import type { DependencyContainer } from 'tsyringe';
import type { EventDraft, VigilEvent } from '../events/event.js';
import type { ActionRequest, ActionResult, Detection, DetectionDraft } from '../events/detection.js';
import type { Logger } from '../telemetry/logger.js';
import type { PluginCounters } from '../telemetry/counters.js';

export type PluginKind = 'sensor' | 'analyzer' | 'responder';
export type Platform = 'win32' | 'linux' | 'darwin' | 'any';

/** A JSON Schema object (draft 2020-12 subset understood by ajv). */
export type JsonSchema = Readonly<Record<string, unknown>>;

/**
 * The static description of a plugin, readable without running its code.
 * The core checks it before calling `create`.
 */
export interface PluginManifest {
  /** Unique id, kebab-case (`sysmon`, `rule-engine`, `alert-store`). */
  readonly id: string;
  readonly kind: PluginKind;
  /** Plugin API version it was written against (semver). Majors must match the core's. */
  readonly apiVersion: string;
  /** The plugin's own version (semver). */
  readonly version: string;
  readonly description: string;
  readonly platforms: readonly Platform[];
  /** Event types a sensor emits (analyzers: `scan.result` etc. they may feed back). */
  readonly produces: readonly string[];
  /**
   * What it consumes: event types (`*` for all) for analyzers; `detection` and/or
   * `event` types for responders. Sensors consume nothing.
   */
  readonly consumes: readonly string[];
  /** Actions a responder performs (`kill`, `suspend`, `memscan`, `alert`). */
  readonly actions?: readonly string[];
  /** Resources only one plugin may hold at once (`etw:VigilSession`, `device:\\.\\Vigil`). */
  readonly exclusive?: readonly string[];
  /**
   * Sensors only: `live` sources drop-and-count under pressure; `replay` sources are
   * back-pressured so that replay never loses an event.
   */
  readonly delivery?: 'live' | 'replay';
  /** JSON Schema of the plugin's config block (defaults are applied from it). */
  readonly configSchema: JsonSchema;
}

/** Cleanup registered at acquisition time; awaited last-in first-out on stop. */
export type Disposer = () => void | Promise<void>;

/** What every plugin receives from the core. */
export interface BaseContext<C> {
  readonly id: string;
  /** Validated, frozen config with schema defaults applied. */
  readonly config: Readonly<C>;
  readonly logger: Logger;
  readonly counters: PluginCounters;
  /** Aborted when the plugin is being stopped. */
  readonly signal: AbortSignal;
  /** The plugin's own tsyringe child container (see core/di tokens). */
  readonly container: DependencyContainer;
  /** Register cleanup for a resource at the moment it is acquired. */
  defer(dispose: Disposer): void;
  /** Folder where the plugin may keep state across restarts (created 0700 on demand). */
  readonly dataDir: string;
  /** Host name stamped on events. */
  readonly hostName: string;
  /**
   * Resolve a path from the plugin's config: relative paths are relative to the config
   * file's folder (for the embedded default config, to Vigil's install folder).
   */
  resolvePath(path: string): string;
  /**
   * Report a runtime failure outside a core callback (e.g. a sensor's read loop died).
   * The core counts it and restarts the plugin with backoff, then detaches it.
   */
  fail(err: unknown): void;
}

export interface SensorContext<C = Record<string, unknown>> extends BaseContext<C> {
  /**
   * Hand an event to the core. Live sensors get `undefined` (a full queue drops and counts);
   * replay sensors get a Promise when the queue is full and must await it before the next
   * emit. Emitting a type not declared in `produces` throws VIGIL_ERR_PLUGIN_UNDECLARED_TYPE.
   */
  emit(draft: EventDraft): Promise<void> | undefined;
  /** Replay sensors: the source is exhausted (the agent may finish once queues drain). */
  finished(): void;
}

export interface AnalyzerContext<C = Record<string, unknown>> extends BaseContext<C> {
  detect(draft: DetectionDraft): void;
  /** Feed a derived event back onto the bus (only types in `produces`). */
  emit(draft: EventDraft): void;
}

export interface ResponderContext<C = Record<string, unknown>> extends BaseContext<C> {
  /** Report the outcome of an ActionRequest (stored with the detection, back on the bus). */
  result(result: ActionResult): void;
  /** Emit a derived event (e.g. `scan.result`) — only types in `produces`. */
  emit(draft: EventDraft): void;
}

/** The running instance returned by `create`. `create` does no I/O; `start` acquires. */
export interface PluginInstance {
  start(): Promise<void>;
  /** Idempotent; safe without start. The core also runs the deferred disposers after it. */
  stop(): Promise<void>;
}

export interface SensorInstance extends PluginInstance {
  /** Why there is nothing left to read (replay sensors). */
  summary?(): Readonly<Record<string, unknown>>;
}

export interface AnalyzerInstance extends PluginInstance {
  /** A batch of events of the consumed types, in bus order. */
  onEvents?(batch: readonly VigilEvent[]): void | Promise<void>;
  /** Detections raised by other analyzers (declare `detection` in consumes). */
  onDetections?(batch: readonly Detection[]): void | Promise<void>;
  /** Called by the agent on SIGHUP / reload requests. */
  reload?(): Promise<void>;
}

export interface ResponderInstance extends PluginInstance {
  onDetections?(batch: readonly Detection[]): void | Promise<void>;
  onActions?(batch: readonly ActionRequest[]): void | Promise<void>;
  onEvents?(batch: readonly VigilEvent[]): void | Promise<void>;
  /** Outcomes of actions (for stores that keep them with the detection). */
  onActionResults?(batch: readonly ActionResult[]): void | Promise<void>;
  /** Flush buffered output (called before stop and on demand). */
  flush?(): Promise<void>;
}

export interface SensorPlugin<C = Record<string, unknown>> {
  readonly manifest: PluginManifest & { readonly kind: 'sensor' };
  create(ctx: SensorContext<C>): SensorInstance;
}
export interface AnalyzerPlugin<C = Record<string, unknown>> {
  readonly manifest: PluginManifest & { readonly kind: 'analyzer' };
  create(ctx: AnalyzerContext<C>): AnalyzerInstance;
}
export interface ResponderPlugin<C = Record<string, unknown>> {
  readonly manifest: PluginManifest & { readonly kind: 'responder' };
  create(ctx: ResponderContext<C>): ResponderInstance;
}

/**
 * Optional export `cli` of a plugin module: adds subcommands to the `vigil` CLI
 * (e.g. `vigil rules lint`). Called with the commander program before parsing.
 */
export type PluginCliRegistrar = (program: import('commander').Command, host: CliHost) => void;

/** What the CLI offers a plugin's commands: its config block as the agent would see it. */
export interface CliHost {
  /**
   * The plugin's config (schema defaults applied) from `configFile` or the default config,
   * with a resolver for relative paths in it.
   */
  pluginConfig(id: string, configFile?: string): { config: Readonly<Record<string, unknown>>; resolvePath(path: string): string };
  /**
   * Contribute the lint/test/explain tooling for the rule kinds this plugin owns; the core's
   * `vigil rules lint|test|explain` hands each rule file to the tooling owning its kinds.
   * Optional only so that hosts typed against an earlier core still compile; the vigil CLI
   * always provides it.
   */
  registerRuleTooling?(tooling: RuleTooling): void;
}

// ---- Rule tooling: `vigil rules lint | test | explain` for every rule kind --------------

/**
 * The kind of a rule document without a `kind` property (a detection rule,
 * docs/rule-format.md). Other kinds are named by the document's `kind` (`sequence`, `count`).
 */
export const DETECTION_RULE_KIND = 'detection';

/** One problem found in a rule file. Printed as `severity: file: rule id: path: [code] message`. */
export interface RuleFinding {
  severity: 'error' | 'warning';
  /** The rule file ('' for definitions shared by several files, e.g. an unused list). */
  file: string;
  ruleId?: string;
  /** JSON pointer inside the file ('' = the whole file). */
  path: string;
  /** Stable short code (`schema`, `json`, `unknown-kind`, `contradiction` …). */
  code: string;
  message: string;
}

export interface RuleLintReport {
  files: number;
  rules: number;
  errors: number;
  warnings: number;
  findings: RuleFinding[];
}

/** A rule (or file) that could not be loaded, so its fixtures did not run. */
export interface RuleLoadProblem {
  file: string;
  ruleId?: string;
  path: string;
  message: string;
}

export interface RuleFixtureFailure {
  ruleId: string;
  file: string;
  /** `positive` must fire, `negative` must not; `missing` when a kind is absent; `invalid` for a bad fixture. */
  kind: 'positive' | 'negative' | 'missing' | 'invalid';
  /** Index of the fixture in its list. */
  index?: number;
  message: string;
}

/** One rule whose fixtures ran. */
export interface RuleTestResult {
  ruleId: string;
  /** The rule's kind (`detection`, `sequence`, `count` …). */
  kind: string;
  file: string;
  fixtures: number;
  passed: boolean;
}

export interface RuleTestReport {
  files: number;
  rules: number;
  passed: number;
  failed: number;
  fixtures: number;
  results: RuleTestResult[];
  failures: RuleFixtureFailure[];
  issues: RuleLoadProblem[];
}

export interface RuleExplainResult {
  ruleId: string;
  /** The rule fired for (at least one of) the events. */
  fired: boolean;
  /** Printable trace. */
  text: string;
  /** The same as JSON (`--json`). */
  data: unknown;
  /** Printed on stderr (e.g. other rules that did not load). */
  notes: string[];
}

export interface RuleToolContext {
  /** Ids of every rule the command found, of every kind (references across kinds). */
  readonly knownRuleIds: ReadonlySet<string>;
}

/**
 * What an analyzer plugin contributes to `vigil rules`: lint, test and (optionally) explain
 * for the rule kinds it owns. `files` are the rule files holding those kinds, plus files that
 * hold only shared definitions (lists, macros). Bad content is reported in the result;
 * `explain` throws an Error with a message for the operator (unknown rule, bad events).
 */
export interface RuleTooling {
  /** Shown in reports: the plugin id. */
  readonly name: string;
  /** Rule kinds owned (`detection` for rules without `kind`). */
  readonly kinds: readonly string[];
  lint(files: readonly string[], ctx: RuleToolContext): Promise<RuleLintReport>;
  test(files: readonly string[], ctx: RuleToolContext): Promise<RuleTestReport>;
  /** Why the rule did or did not fire for `events` (items of a JSON/JSONL file, in order). */
  explain?(ruleId: string, files: readonly string[], events: readonly unknown[], ctx: RuleToolContext & { readonly eventFile: string }): Promise<RuleExplainResult>;
}

/** What a plugin module's `index.ts` exports as `plugin` (or default). */
export type VigilPlugin<C = Record<string, unknown>> = SensorPlugin<C> | AnalyzerPlugin<C> | ResponderPlugin<C>;

/** The plugin API version this core implements. */
export const PLUGIN_API_VERSION = '1.0.0';
