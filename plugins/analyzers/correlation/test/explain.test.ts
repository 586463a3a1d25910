/** `explainCorrelation`: the step-by-step trace of the real engine for sequence and count rules. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { EventDraft } from '../../../../core/index.js';
import { projectRoot } from '../../../../testing/index.js';
import { explainCorrelation, type CorrelationExplain, type ExplainOutcome } from '../explain.js';
import { replayFixture } from '../fixtures.js';
import { loadCorrelationFiles } from '../loader.js';
import { compile, T0 } from './helpers.js';

const PACK = join(projectRoot(), 'rules', 'correlation');
const NO_DEFS = { lists: {}, macros: {} };

function outcomes(x: CorrelationExplain): Array<[number, number, ExplainOutcome]> {
  return x.items.flatMap((it) => it.lines.map((l): [number, number, ExplainOutcome] => [it.index, l.step, l.outcome]));
}

test('on every fixture of the shipped pack the trace fires exactly when the fixture runner does, and its labels never disagree with the engine', async () => {
  const loaded = await loadCorrelationFiles([PACK]);
  assert.ok(loaded.compiled.length >= 10, 'the pack loads');
  let checked = 0;
  for (const rule of loaded.compiled) {
    for (const kind of ['positive', 'negative'] as const) {
      (rule.doc.fixtures?.[kind] ?? []).forEach((items, i) => {
        const x = explainCorrelation(rule, items, loaded.defs);
        assert.equal(x.fired, replayFixture(rule, items).length, `${rule.doc.id} ${kind} ${i}: as many detections as the fixture runner`);
        assert.equal(x.fired > 0, kind === 'positive', `${rule.doc.id} ${kind} ${i}:\n${x.text}`);
        assert.deepEqual(x.notes, [], `${rule.doc.id} ${kind} ${i}:\n${x.text}`);
        checked++;
      });
    }
  }
  assert.ok(checked > 30);
});

const SEQ = {
  id: 't.start_then_connect_no_exit',
  title: 'start, connect, and no exit',
  severity: 'high',
  kind: 'sequence',
  maxspan: '10s',
  steps: [
    { name: 'start', event: ['process.start'], by: ['proc.guid'], match: { field: 'proc.image', endswith_any: ['\\evil.exe'] } },
    { name: 'connect', event: ['net.connect'], by: ['proc.guid'] },
    { name: 'exit', event: ['file.delete'], by: ['proc.guid'], absent: true },
  ],
  until: { event: ['registry.set'], match: { field: 'reg.key', contains_any: ['cancel'] } },
};

function e(type: string, dt: number, guid: string | undefined, extra: Record<string, unknown> = {}): EventDraft {
  return { type, time: T0 + dt, ...(guid !== undefined ? { proc: { guid, image: 'C:\\evil.exe' } } : {}), ...extra } as EventDraft;
}

test('a sequence trace names every reason: condition false, key missing, no partial, advanced, until, absent step cancelled and satisfied', () => {
  const rule = compile(SEQ);
  const x = explainCorrelation(rule, [
    e('process.start', 0, 'a', { proc: { guid: 'a', image: 'C:\\good.exe' } }), // #0 condition false
    e('process.start', 1, undefined, { proc: { image: 'C:\\evil.exe' } }), // #1 key missing
    e('net.connect', 2, 'zz'), // #2 no partial
    e('process.start', 3, 'a'), // #3 started
    e('net.connect', 4, 'a'), // #4 advanced to the absent step
    e('file.delete', 5, 'a'), // #5 the absent step happened: cancelled
    e('process.start', 10, 'b'), // #6 started
    e('registry.set', 11, 'b', { reg: { key: 'HKLM\\cancel' } }), // #7 until cancels
    e('process.start', 20, 'c'), // #8 started
    e('net.connect', 21, 'c'), // #9 advanced; nothing else: the absent step is satisfied at the end
  ], NO_DEFS);
  const got = outcomes(x);
  for (const want of [
    [0, 0, 'condition-false'],
    [1, 0, 'key-missing'],
    [2, 1, 'no-partial'],
    [3, 0, 'started'],
    [4, 1, 'advanced'],
    [5, 2, 'cancelled-absent'],
    [6, 0, 'started'],
    [7, -2, 'cancelled-until'],
    [9, 1, 'advanced'],
    [-1, 2, 'absent-satisfied'],
    [-1, -1, 'fired'],
  ] as const) {
    assert.ok(got.some(([i, s, o]) => i === want[0] && s === want[1] && o === want[2]), `expected ${JSON.stringify(want)} in:\n${x.text}`);
  }
  assert.equal(x.fired, 1, x.text);
  assert.deepEqual(x.notes, []);
  assert.match(x.text, /step 2 \(exit\) \(absent\) did not happen under key "c"/);
  assert.match(x.text, /verdict: FIRES \(1 detection\)/);
});

test('span exceeded: the trace says by how many ms, and the rule does not fire', () => {
  const rule = compile({ ...SEQ, steps: SEQ.steps.slice(0, 2), until: undefined });
  const x = explainCorrelation(rule, [e('process.start', 0, 'a'), e('net.connect', 10_250, 'a')], NO_DEFS);
  const line = x.items[1]?.lines.find((l) => l.outcome === 'span-exceeded');
  assert.ok(line, x.text);
  assert.equal(line.overMs, 250);
  assert.deepEqual(line.chain, [0]);
  assert.match(x.text, /span exceeded by 250 ms/);
  assert.equal(x.fired, 0);
});

test('a count trace shows what was counted, the window restart and the firing', () => {
  const rule = compile({
    id: 't.burst',
    title: 'burst',
    severity: 'medium',
    kind: 'count',
    event: ['logon.failure'],
    group_by: ['user.name'],
    timespan: '1m',
    condition: { gte: 2 },
  });
  const fail = (dt: number, name?: string): EventDraft => ({ type: 'logon.failure', time: T0 + dt, ...(name !== undefined ? { user: { name } } : {}) }) as EventDraft;
  const x = explainCorrelation(rule, [fail(0, 'bob'), fail(1, undefined), fail(61_000, 'bob'), fail(61_500, 'bob')], NO_DEFS);
  const got = outcomes(x);
  assert.ok(got.some(([i, , o]) => i === 1 && o === 'key-missing'), x.text);
  assert.ok(got.some(([i, , o]) => i === 2 && o === 'window-restarted'), x.text);
  assert.ok(got.some(([i, , o]) => i === 3 && o === 'fired'), x.text);
  assert.equal(x.fired, 1);
});

test('superseded, out of order, released and a step on a detection: each line names the items of the partial', () => {
  const rule = compile({ ...SEQ, steps: SEQ.steps.slice(0, 2), until: undefined });
  const x = explainCorrelation(rule, [
    e('process.start', 0, 'a'), // #0 started
    e('process.start', 100, 'a'), // #1 replaces #0
    e('net.connect', 50, 'a'), // #2 older than the partial #1: ignored
    e('process.start', 200, 'b'), // #3 started
    e('process.stop', 300, 'b'), // #4 releases #3
    e('net.connect', 400, 'a'), // #5 fires with #1
  ], NO_DEFS);
  const line = (i: number) => x.items.find((it) => it.index === i)?.lines[0];
  assert.equal(line(1)?.outcome, 'superseded', x.text);
  assert.match(line(1)?.message ?? '', /replaces the older partial #0 \(step 0 \(start\)\) under the same key/);
  assert.equal(line(2)?.outcome, 'out-of-order', x.text);
  assert.deepEqual(line(2)?.chain, [1]);
  assert.equal(line(4)?.outcome, 'released', x.text);
  assert.deepEqual(line(4)?.chain, [3]);
  assert.equal(line(5)?.outcome, 'fired', x.text);
  assert.deepEqual(line(5)?.chain, [1, 5]);
  assert.equal(x.fired, 1);
  assert.deepEqual(x.notes, []);
});
