/** The correlation analyzer instance: feeds the engine in slices, runs expiry, loads and reloads rules. */
import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { type AnalyzerContext, type AnalyzerInstance, type Detection, type VigilEvent } from '../../../core/index.js';
import { createClock } from './clock.js';
import type { CorrelationConfig } from './config.js';
import { CorrelationEngine } from './engine.js';
import { loadCorrelations } from './load.js';
import { StateMemory } from './state/index.js';

export class CorrelationAnalyzer implements AnalyzerInstance {
  private readonly engine: CorrelationEngine;
  private timer: NodeJS.Timeout | undefined;
  private sweeping = false;
  private stopped = false;
  private readonly memory: StateMemory;

  constructor(private readonly ctx: AnalyzerContext<CorrelationConfig>) {
    const cfg = ctx.config;
    this.memory = new StateMemory(ctx);
    this.engine = new CorrelationEngine({
      clock: createClock(cfg.clock),
      onDetection: (d) => ctx.detect(d),
      counters: ctx.counters,
      maxPartialPerRule: cfg.max_partial_per_rule,
      maxPartialTotal: cfg.max_partial_total,
      sliceBudgetMs: cfg.slice_ms,
      store: this.memory.store,
    });
  }

  private async load(): Promise<void> {
    const cfg = this.ctx.config;
    const res = await loadCorrelations(
      cfg.rule_paths.map((p) => this.ctx.resolvePath(p)),
      cfg.sigma_paths.map((p) => this.ctx.resolvePath(p)),
    );
    for (const i of res.issues) {
      this.ctx.logger.warn({ file: i.file, rule: i.ruleId, path: i.path }, i.message);
      // A file's problem is listed with the file (vigil status, the replay summary); a rule's
      // problem inside a loaded file is counted.
      if (i.file !== '' && i.path === '') this.ctx.counters.fileError('load', 'rule_file_refused', i.file, i.message);
      else this.ctx.counters.error('load', 'rule_issue');
    }
    const rep = this.engine.load(res.compiled);
    this.ctx.counters.set('rules_loaded', res.compiled.length);
    this.ctx.counters.set('rules_native', res.native);
    this.ctx.counters.set('rules_sigma', res.compiled.length - res.native);
    this.ctx.logger.info({ rules: res.compiled.length, sigma: res.sigma, ...rep }, 'correlation rules loaded');
  }

  async start(): Promise<void> {
    await this.memory.start();
    await this.load();
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
    await this.load();
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
