/**
 * The correlation analyzer: stateful sequences and counts over events and detections.
 * Rule format, semantics and limits: docs/correlation.md.
 */
import { isAbsolute, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { BLOCK_POOL, PLAIN_BLOCKS, PLUGIN_API_VERSION, type AnalyzerContext, type AnalyzerInstance, type AnalyzerPlugin, type Detection, type VigilEvent, type PluginCliRegistrar } from '../../../core/index.js';
import { createClock, type ClockKind } from './clock.js';
import type { StaticCompiler } from './condition.js';
import { CorrelationEngine, DEFAULT_SLICE_MS } from './engine.js';
import { compileCorrelationDocs, loadCorrelationFiles, type CorrelationIssue } from './loader.js';
import type { CompiledCorrelation } from './model.js';
import { loadSigmaCorrelations, type SigmaLoadStats } from './sigma.js';

export { CorrelationEngine, DEFAULT_SLICE_MS, type EngineTrace, type TraceOutcome, type EngineOptions, type EngineStats, type LoadReport, type EngineCounters } from './engine.js';
export { EventClock, WallClock, VirtualClock, createClock, type Clock, type ClockKind } from './clock.js';
export { compileCorrelation, CompileError, ruleHash } from './compile.js';
export { compileCorrCondition, ConditionError, type CorrCondition, type StaticCompiler, type BoundLookup } from './condition.js';
export { loadCorrelationFiles, compileCorrelationDocs, validateCorrelationDoc, type CorrelationIssue, type LoadedCorrelations, type LoadedRule } from './loader.js';
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

export interface CorrelationConfig {
  rule_paths: string[];
  sigma_paths: string[];
  max_partial_per_rule: number;
  max_partial_total: number;
  clock: ClockKind;
  /** `auto`: the shared rule compiler for plain predicates when present, else the built-in one. */
  condition_compiler: 'auto' | 'builtin';
  /** Wall clock only: how often expiry runs without new events. */
  tick_ms: number;
  /** The longest the analyzer works before yielding to the event loop (ms). */
  slice_ms: number;
}

const CONFIG_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    rule_paths: { type: 'array', items: { type: 'string', 'x-vigil-path': 'existing' }, default: ['rules/correlation'] },
    sigma_paths: { type: 'array', items: { type: 'string', 'x-vigil-path': 'existing' }, default: [] },
    max_partial_per_rule: { type: 'integer', minimum: 1, default: 200_000 },
    max_partial_total: { type: 'integer', minimum: 1, default: 1_000_000 },
    clock: { enum: ['event', 'wall'], default: 'event' },
    condition_compiler: { enum: ['auto', 'builtin'], default: 'auto' },
    tick_ms: { type: 'integer', minimum: 10, default: 250 },
    slice_ms: { type: 'number', minimum: 0.5, maximum: 50, default: DEFAULT_SLICE_MS },
  },
} as const;

/** Base for relative paths outside a plugin context (tools): VIGIL_PROJECT_ROOT, else the working directory. */
function projectRoot(): string {
  return process.env['VIGIL_PROJECT_ROOT'] ?? process.cwd();
}

function rooted(p: string): string {
  return isAbsolute(p) ? p : resolve(projectRoot(), p);
}

/**
 * The shared rule compiler (lib/rules), when it is there, so that plain
 * predicates mean exactly what they mean in the rule engine. Loaded by a computed
 * specifier because the module is optional for this plugin.
 */
export async function loadSharedCompiler(): Promise<{ compiler?: StaticCompiler; reason?: string }> {
  const spec = '../../../lib/rules/index.js';
  let mod: unknown;
  try {
    mod = await import(spec);
  } catch (err) {
    // Recorded, not swallowed: the caller logs why the built-in compiler is used.
    return { reason: `shared rule compiler not loadable: ${(err as Error).message}` };
  }
  const fn = (mod as { compileCondition?: unknown }).compileCondition;
  if (typeof fn !== 'function') return { reason: 'shared rule module has no compileCondition' };
  const compile = fn as (cond: unknown, env: object) => { test(e: object): boolean };
  return {
    compiler: (cond, pointer, defs) => {
      const c = compile(cond, { basePath: pointer, lists: defs.lists, macros: defs.macros });
      return (e) => c.test(e);
    },
  };
}

export interface CorrelationLoad {
  compiled: CompiledCorrelation[];
  issues: CorrelationIssue[];
  native: number;
  sigma: SigmaLoadStats | null;
}

/** Load native rule files and Sigma correlations (paths relative to the project root). */
export function loadCorrelations(rulePaths: readonly string[], sigmaPaths: readonly string[], delegate?: StaticCompiler): CorrelationLoad {
  const native = loadCorrelationFiles(rulePaths.map(rooted), delegate ? { delegate } : {});
  const issues = [...native.issues];
  let sigma: SigmaLoadStats | null = null;
  const compiled = [...native.compiled];
  if (sigmaPaths.length > 0) {
    const s = loadSigmaCorrelations(sigmaPaths.map(rooted));
    sigma = s.stats;
    issues.push(...s.issues);
    for (const sk of s.skipped) issues.push({ file: sk.file, ...(sk.id !== undefined ? { ruleId: sk.id } : {}), path: '', message: `Sigma correlation skipped: ${sk.reason}` });
    const conv = compileCorrelationDocs(s.docs, native.defs, delegate);
    issues.push(...conv.issues);
    const ids = new Set(compiled.map((c) => c.doc.id));
    for (const c of conv.compiled) {
      if (ids.has(c.doc.id)) issues.push({ file: '', ruleId: c.doc.id, path: '', message: `duplicate rule id "${c.doc.id}" (Sigma correlation skipped)` });
      else compiled.push(c);
    }
  }
  return { compiled, issues, native: native.compiled.length, sigma };
}

