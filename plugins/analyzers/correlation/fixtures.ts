/**
 * `testCorrelationRules`: replays every rule's fixtures through a fresh engine on a
 * virtual clock (a ten-minute span costs nothing) and checks positives fire and negatives
 * do not. `lintCorrelationRules`: load problems plus content warnings.
 */
import { isKnownEventType, type EventDraft, type VigilEvent, type DetectionDraft, type RuleFinding, type RuleFixtureFailure, type RuleLintReport } from '../../../core/index.js';
import { VirtualClock } from './clock.js';
import { CorrelationEngine } from './engine.js';
import { loadCorrelationFiles, type CorrelationIssue } from './loader.js';
import type { CompiledCorrelation, FixtureItem } from './model.js';
import type { DetectionLike } from './evidence.js';

/** The shapes of the core's rule tooling (`vigil rules`), under this plugin's names. */
export type CorrelationFixtureFailure = RuleFixtureFailure;

export interface CorrelationTestReport {
  files: number;
  rules: number;
  passed: number;
  failed: number;
  fixtures: number;
  /** Every rule whose fixtures ran, with its verdict. */
  results: { ruleId: string; kind: 'sequence' | 'count'; file: string; fixtures: number; passed: boolean }[];
  failures: CorrelationFixtureFailure[];
  issues: CorrelationIssue[];
}

export type CorrelationLintFinding = RuleFinding;

export type CorrelationLintReport = RuleLintReport;

function stamp(d: EventDraft, seq: number): VigilEvent {
  return { ...d, id: `fixture-${seq}`, seq, received: d.time, source: 'fixture', host: d.host ?? { name: 'fixture-host' } };
}

function isEventDraft(v: unknown): v is EventDraft {
  return typeof v === 'object' && v !== null && typeof (v as { type?: unknown }).type === 'string' && typeof (v as { time?: unknown }).time === 'number';
}

/** Problem with a fixture item, or undefined. */
function checkItem(item: FixtureItem): string | undefined {
  const ev = 'detection' in item ? [...(item.event ? [item.event] : []), ...(item.evidence ?? [])] : [item];
  if ('detection' in item && ev.length === 0) return `detection "${item.detection}" needs "event" or "evidence"`;
  for (const e of ev) {
    if (!isEventDraft(e)) return 'an event needs "type" (string) and "time" (ms number)';
    if (!isKnownEventType(e.type)) return `unknown event type "${e.type}"`;
  }
  return undefined;
}

/**
 * Replay one fixture through a fresh engine holding only `rule`; returns the detections.
 * After the last item the virtual clock runs past the span so that absent steps and
 * closing count windows are decided.
 */
export function replayFixture(rule: CompiledCorrelation, items: readonly FixtureItem[]): DetectionDraft[] {
  const clock = new VirtualClock(0);
  const out: DetectionDraft[] = [];
  const engine = new CorrelationEngine({ clock, onDetection: (d) => out.push(d) });
  engine.load([rule]);
  let seq = 0;
  let last = 0;
  for (const item of items) {
    if ('detection' in item) {
      const evidence = [...(item.evidence ?? []), ...(item.event ? [item.event] : [])].map((e) => stamp(e, ++seq));
      const time = evidence[evidence.length - 1]?.time ?? last;
      clock.set(Math.max(clock.now(), time));
      const det: DetectionLike = { rule: { id: item.detection }, evidence, time };
      engine.onDetections([det]);
      last = Math.max(last, time);
    } else {
      clock.set(Math.max(clock.now(), item.time));
      engine.onEvents([stamp(item, ++seq)]);
      last = Math.max(last, item.time);
    }
    engine.drain();
  }
  clock.set(last + rule.spanMs + 2000 + 1);
  engine.drain();
  return out.filter((d) => d.rule.id === rule.doc.id);
}

