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
  /** Folder where the plugin may keep state across restarts (created on demand). */
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
}

/** What a plugin module's `index.ts` exports as `plugin` (or default). */
export type VigilPlugin<C = Record<string, unknown>> = SensorPlugin<C> | AnalyzerPlugin<C> | ResponderPlugin<C>;

/** The plugin API version this core implements. */
export const PLUGIN_API_VERSION = '1.0.0';
