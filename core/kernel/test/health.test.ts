import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PluginCounters } from '../../telemetry/counters.js';
import type { DetectionDraft } from '../../events/detection.js';
import type { VigilConfig } from '../../config/types.js';
import { HealthMonitor, type WatchedPlugin } from '../health.js';

const T0 = 1_700_000_000_000;
const S = 1000;

function plugin(id: string, kind = 'sensor'): WatchedPlugin & { state: string } {
  return { id, counters: new PluginCounters(), state: 'running', manifest: { kind } };
}

function monitor(plugins: WatchedPlugin[], health: Partial<VigilConfig['health']> = {}) {
  const raised: DetectionDraft[] = [];
  const config: VigilConfig['health'] = { enabled: true, window_seconds: 60, max_lost_per_window: 0, max_errors_per_window: 10, check_interval_seconds: 5, ...health };
  const m = new HealthMonitor(config, plugins, (d) => raised.push(d));
  return { m, raised, summaries: () => raised.map((d) => d.summary) };
}

test('a loss past max_lost_per_window raises one medium "telemetry degraded" detection, not one per check', () => {
  const s = plugin('procfs');
  const { m, raised, summaries } = monitor([s]);
  m.check(T0);
  assert.equal(raised.length, 0, 'nothing lost, nothing raised');
  s.counters.discard('queue_full', 12);
  m.check(T0 + 5 * S);
  assert.deepEqual(summaries(), ['telemetry degraded: sensor procfs lost 12 items in 60 s']);
  const d = raised[0]!;
  assert.equal(d.rule.id, 'vigil.health.lost');
  assert.equal(d.rule.source, 'health');
  assert.equal(d.severity, 'medium');
  assert.deepEqual(d.tags, ['vigil.health']);
  assert.deepEqual(d.evidence, []);
  for (let t = 10; t < 60; t += 5) {
    s.counters.discard('queue_full', 1);
    m.check(T0 + t * S);
  }
  assert.equal(raised.length, 1, 'still losing, but raised at most once per window');
  s.counters.discard('queue_full', 1);
  m.check(T0 + 65 * S);
  assert.equal(raised.length, 2, 'raised again once a window has passed and it is still losing');
});

test('thresholds are exceeded, not reached; intended discards and load errors do not count', () => {
  const s = plugin('replay');
  const a = plugin('rule-engine', 'analyzer');
  const { m, summaries } = monitor([s, a], { max_lost_per_window: 5, max_errors_per_window: 3 });
  m.check(T0);
  s.counters.discard('parse_error', 5);
  s.counters.discard('channel_filtered', 1000, true);
  a.counters.error('process', 'TypeError', 3);
  a.counters.error('load', 'rule_refused', 50);
  m.check(T0 + 5 * S);
  assert.deepEqual(summaries(), [], 'at the thresholds nothing is raised');
  s.counters.discard('parse_error', 1);
  a.counters.error('process', 'TypeError', 1);
  m.check(T0 + 10 * S);
  assert.deepEqual(summaries(), ['telemetry degraded: sensor replay lost 6 items in 60 s', 'telemetry degraded: analyzer rule-engine had 4 errors in 60 s']);
});

test('what happened before the window is forgotten', () => {
  const s = plugin('procfs');
  const { m, raised } = monitor([s], { max_lost_per_window: 10 });
  m.check(T0);
  s.counters.discard('queue_full', 8);
  m.check(T0 + 30 * S);
  m.check(T0 + 70 * S);
  s.counters.discard('queue_full', 8);
  m.check(T0 + 100 * S);
  assert.equal(raised.length, 0, '16 lost in all, but never more than 10 within 60 s');
  s.counters.discard('queue_full', 3);
  m.check(T0 + 110 * S);
  assert.equal(raised.length, 1, '11 within the last 60 s');
  assert.match(raised[0]!.summary ?? '', /lost 11 items/);
});

test('each plugin and condition is raised on its own; a detachment is raised once, high', () => {
  const s = plugin('procfs');
  const r = plugin('jsonl', 'responder');
  const { m, raised, summaries } = monitor([s, r]);
  s.counters.discard('queue_full', 1);
  m.check(T0);
  r.counters.discard('write_error', 1);
  m.check(T0 + 5 * S);
  assert.deepEqual(summaries(), ['telemetry degraded: sensor procfs lost 1 items in 60 s', 'telemetry degraded: responder jsonl lost 1 items in 60 s']);
  r.state = 'detached';
  for (let t = 10; t < 1000; t += 5) m.check(T0 + t * S);
  const detached = raised.filter((d) => d.rule.id === 'vigil.health.detached');
  assert.equal(detached.length, 1, 'once, however long it stays detached');
  assert.equal(detached[0]!.severity, 'high');
  assert.equal(detached[0]!.summary, 'telemetry degraded: responder jsonl was detached after repeated failures');
});