/** Run every rule's fixtures. */
export async function testCorrelationRules(paths: readonly string[]): Promise<CorrelationTestReport> {
  const loaded = await loadCorrelationFiles(paths);
  const fileOf = new Map(loaded.rules.map((r) => [r.doc.id, r.file]));
  const report: CorrelationTestReport = { files: loaded.files.length, rules: loaded.compiled.length, passed: 0, failed: 0, fixtures: 0, results: [], failures: [], issues: loaded.issues };
  for (const rule of loaded.compiled) {
    const id = rule.doc.id;
    const file = fileOf.get(id) ?? '';
    const before = report.failures.length;
    const fixturesBefore = report.fixtures;
    const fx = rule.doc.fixtures ?? {};
    for (const kind of ['positive', 'negative'] as const) {
      const list = fx[kind] ?? [];
      if (list.length === 0) report.failures.push({ ruleId: id, file, kind: 'missing', message: `no ${kind} fixtures` });
      list.forEach((items, index) => {
        report.fixtures++;
        const bad = items.map(checkItem).find((m) => m !== undefined);
        if (bad !== undefined) {
          report.failures.push({ ruleId: id, file, kind: 'invalid', index, message: `${kind} fixture ${index}: ${bad}` });
          return;
        }
        const fired = replayFixture(rule, items);
        if (kind === 'positive' && fired.length === 0) {
          report.failures.push({ ruleId: id, file, kind, index, message: `positive fixture ${index} did not fire` });
        }
        if (kind === 'negative' && fired.length > 0) {
          report.failures.push({ ruleId: id, file, kind, index, message: `negative fixture ${index} fired: ${fired[0]?.summary ?? ''}` });
        }
      });
    }
    if (report.failures.length === before) report.passed++;
    else report.failed++;
    report.results.push({ ruleId: id, kind: rule.kind, file, fixtures: report.fixtures - fixturesBefore, passed: report.failures.length === before });
  }
  return report;
}

/** Load errors and content warnings for correlation rule files. */
export async function lintCorrelationRules(paths: readonly string[], opts: { knownRuleIds?: ReadonlySet<string> } = {}): Promise<CorrelationLintReport> {
  const loaded = await loadCorrelationFiles(paths);
  const findings: CorrelationLintFinding[] = loaded.issues.map((i) => ({
    severity: 'error',
    file: i.file,
    ...(i.ruleId !== undefined ? { ruleId: i.ruleId } : {}),
    path: i.path,
    code: 'load',
    message: i.message,
  }));
  const byId = new Map(loaded.rules.map((r) => [r.doc.id, r]));
  for (const rule of loaded.compiled) {
    const lr = byId.get(rule.doc.id);
    const file = lr?.file ?? '';
    const base = lr?.pointer ?? '';
    const warn = (path: string, code: string, message: string): void => {
      findings.push({ severity: 'warning', file, ruleId: rule.doc.id, path: base + path, code, message });
    };
    const fx = rule.doc.fixtures ?? {};
    if ((fx.positive ?? []).length === 0) warn('/fixtures', 'no-positive-fixture', 'no positive fixture: nothing shows the rule can fire');
    if ((fx.negative ?? []).length === 0) warn('/fixtures', 'no-negative-fixture', 'no negative fixture: nothing shows the span is enforced');
    if (rule.spanMs > 86_400_000) warn(rule.kind === 'sequence' ? '/maxspan' : '/timespan', 'long-span', 'span over a day keeps state for very long');
    const refs = rule.kind === 'sequence' ? rule.steps.flatMap((s) => s.ruleIds ?? []) : (rule.ruleIds ?? []);
    if (opts.knownRuleIds !== undefined) {
      for (const r of refs) if (!opts.knownRuleIds.has(r) && !byId.has(r)) warn('', 'unknown-rule', `references rule "${r}" that is not loaded`);
    }
    if (rule.kind === 'count' && rule.threshold === 1) warn('/condition', 'trivial-count', 'a count of 1 is a plain rule; use the rule engine');
    if (rule.kind === 'sequence') {
      rule.doc.steps.forEach((s, i) => {
        for (const p of s.by) {
          if (/^(proc|target|parent)\.pid$/.test(p)) {
            warn(`/steps/${i}/by`, 'pid-key', `"${p}" is reused by the OS; key on "${p.replace('.pid', '.guid')}" (pid@start_time identity)`);
          }
        }
      });
    }
  }
  const errors = findings.filter((f) => f.severity === 'error').length;
  return { files: loaded.files.length, rules: loaded.compiled.length, errors, warnings: findings.length - errors, findings };
}
