import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bus } from '../../bus/index.js';
import { PluginCounters } from '../../telemetry/counters.js';
import type { VigilConfig } from '../../config/types.js';
import type { ActionRequest, ActionResult, Detection } from '../../events/detection.js';
import type { ProcessInfo } from '../../events/event.js';
import { ResponsePolicy } from '../response-policy.js';

let n = 0;
function detection(actor: ProcessInfo | undefined, actions: string[]): Detection {
  n++;
  return {
    id: `d-${n}`,
    rule: { id: 'r', title: 'r', source: 'native' },
    severity: 'high',
    evidence: [],
    tags: [],
    actions: actions.map((action) => ({ action, params: { tree: true } })),
    time: n,
    raised: n,
    analyzer: 'a',
    host: { name: 'h' },
    summary: 'r',
    ...(actor ? { actor } : {}),
  };
}

/** A policy over a bus where a responder performs `kill`; time is the test's. */
function policy(response: Partial<VigilConfig['response']> = {}) {
  const bus = new Bus({ capacity: 100, batchSize: 10 });
  const performed: ActionRequest[] = [];
  bus.subscribe({
    name: 'killer',
    counters: new PluginCounters(),
    onFailure: (err) => assert.fail(String(err)),
    actions: ['kill'],
    onActions: (batch) => void performed.push(...batch),
  });
  const counters = new PluginCounters();
  const journal: ActionResult[] = [];
  const clock = { now: 1_700_000_000_000 };
  const config: VigilConfig['response'] = { dry_run: false, max_actions_per_minute: 60, cooldown_seconds: 300, protected_images: [], ...response };
  const p = new ResponsePolicy(config, bus, counters, (r) => journal.push(r), () => clock.now);
  const skipped = () => journal.map((r) => `${r.action}:${r.status}:${r.reason ?? ''}`);
  return { p, bus, performed, counters, journal, clock, skipped };
}

const evil: ProcessInfo = { pid: 4242, guid: 'g-evil', image: 'C:\\Users\\bob\\mimikatz.exe' };

test('an allowed action becomes one request to its responder, aimed at the actor; alert is implicit', async () => {
  const t = policy();
  const det = detection(evil, ['alert', 'kill']);
  t.p.handle(det);
  await t.bus.idle();
  assert.equal(t.performed.length, 1, 'alert produces no request');
  const r = t.performed[0]!;
  assert.equal(r.action, 'kill');
  assert.deepEqual(r.target, evil);
  assert.equal(r.detection, det);
  assert.deepEqual(r.params, { tree: true });
  assert.equal(r.dry_run, false);
  assert.deepEqual(t.journal, []);
  assert.deepEqual(t.counters.snapshot().discarded, {});
});

test('no responder, dry-run and a protected image are skipped, journaled with the reason and counted as intended', async () => {
  const none = policy();
  none.p.handle(detection(evil, ['suspend']));
  assert.deepEqual(none.skipped(), ['suspend:skipped:no responder for action']);
  assert.equal(none.journal[0]!.responder, 'core');
  assert.deepEqual(none.counters.snapshot().discarded, { action_no_responder_for_action: { count: 1, intended: true } });

  const dry = policy({ dry_run: true, protected_images: ['mimikatz.exe'] });
  dry.p.handle(detection(evil, ['kill']));
  assert.deepEqual(dry.skipped(), ['kill:skipped:dry-run'], 'dry-run is decided before anything else about the target');
  assert.deepEqual(dry.counters.snapshot().discarded, { action_dry_run: { count: 1, intended: true } });

  const guarded = policy({ protected_images: ['\\MIMIKATZ.EXE'] });
  guarded.p.handle(detection(evil, ['kill']));
  guarded.p.handle(detection({ pid: 1, guid: 'g-other', image: 'C:\\tools\\other.exe' }, ['kill']));
  await guarded.bus.idle();
  assert.deepEqual(guarded.skipped(), ['kill:skipped:protected process'], 'matched case-insensitively on the end of the image');
  assert.deepEqual(guarded.performed.map((r) => r.target?.guid), ['g-other']);
  assert.deepEqual(guarded.counters.snapshot().discarded, { action_protected_process: { count: 1, intended: true } });
  for (const t of [none, dry, guarded]) assert.equal(t.counters.lostTotal, 0, 'a policy skip is never lost telemetry');
  await Promise.all([none.bus.idle(), dry.bus.idle()]);
  assert.deepEqual([...none.performed, ...dry.performed], []);
});

test('rate limit: past max_actions_per_minute within 60 s actions are skipped; a minute later they pass again', async () => {
  const t = policy({ max_actions_per_minute: 3, cooldown_seconds: 0 });
  for (let i = 0; i < 5; i++) t.p.handle(detection({ pid: 100 + i, guid: `g-${i}` }, ['kill']));
  assert.deepEqual(t.skipped(), ['kill:skipped:rate limit', 'kill:skipped:rate limit']);
  t.clock.now += 59_000;
  t.p.handle(detection({ pid: 200, guid: 'g-200' }, ['kill']));
  assert.equal(t.journal.length, 3, 'still within the minute of the first three');
  t.clock.now += 1_001;
  t.p.handle(detection({ pid: 201, guid: 'g-201' }, ['kill']));
  await t.bus.idle();
  assert.deepEqual(t.performed.map((r) => r.target?.guid), ['g-0', 'g-1', 'g-2', 'g-201']);
  assert.deepEqual(t.counters.snapshot().discarded, { action_rate_limit: { count: 3, intended: true } });
});

test('cooldown: the same action on the same process is skipped until cooldown_seconds have passed; other processes are not', async () => {
  const t = policy({ cooldown_seconds: 300 });
  const other: ProcessInfo = { pid: 4242, guid: 'g-reused-pid', image: 'C:\\x\\b.exe' };
  t.p.handle(detection(evil, ['kill']));
  t.clock.now += 299_000;
  t.p.handle(detection(evil, ['kill']));
  t.p.handle(detection(other, ['kill']));
  t.clock.now += 1_000;
  t.p.handle(detection(evil, ['kill']));
  await t.bus.idle();
  assert.deepEqual(t.skipped(), ['kill:skipped:cooldown']);
  assert.deepEqual(t.performed.map((r) => r.target?.guid), ['g-evil', 'g-reused-pid', 'g-evil'], 'the process is told apart by guid, not pid');
  assert.deepEqual(t.counters.snapshot().discarded, { action_cooldown: { count: 1, intended: true } });
  assert.equal(t.journal[0]!.time, t.clock.now - 1_000, 'the journal entry carries the decision time');
});
