import type { DependencyContainer } from 'tsyringe';
import type { EventDraft, VigilEvent } from '../events/event.js';
import type { ActionRequest, ActionResult, Detection, DetectionDraft } from '../events/detection.js';
import type { Logger } from '../telemetry/logger.js';
import type { PluginCounters } from '../telemetry/counters.js';
import type { ServiceName } from './services.js';

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
  /**
   * Actions among `actions` that only read (scans): the response policy performs them in
   * monitor mode too, since they touch nothing. Added in plugin API 2.2.0.
   */
  readonly readOnlyActions?: readonly string[];
  /** Resources only one plugin may hold at once (`etw:VigilSession`, `device:\\.\\Vigil`). */
  readonly exclusive?: readonly string[];
  /**
   * Sensors only: `live` sources drop-and-count under pressure; `replay` sources are
   * back-pressured so that replay never loses an event.
   */
  readonly delivery?: 'live' | 'replay';
  /**
   * Core services the plugin resolves from `ctx.container` (`worker-pool`, `process-table`). Only these are registered in its container; a name the core does not
   * offer is refused at load with VIGIL_ERR_PLUGIN_SERVICE.
   */
  readonly services?: readonly ServiceName[];
  /** JSON Schema of the plugin's config block (defaults are applied from it). */
  readonly configSchema: JsonSchema;
  /**
   * Commands the plugin adds to `vigil`, as data: the CLI lists and parses them without
   * importing the plugin, and imports the module (export `commands`) only to run one.
   */
  readonly commands?: readonly PluginCommand[];
  /**
   * Analyzers: the rule kinds whose lint / test / explain the plugin provides to the core's
   * `vigil rules` (module export `ruleTooling`); `detection` names rules without `kind`.
   */
  readonly ruleKinds?: readonly string[];
  /** What `vigil replay` may set in the plugin's config (instead of guessing keys by name). */
  readonly replay?: ReplayCapability;
}

/** Cleanup registered at acquisition time; awaited last-in first-out on stop. */
export type Disposer = () => void | Promise<void>;

/**
 * Data files private to the agent's user, as every file the agent writes is: folders 0700,
 * files 0600 whatever the umask; an existing path open to group or others is tightened and
 * that is logged once (docs/security.md). For outputs a plugin writes outside `dataDir`.
 */
export interface PrivateFiles {
  /** Create the folder (and missing parents) 0700, or tighten it. Returns the path. */
  dir(path: string): string;
  /** Create the file 0600 if it is missing (missing parents 0700), or tighten it. Returns the path. */
  file(path: string): string;
  /** Open the file for appending (`a`) or writing from the start (`w`), created or tightened as by `file`. */
  open(path: string, flags: 'a' | 'w'): Promise<import('node:fs/promises').FileHandle>;
  /** Tighten what something else created (SQLite's side files, a rotated output); false when nothing is there. */
  tighten(path: string): boolean;
}