class CorrelationAnalyzer implements AnalyzerInstance {
  private readonly engine: CorrelationEngine;
  private timer: NodeJS.Timeout | undefined;
  private sweeping = false;
  private stopped = false;
  private delegate: StaticCompiler | undefined;

  constructor(private readonly ctx: AnalyzerContext<CorrelationConfig>) {
    const cfg = ctx.config;
    this.engine = new CorrelationEngine({
      clock: createClock(cfg.clock),
      onDetection: (d) => ctx.detect(d),
      counters: ctx.counters,
      maxPartialPerRule: cfg.max_partial_per_rule,
      maxPartialTotal: cfg.max_partial_total,
      sliceBudgetMs: cfg.slice_ms,
      blocks: ctx.container.isRegistered(BLOCK_POOL, true) ? ctx.container.resolve(BLOCK_POOL) : PLAIN_BLOCKS,
    });
  }

  private load(): void {
    const cfg = this.ctx.config;
    const res = loadCorrelations(
      cfg.rule_paths.map((p) => this.ctx.resolvePath(p)),
      cfg.sigma_paths.map((p) => this.ctx.resolvePath(p)),
      this.delegate,
    );
    for (const i of res.issues) this.ctx.logger.warn({ file: i.file, rule: i.ruleId, path: i.path }, i.message);
    if (res.issues.length > 0) this.ctx.counters.error('load', 'rule_issue', res.issues.length);
    const rep = this.engine.load(res.compiled);
    this.ctx.counters.set('rules_loaded', res.compiled.length);
    this.ctx.counters.set('rules_native', res.native);
    this.ctx.counters.set('rules_sigma', res.compiled.length - res.native);
    this.ctx.logger.info({ rules: res.compiled.length, sigma: res.sigma, ...rep }, 'correlation rules loaded');
  }

  async start(): Promise<void> {
    if (this.ctx.config.condition_compiler === 'auto') {
      const shared = await loadSharedCompiler();
      this.delegate = shared.compiler;
      if (shared.reason !== undefined) this.ctx.logger.warn({ reason: shared.reason }, 'using the built-in condition compiler');
    }
    this.ctx.logger.info({ compiler: this.delegate ? 'shared' : 'builtin' }, 'correlation condition compiler');
    this.load();
    if (this.ctx.config.clock === 'wall') {
      const t = setInterval(() => this.sweep(), this.ctx.config.tick_ms);
      t.unref();
      this.timer = t;
      this.ctx.defer(() => clearInterval(t));
    }
  }

  /** Expiry in slices: one now, the rest on later turns of the event loop. */
  private sweep(): void {
    if (this.stopped || this.sweeping) return;
    if (this.engine.tick()) return;
    this.sweeping = true;
    const again = (): void => {
      if (this.stopped) {
        this.sweeping = false;
        return;
      }
      if (this.engine.tick()) this.sweeping = false;
      else setImmediate(again);
    };
    setImmediate(again);
  }

  /** A batch in slices of at most slice_ms, yielding between them (the bus waits for the promise). */
  onEvents(batch: readonly VigilEvent[]): void | Promise<void> {
    const i = this.engine.onEventsUntil(batch, 0, performance.now() + this.ctx.config.slice_ms);
    if (i < batch.length) return this.rest(batch, i);
    this.sweep();
  }

  private async rest(batch: readonly VigilEvent[], from: number): Promise<void> {
    let i = from;
    while (i < batch.length) {
      await yieldToLoop();
      i = this.engine.onEventsUntil(batch, i, performance.now() + this.ctx.config.slice_ms);
    }
    this.sweep();
  }

  onDetections(batch: readonly Detection[]): void {
    // Our own detections are chained inside the engine already.
    const others = batch.filter((d) => d.analyzer !== this.ctx.id);
    if (others.length === 0) return;
    this.engine.onDetections(others);
    this.sweep();
  }

  async reload(): Promise<void> {
    this.load();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** For status output and tests. */
  get stats(): ReturnType<CorrelationEngine['stats']> {
    return this.engine.stats();
  }
}

export const plugin: AnalyzerPlugin<CorrelationConfig> = {
  manifest: {
    id: 'correlation',
    kind: 'analyzer',
    apiVersion: PLUGIN_API_VERSION,
    version: '1.0.0',
    description: 'Stateful correlation: sequences (A then B by the same process within a span, absent steps) and counts, over events and detections',
    platforms: ['any'],
    produces: [],
    consumes: ['*', 'detection'],
    configSchema: CONFIG_SCHEMA,
  },
  create(ctx) {
    return new CorrelationAnalyzer(ctx);
  },
};

export { correlationTooling } from './cli.js';
export { explainCorrelation, type CorrelationExplain, type ExplainItem, type ExplainLine, type ExplainOutcome } from './explain.js';
import { correlationTooling } from './cli.js';
/** Contributes the sequence/count tooling to the core's `vigil rules lint|test|explain`. */
export const cli: PluginCliRegistrar = (_program, host) => host.registerRuleTooling?.(correlationTooling);
