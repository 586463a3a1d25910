import { test } from 'node:test';
import { AsyncLocalStorage } from 'node:async_hooks';
import assert from 'node:assert/strict';
import { SubscriberQueue } from '../subscriber-queue.js';
import { PluginCounters } from '../../telemetry/counters.js';

const turn = () => new Promise((r) => setImmediate(r));

function queue(opts: { capacity: number; batchSize: number; handler?: (batch: readonly number[]) => void | Promise<void> }) {
  const counters = new PluginCounters();
  const batches: number[][] = [];
  const failures: unknown[] = [];
  const q = new SubscriberQueue<number>(
    'sub/events',
    opts.handler ?? ((b) => void batches.push([...b])),
    counters,
    opts.capacity,
    opts.batchSize,
    (err) => failures.push(err),
  );
  return { q, counters, batches, failures };
}

test('items are handed over later, in order, in batches of at most batch_events; received counts them', async () => {
  const { q, counters, batches } = queue({ capacity: 100, batchSize: 4 });
  for (let i = 1; i <= 10; i++) assert.equal(q.push(i, false), true);
  assert.deepEqual(batches, [], 'nothing runs inside push (the publisher never waits on a subscriber)');
  await q.whenIdle();
  assert.deepEqual(batches, [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10]]);
  assert.equal(counters.received, 10);
  assert.equal(q.idle, true);
});

test('live: a full queue drops the item and counts it as queue_full (lost); every item is delivered or counted', async () => {
  const { q, counters, batches } = queue({ capacity: 5, batchSize: 2 });
  const accepted: boolean[] = [];
  for (let i = 1; i <= 8; i++) accepted.push(q.push(i, false));
  assert.deepEqual(accepted, [true, true, true, true, false, false, false, false], 'false once the queue is at capacity');
  await q.whenIdle();
  assert.deepEqual(batches.flat(), [1, 2, 3, 4, 5], 'the first five, in order');
  assert.deepEqual(counters.snapshot().discarded, { queue_full: { count: 3, intended: false } });
  assert.equal(counters.lostTotal, 3);
});

test('replay: a forced push is never dropped; the producer is told to wait and released once the queue has drained', async () => {
  // Soft limit min(capacity, 8 × batch) = 16; writable again below 8.
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const seen: number[] = [];
  const { q, counters } = queue({
    capacity: 1000,
    batchSize: 2,
    handler: async (b) => {
      await gate;
      seen.push(...b);
    },
  });
  const more: boolean[] = [];
  for (let i = 1; i <= 40; i++) more.push(q.push(i, true));
  assert.equal(more.indexOf(false), 15, 'the 16th item reaches the soft limit');
  assert.ok(more.slice(15).every((m) => !m));
  let writable = false;
  const w = q.whenWritable().then(() => (writable = true));
  await turn();
  assert.equal(writable, false, 'held while the consumer is stuck');
  release();
  await w;
  assert.ok(q.length < 8, `released below half the soft limit (${q.length} left)`);
  await q.whenIdle();
  assert.deepEqual(seen, Array.from({ length: 40 }, (_, i) => i + 1), 'all 40, in order');
  assert.deepEqual(counters.snapshot().discarded, {});
});

test('a handler that throws is reported to the supervisor; the batch is not retried and the next ones still run', async () => {
  const got: number[] = [];
  const { q, failures, counters } = queue({
    capacity: 100,
    batchSize: 2,
    handler: (b) => {
      if (b.includes(3)) throw new Error('bad batch');
      got.push(...b);
    },
  });
  for (let i = 1; i <= 6; i++) q.push(i, false);
  await q.whenIdle();
  assert.deepEqual(got, [1, 2, 5, 6]);
  assert.equal(failures.length, 1);
  assert.match(String(failures[0]), /bad batch/);
  assert.equal(counters.received, 6);
});

test('an async handler finishes before the next batch starts (no overlap, order kept)', async () => {
  let active = 0;
  let most = 0;
  const order: number[] = [];
  const { q } = queue({
    capacity: 100,
    batchSize: 3,
    handler: async (b) => {
      active++;
      most = Math.max(most, active);
      await new Promise((r) => setImmediate(r));
      order.push(...b);
      active--;
    },
  });
  for (let i = 1; i <= 9; i++) q.push(i, false);
  await turn();
  for (let i = 10; i <= 12; i++) q.push(i, false);
  await q.whenIdle();
  assert.equal(most, 1);
  assert.deepEqual(order, Array.from({ length: 12 }, (_, i) => i + 1));
});

test('a detached queue discards and counts what it holds and everything handed to it later', async () => {
  const { q, counters, batches } = queue({ capacity: 100, batchSize: 10 });
  for (let i = 1; i <= 4; i++) q.push(i, false);
  q.detached = true;
  assert.equal(q.discardAll('plugin_detached'), 4);
  q.push(5, false);
  q.push(6, true);
  await q.whenWritable();
  await q.whenIdle();
  assert.deepEqual(batches, []);
  assert.deepEqual(counters.snapshot().discarded, { plugin_detached: { count: 6, intended: false } });
});

test("the consumer runs in the queue's own async context, not in the producer's", async () => {
  const scope = new AsyncLocalStorage<string>();
  const seen: Array<string | undefined> = [];
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const q = new SubscriberQueue<number>(
    'consumer',
    () => {
      seen.push(scope.getStore());
      done();
    },
    new PluginCounters(),
    10,
    10,
    (err) => assert.fail(String(err)),
  );
  scope.run('sensor-a', () => q.push(1, false));
  await finished;
  assert.deepEqual(seen, [undefined]);
});