/** What every plugin receives from the core. */
export interface BaseContext<C> {
  readonly id: string;
  /** Validated, frozen config with schema defaults applied. */
  readonly config: Readonly<C>;
  readonly logger: Logger;
  readonly counters: PluginCounters;
  /** Aborted when the plugin is being stopped. */
  readonly signal: AbortSignal;
  /**
   * The plugin's own tsyringe child container: it resolves the services the manifest
   * declares (WORKER_POOL, PROCESS_TABLE …); resolving an undeclared one throws
   * VIGIL_ERR_PLUGIN_SERVICE. What the plugin registers in it stays private to it.
   */
  readonly container: DependencyContainer;
  /** Register cleanup for a resource at the moment it is acquired. */
  defer(dispose: Disposer): void;
  /** Data files outside `dataDir` made private to the agent's user, reported to this plugin's log. */
  readonly files: PrivateFiles;
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

/** The context of a plugin of any kind. */
export type PluginContext<C = Record<string, unknown>> = SensorContext<C> | AnalyzerContext<C> | ResponderContext<C>;

/**
 * The running instance returned by `create`. `create` does no I/O; `start` acquires.
 * The handlers an instance has must match what its manifest declares: `onEvents` for
 * consumed event types, `onDetections` for `detection`, `onActions` for actions other than
 * `alert`; either half alone is refused with VIGIL_ERR_PLUGIN_CAPABILITY.
 */
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

// ---- Declared capabilities: commands and replay ------------------------------------

/** A positional argument of a declared command. */
export interface CommandArgument {
  /** The key the handler reads it under (`cmdline`); shown in the usage line. */
  readonly name: string;
  readonly description: string;
  /** Default true. Optional arguments come after the required ones. */
  readonly required?: boolean;
  /** Takes every remaining word, handed over as an array (last argument only). */
  readonly variadic?: boolean;
}

/** An option of a declared command. */
export interface CommandOption {
  /** Long name, kebab-case (`since` is `--since`); the handler reads it under this name. */
  readonly name: string;
  /** A one-letter alias (`n` is `-n`). `c` and `h` belong to the CLI (`--config`, `--help`). */
  readonly short?: string;
  readonly description: string;
  /** The value's name in help (`time`: `--since <time>`). Without it the option is a flag (`true` when given). */
  readonly value?: string;
  /** The only values accepted (needs `value`): anything else is a usage error before the handler runs. */
  readonly choices?: readonly string[];
}

/**
 * A command a plugin adds to `vigil`, declared in the manifest. A command either groups
 * `subcommands` or is run by the handler the plugin module exports in `commands` under the
 * command's path (`alerts`, `long-cmdline check`). Every command that runs a handler also
 * takes `-c, --config <file>`, the config `CommandHost.pluginConfig` reads.
 */
export interface PluginCommand {
  /** The word typed after `vigil` (or after the parent command); kebab-case. */
  readonly name: string;
  readonly description: string;
  readonly arguments?: readonly CommandArgument[];
  readonly options?: readonly CommandOption[];
  readonly subcommands?: readonly PluginCommand[];
}

/** The parsed command line a handler receives. */
export interface CommandInput {
  /** Arguments given, by declared name (a variadic one as an array). */
  readonly args: Readonly<Record<string, string | readonly string[]>>;
  /** Options given, by declared name: the value, or `true` for a flag. */
  readonly options: Readonly<Record<string, string | true>>;
}

/** What the CLI offers a command handler instead of the parser itself. */
export interface CommandHost {
  /** Write to stdout, as is (end lines with `\n`). */
  out(text: string): void;
  /** Write to stderr, as is. */
  err(text: string): void;
  /**
   * The plugin's config block as the agent would see it (checked against the manifest's
   * `configSchema`, defaults applied) from `--config`, else `$VIGIL_CONFIG`, else the embedded
   * default, with a resolver for its relative paths (relative to the config file's folder).
   * Throws a config error (`VIGIL_ERR_CONFIG_READ`, `_PARSE`, `_INVALID`) when the file or the block is wrong.
   */
  pluginConfig(): { config: Readonly<Record<string, unknown>>; resolvePath(path: string): string };
  /** The error to throw for a wrong argument or option value: printed with the usage, exit 2. */
  usageError(message: string): Error;
}

/**
 * Runs one declared command. A returned number is the exit code (nothing: 0); a thrown
 * `VigilError` is printed with its code (exit 2 for config and usage errors, else 1).
 */
export type CommandHandler = (input: CommandInput, host: CommandHost) => void | number | Promise<void | number>;

/** Module export `commands`: the handler of every declared command, by its path (`long-cmdline check`). */
export type CommandHandlers = Readonly<Record<string, CommandHandler>>;

/**
 * Manifest `replay`: how `vigil replay` hands its inputs to the plugin. Each value names a
 * key of the plugin's `configSchema`; the command sets only keys declared here.
 */
export interface ReplayCapability {
  /**
   * Sensors with `delivery: 'replay'`: the array key that receives the files and folders
   * given to `vigil replay`. A sensor declaring it is enabled by the command; other sensors
   * are switched off.
   */
  readonly pathsKey?: string;
  /** Replay sensors: the boolean key set by `--merge-by-time`. */
  readonly mergeByTimeKey?: string;
  /** Analyzers: the array key the `--sigma` folders are appended to. */
  readonly sigmaPathsKey?: string;
  /** Responders: the key (a choice including `stderr`) set to `stderr` when `--json` keeps stdout for the summary. */
  readonly streamKey?: string;
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
 * What an analyzer plugin contributes to `vigil rules` (module export `ruleTooling`, for the
 * kinds its manifest declares in `ruleKinds`): lint, test and (optionally) explain
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
export const PLUGIN_API_VERSION = '2.2.0';
