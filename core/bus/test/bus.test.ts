import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bus } from '../bus.js';
import { PluginCounters } from '../../telemetry/counters.js';
import type { VigilEvent } from '../../events/event.js';
import type { ActionRequest, Detection } from '../../events/detection.js';

let seq = 0;
function event(type: string): VigilEvent {
  seq++;
  return { id: `e-${seq}`, seq, type, time: seq, received: seq, source: 'test', host: { name: 'h' } } as VigilEvent;
}

function detection(n: number): Detection {
  return { id: `d-${n}`, rule: { id: 'r', title: 'r', source: 'native' }, severity: 'low', evidence: [], actions: [], tags: [], time: n, raised: n, analyzer: 'a', host: { name: 'h' }, summary: 'r' } as Detection;
}

/** A subscriber that records the seq of every event, batch by batch. */
function recorder(bus: Bus, name: string, eventTypes: string[], opts: { fail?: boolean; slow?: boolean; gate?: Promise<void> } = {}) {
  const counters = new PluginCounters();
  const batches: number[][] = [];
  const failures: unknown[] = [];
  const sub = bus.subscribe({
    name,
    counters,
    eventTypes,
    onFailure: (err) => failures.push(err),
    onEvents: async (batch) => {
      if (opts.fail) throw new Error(`${name} fails`);
      if (opts.slow) await new Promise((r) => setTimeout(r, 1));
      if (opts.gate) await opts.gate;
      batches.push(batch.map((e) => e.seq));
    },
  });
  return { counters, batches, failures, sub, seqs: () => batches.flat() };
}

test('an event reaches the subscribers of its type and of *, in publication order, nobody else', async () => {
  const bus = new Bus({ capacity: 100, batchSize: 3 });
  const starts = recorder(bus, 'starts', ['process.start']);
  const all = recorder(bus, 'all', ['*']);
  const dns = recorder(bus, 'dns', ['dns.query']);
  const first = seq + 1;
  for (let i = 0; i < 5; i++) bus.publishEvent(event(i % 2 === 0 ? 'process.start' : 'net.connect'), false);
  await bus.idle();
  assert.deepEqual(starts.seqs(), [first, first + 2, first + 4]);
  assert.deepEqual(all.seqs(), [first, first + 1, first + 2, first + 3, first + 4]);
  assert.deepEqual(all.batches.map((b) => b.length), [3, 2], 'batches of at most batch_events');
  assert.deepEqual(dns.seqs(), []);
});

test('live: a stuck subscriber loses events to its full queue, counted; the others get every event', async () => {
  const bus = new Bus({ capacity: 8, batchSize: 4 });
  let release!: () => void;
  const stuck = recorder(bus, 'stuck', ['*'], { gate: new Promise<void>((r) => (release = r)) });
  const fast = recorder(bus, 'fast', ['*']);
  for (let i = 0; i < 200; i++) {
    assert.equal(bus.publishEvent(event('process.start'), false), undefined, 'a live publisher never waits');
    if (i % 4 === 3) await new Promise((r) => setImmediate(r));
  }
  release();
  await bus.idle();
  // The stuck one holds its first batch (4) in its handler and 8 more in its queue.
  assert.equal(stuck.seqs().length, 12);
  assert.deepEqual(stuck.counters.snapshot().discarded, { queue_full: { count: 188, intended: false } });
  assert.equal(fast.seqs().length, 200);
  assert.deepEqual(fast.counters.snapshot().discarded, {});
});

test('replay: a full queue makes the publisher wait instead of dropping; nothing is lost, order is kept', async () => {
  const bus = new Bus({ capacity: 8, batchSize: 2 });
  const slow = recorder(bus, 'slow', ['*'], { slow: true });
  const first = seq + 1;
  let waited = 0;
  for (let i = 0; i < 100; i++) {
    const p = bus.publishEvent(event('process.start'), true);
    if (p) {
      waited++;
      await p;
    }
    assert.ok(bus.backlog <= 8, `held near the soft limit (${bus.backlog})`);
  }
  await bus.idle();
  assert.ok(waited > 0, 'the publisher was held back');
  assert.deepEqual(slow.seqs(), Array.from({ length: 100 }, (_, i) => first + i));
  assert.deepEqual(slow.counters.snapshot().discarded, {});
});

test('a failing subscriber does not stop the others', async () => {
  const bus = new Bus({ capacity: 100, batchSize: 2 });
  const bad = recorder(bus, 'bad', ['*'], { fail: true });
  const good = recorder(bus, 'good', ['*']);
  for (let i = 0; i < 10; i++) bus.publishEvent(event('process.start'), false);
  await bus.idle();
  assert.equal(good.seqs().length, 10);
  assert.equal(bad.failures.length, 5, 'one failure per batch, each reported');
  assert.equal(bad.counters.received, 10);
});

test('detections, action requests and results are never dropped, whatever the capacity', async () => {
  const bus = new Bus({ capacity: 2, batchSize: 1 });
  const counters = new PluginCounters();
  const detections: string[] = [];
  const actions: string[] = [];
  bus.subscribe({
    name: 'out',
    counters,
    onFailure: (err) => assert.fail(String(err)),
    onDetections: (b) => void detections.push(...b.map((d) => d.id)),
    actions: ['kill'],
    onActions: (b) => void actions.push(...b.map((a) => a.action)),
  });
  assert.equal(bus.hasActionHandler('kill'), true);
  assert.equal(bus.hasActionHandler('suspend'), false, 'nobody performs suspend');
  for (let i = 0; i < 20; i++) bus.publishDetection(detection(i));
  for (let i = 0; i < 5; i++) bus.publishAction({ id: `a${i}`, action: 'kill', params: {}, detection: detection(i), dry_run: false } as ActionRequest);
  await bus.idle();
  assert.equal(detections.length, 20);
  assert.deepEqual(actions, ['kill', 'kill', 'kill', 'kill', 'kill']);
  assert.deepEqual(counters.snapshot().discarded, {});
});

test('detach discards and counts what is queued and what comes later; unsubscribe stops routing', async () => {
  const bus = new Bus({ capacity: 100, batchSize: 10 });
  const r = recorder(bus, 'r', ['*']);
  for (let i = 0; i < 3; i++) bus.publishEvent(event('process.start'), false);
  r.sub.detach();
  bus.publishEvent(event('process.start'), false);
  await bus.idle();
  assert.deepEqual(r.seqs(), []);
  assert.deepEqual(r.counters.snapshot().discarded, { plugin_detached: { count: 4, intended: false } });
  r.sub.unsubscribe();
  bus.publishEvent(event('process.start'), false);
  assert.equal(r.counters.snapshot().discarded['plugin_detached']?.count, 4, 'no longer routed at all');
  assert.equal(bus.backlog, 0);
});
