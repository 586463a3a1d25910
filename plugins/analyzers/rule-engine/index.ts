/**
 * The rule engine analyzer: native JSON rules and imported Sigma rules, compiled once into an
 * indexed RuleSet; each firing rule becomes a detection. Reload swaps the whole set atomically.
 */
import { watch, type FSWatcher } from 'node:fs';
import type { AnalyzerContext, AnalyzerInstance, AnalyzerPlugin, DetectionDraft, RuleRef, VigilEvent } from '../../../core/index.js';
import { formatIssue, type RuleHit, type RuleSet } from '../../../lib/rules/index.js';
import { buildRuleSet, resolvePaths, type BuiltSet, type RuleEngineConfig } from './engine.js';
import { manifest } from './manifest.js';

/** The detection-rule tooling of the core's `vigil rules lint|test|explain` (manifest `ruleKinds`). */
export { ruleEngineTooling, ruleEngineTooling as ruleTooling } from './cli.js';
export { buildRuleSet, type RuleEngineConfig } from './engine.js';
export { manifest } from './manifest.js';

function toDetection(hit: RuleHit, e: VigilEvent): DetectionDraft {
  const r = hit.rule;
  const ref: RuleRef = { id: r.id, title: r.title, source: hit.source };
  if (r.version !== undefined) ref.version = r.version;
  if (r.description !== undefined) ref.description = r.description;
  return { rule: ref, severity: r.severity, tags: r.tags ?? [], evidence: [e], matched: hit.matched, actions: r.response ?? [] };
}

class RuleEngine implements AnalyzerInstance {
  private set: RuleSet | undefined;
  private watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | undefined;
  private reloading: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly ctx: AnalyzerContext<RuleEngineConfig>) {}

  /** The active set (tests and tools). */
  get ruleSet(): RuleSet | undefined {
    return this.set;
  }

  async start(): Promise<void> {
    const built = await buildRuleSet(this.ctx.config, (p) => this.ctx.resolvePath(p));
    for (const i of built.issues) {
      this.ctx.logger.warn({ file: i.file, rule: i.ruleId, path: i.path }, `rule refused: ${formatIssue(i)}`);
      // A whole file refused (untrusted, unreadable, not JSON) is listed with the file in
      // `vigil status` and the replay summary; a rule refused inside a file is counted.
      if (i.file !== '' && i.path === '' && i.ruleId === undefined) this.ctx.counters.fileError('load', 'rule_file_refused', i.file, formatIssue(i));
      else this.ctx.counters.error('load', 'rule_refused');
    }
    this.noteSigma(built);
    this.swap(built.set);
    this.ctx.logger.info({ rules: built.set.stats.rules, files: built.files.length, compile_ms: Math.round(built.set.stats.compileMs) }, 'rules loaded');
    if (this.ctx.config.watch) this.startWatching();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    for (const w of this.watchers) w.close();
    this.watchers = [];
    await this.reloading;
  }

  onEvents(batch: readonly VigilEvent[]): void {
    const set = this.set;
    if (!set) return;
    for (const e of batch) {
      try {
        set.match(e, (hit) => {
          this.ctx.counters.add('detections');
          this.ctx.detect(toDetection(hit, e));
        });
      } catch (err) {
        // A rule or sink failure costs this event's remaining rules, never the batch.
        this.ctx.counters.error('process', err instanceof Error ? err.name : 'unknown');
        this.ctx.logger.debug({ err, event: e.id }, 'rule evaluation failed');
      }
    }
  }

  /** Load and validate the whole new set, then swap; on any error keep the current set. */
  reload(): Promise<void> {
    const run = async (): Promise<void> => {
      try {
        const built = await buildRuleSet(this.ctx.config, (p) => this.ctx.resolvePath(p));
        if (built.issues.length > 0) {
          this.ctx.counters.add('reload_failures');
          this.ctx.counters.error('load', 'reload:invalid_rules');
          this.ctx.logger.error(
            { issues: built.issues.map(formatIssue) },
            `rule reload refused: ${built.issues.length} problem(s); the previous ${this.set?.stats.rules ?? 0} rules stay active`,
          );
          return;
        }
        this.noteSigma(built);
        this.swap(built.set);
        this.ctx.counters.add('reloads');
        this.ctx.logger.info({ rules: built.set.stats.rules }, 'rules reloaded');
      } catch (err) {
        this.ctx.counters.add('reload_failures');
        this.ctx.counters.error('load', `reload:${err instanceof Error ? err.name : 'unknown'}`);
        this.ctx.logger.error({ err }, 'rule reload failed; the previous rules stay active');
      }
    };
    // Reloads are serialized: a change during a reload triggers one more after it.
    const next = (this.reloading ?? Promise.resolve()).then(run);
    this.reloading = next;
    return next;
  }

  private swap(set: RuleSet): void {
    this.set = set;
    this.ctx.counters.set('rules_loaded', set.stats.rules);
    this.ctx.counters.set('rules_unindexed', set.stats.unindexed);
  }

  private noteSigma(built: BuiltSet): void {
    // Broken content is the operator's to fix: an error with the file, not a quiet skip.
    for (const e of built.sigmaErrors) {
      this.ctx.counters.fileError('load', 'sigma_invalid', e.file, e.reason);
      this.ctx.logger.warn({ file: e.file, ...(e.id !== undefined ? { rule: e.id } : {}), reason: e.reason }, `Sigma rule not loaded: ${e.reason}`);
    }
    const skipped = built.sigmaSkipped.length;
    if (skipped > 0) {
      this.ctx.counters.discard('sigma_unsupported', skipped, true);
      this.ctx.logger.info({ skipped }, 'Sigma rules skipped by the importer');
    }
  }

  private startWatching(): void {
    const schedule = (): void => {
      if (this.stopped) return;
      if (this.timer) clearTimeout(this.timer);
      this.timer = setTimeout(() => void this.reload(), 250);
    };
    for (const p of resolvePaths([...this.ctx.config.rule_paths, ...this.ctx.config.sigma_paths], (p) => this.ctx.resolvePath(p))) {
      try {
        const w = watch(p, { recursive: true }, schedule);
        w.on('error', (err) => {
          this.ctx.counters.error('load', `watch:${err.name}`);
          this.ctx.logger.warn({ err, path: p }, 'rule watcher failed');
        });
        this.watchers.push(w);
      } catch (err) {
        this.ctx.counters.error('load', `watch:${err instanceof Error ? err.name : 'unknown'}`);
        this.ctx.logger.warn({ err, path: p }, 'cannot watch rule path');
      }
    }
    this.ctx.defer(() => {
      for (const w of this.watchers) w.close();
    });
  }
}

export const plugin: AnalyzerPlugin<RuleEngineConfig> = {
  manifest,
  create(ctx) {
    return new RuleEngine(ctx);
  },
};
