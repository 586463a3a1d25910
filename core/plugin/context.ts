/**
 * How the core builds a plugin's context. The kernel's plugin host and the `vigil/testing`
 * kit both call these functions (the kit with recording sinks), so a plugin under test gets
 * the context the agent would give it.
 */
import { isAbsolute, resolve } from 'node:path';
import type { DependencyContainer } from 'tsyringe';
import { validateWithSchema, type ConfigFinding, type ValidationContext } from '../config/validate.js';
import { VigilError, describeError } from '../errors/index.js';
import type { ActionResult, DetectionDraft } from '../events/detection.js';
import type { EventDraft } from '../events/event.js';
import { deepFreeze } from '../events/freeze.js';
import { ensurePrivateDir, privateFiles } from '../private-files.js';
import type { PluginCounters } from '../telemetry/counters.js';
import type { Logger } from '../telemetry/logger.js';
import { checkCapabilities } from './capabilities.js';
import type { BaseContext, Disposer, PluginContext, PluginInstance, PluginManifest, VigilPlugin } from './types.js';

/** The kind-specific part of a sensor's context. */
export interface SensorSinks {
  emit(draft: EventDraft): Promise<void> | undefined;
  finished(): void;
}
/** The kind-specific part of an analyzer's context. */
export interface AnalyzerSinks {
  detect(draft: DetectionDraft): void;
  emit(draft: EventDraft): void;
}
/** The kind-specific part of a responder's context. */
export interface ResponderSinks {
  result(result: ActionResult): void;
  emit(draft: EventDraft): void;
}
/**
 * Sinks for any kind; a context gets only those of its plugin's kind. `emit` returns a
 * Promise only for a sensor whose queue is full (replay delivery).
 */
export interface ContextSinks {
  readonly emit?: (draft: EventDraft) => Promise<void> | undefined | void;
  readonly finished?: () => void;
  readonly detect?: (draft: DetectionDraft) => void;
  readonly result?: (result: ActionResult) => void;
}

/** What a context is made of. */
export interface PluginContextParts {
  readonly manifest: PluginManifest;
  /** The config as preparePluginConfig returned it (validated, defaults applied, frozen). */
  readonly config: Readonly<Record<string, unknown>>;
  readonly logger: Logger;
  readonly counters: PluginCounters;
  /** Aborted when the plugin is stopped. */
  readonly signal: AbortSignal;
  /** The plugin's container (createPluginContainer); it outlives restarts. */
  readonly container: DependencyContainer;
  /** The plugin's state folder, created on first access of `ctx.dataDir`. */
  readonly dataDir: string;
  /** The folder relative config paths are resolved against (the config file's). */
  readonly baseDir: string;
  readonly hostName: string;
  defer(dispose: Disposer): void;
  fail(err: unknown): void;
  readonly sinks: ContextSinks;
}

/** A plugin's validated config block, or what is wrong with it. */
export interface PreparedConfig {
  /** Frozen, with the schema's defaults; only meaningful when `findings` is empty. */
  readonly config: Readonly<Record<string, unknown>>;
  /** Paths are inside the block (`/key`, `/` for the block itself). */
  readonly findings: ConfigFinding[];
}

/**
 * Validate a plugin's config block with its manifest's schema: a copy, so the operator's
 * document is not touched; ajv fills in the schema's defaults; the result is deep-frozen.
 */
export function preparePluginConfig(manifest: PluginManifest, block: unknown, context?: ValidationContext): PreparedConfig {
  const config = structuredClone(block ?? {}) as Record<string, unknown>;
  const findings = validateWithSchema(manifest.configSchema, config, context);
  return { config: findings.length === 0 ? deepFreeze(config) : config, findings };
}

/** Build the context the manifest's kind gets: the base members plus that kind's sinks. */
export function createPluginContext(parts: PluginContextParts): PluginContext {
  const { manifest, dataDir, baseDir, sinks } = parts;
  const base: BaseContext<Record<string, unknown>> = {
    id: manifest.id,
    config: parts.config,
    logger: parts.logger,
    counters: parts.counters,
    signal: parts.signal,
    container: parts.container,
    defer: (dispose: Disposer) => parts.defer(dispose),
    // A getter: a plugin that keeps no state leaves no folder behind, and create() stays free of I/O.
    get dataDir() {
      return ensurePrivateDir(dataDir, parts.logger);
    },
    files: privateFiles(parts.logger),
    hostName: parts.hostName,
    resolvePath: (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p)),
    fail: (err: unknown) => parts.fail(err),
  };
  const need = <K extends keyof ContextSinks>(name: K): NonNullable<ContextSinks[K]> => {
    const fn = sinks[name];
    if (fn === undefined) throw new TypeError(`a ${manifest.kind} context needs the ${name} sink`);
    return fn as NonNullable<ContextSinks[K]>;
  };
  // Object.assign keeps base's dataDir getter (a spread would call it).
  switch (manifest.kind) {
    case 'sensor':
      return Object.assign(base, { emit: need('emit') as SensorSinks['emit'], finished: need('finished') });
    case 'analyzer':
      return Object.assign(base, { detect: need('detect'), emit: need('emit') as AnalyzerSinks['emit'] });
    case 'responder':
      return Object.assign(base, { result: need('result'), emit: need('emit') as ResponderSinks['emit'] });
  }
}

/**
 * Call the plugin's factory and check that the instance implements what the manifest
 * declares. A throwing create() is VIGIL_ERR_PLUGIN_CREATE; half a capability is
 * VIGIL_ERR_PLUGIN_CAPABILITY.
 */
export function createInstance(plugin: VigilPlugin, ctx: PluginContext): PluginInstance {
  let instance: unknown;
  try {
    // The context matches the manifest's kind (createPluginContext), which is what create expects.
    instance = (plugin.create as (c: PluginContext) => unknown)(ctx);
  } catch (cause) {
    throw new VigilError('VIGIL_ERR_PLUGIN_CREATE', `plugin ${plugin.manifest.id}: create() threw: ${describeError(cause)}`, { cause });
  }
  checkCapabilities(plugin.manifest, instance);
  return instance as PluginInstance;
}

/**
 * The core's checks on a draft a plugin emits. A malformed draft is counted and discarded
 * (false); a type the manifest does not declare in `produces` is counted and thrown.
 */
export function admitDraft(id: string, produces: ReadonlySet<string>, counters: PluginCounters, draft: EventDraft): boolean {
  if (draft === null || typeof draft !== 'object' || typeof draft.type !== 'string' || typeof draft.time !== 'number' || !Number.isFinite(draft.time)) {
    counters.error('send', 'VIGIL_ERR_EVENT_INVALID');
    counters.discard('invalid_event');
    return false;
  }
  if (!produces.has(draft.type)) {
    counters.error('send', 'VIGIL_ERR_PLUGIN_UNDECLARED_TYPE');
    throw new VigilError('VIGIL_ERR_PLUGIN_UNDECLARED_TYPE', `plugin ${id} emitted "${draft.type}", which its manifest does not declare in produces`);
  }
  return true;
}
