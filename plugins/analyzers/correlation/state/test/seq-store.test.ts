import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RC_BITS, SeqStore } from '../seq-store.js';
import type { BlockSource } from '../block-pool.js';
import { ev, harness, LSASS, LSASS_RULE } from '../../test/helpers.js';

const SPAN = 60_000;

test('keys are found by their bytes: many keys, non-ASCII keys, removal keeps the others reachable', () => {
  const st = new SeqStore(2, SPAN);
  const n = 50_000;
  const ids: number[] = [];
  // Keys sharing long prefixes and suffixes, plus non-ASCII ones, exercise probing and byte compares.
  const key = (i: number): string => (i % 7 === 0 ? `prozeß-ü-${i}` : `{00000000-0000-0000-0000-${String(i).padStart(12, '0')}}`);
  for (let i = 0; i < n; i++) ids.push(st.add(1, key(i), 1000 + i, i, -1, { type: 'x', time: i, n: i }, null));
  assert.equal(st.live, n);
  for (let i = 0; i < n; i += 997) {
    assert.equal(st.find(1, key(i)), ids[i]);
    assert.equal(st.keyOf(ids[i] as number), key(i));
  }
  assert.equal(st.find(1, 'missing'), -1);
  assert.equal(st.find(0, key(1)), -1, 'another step has its own table');
  // Remove every other key: the rest must stay reachable (backward-shift deletion).
  for (let i = 0; i < n; i += 2) st.remove(ids[i] as number);
  assert.equal(st.live, n / 2);
  for (let i = 0; i < n; i++) assert.equal(st.find(1, key(i)) >= 0, i % 2 === 1, `key ${i}`);
  // Shrinking tables keep the survivors.
  for (let i = 1; i < n - 2; i += 2) st.remove(ids[i] as number);
  assert.equal(st.find(1, key(n - 1)), ids[n - 1]);
});

test('the evidence chain is re-created from bytes; events JSON cannot encode are held as objects', () => {
  const st = new SeqStore(3, SPAN);
  const a = { type: 'a', time: 1, proc: { guid: '{A}' }, raw: { Note: 'çà€' } };
  const b = { type: 'b', time: 2, proc: { guid: '{A}' } };
  const id0 = st.add(1, 'k1', SPAN + 1, 1, -1, a, null);
  const id1 = st.add(2, 'k2', SPAN + 1, 2, id0, b, null);
  st.remove(id0);
  const chain = st.chain(id1);
  assert.deepEqual(
    chain.map((c) => c.key),
    ['k1', 'k2'],
  );
  assert.deepEqual(chain[0]?.subj, a);
  assert.deepEqual(chain[1]?.subj, b);
  const big = { type: 'c', time: 3, size: 10n };
  const id2 = st.add(1, 'k3', SPAN + 3, 3, -1, big, null);
  assert.equal(st.chain(id2)[0]?.subj, big, 'held as the same object');
});

test('the wheel hands out due records once, and the oldest record is the eviction victim', () => {
  const st = new SeqStore(2, SPAN);
  for (let i = 0; i < 1000; i++) st.add(1, `k${i}`, SPAN + i * 100, i * 100, -1, { type: 'x', time: i * 100 }, null);
  assert.equal(st.keyOf(st.oldest()), 'k0');
  const seen = new Set<number>();
  let visited = 0;
  while (st.sweep(SPAN + 50_000, 64, (id) => {
    assert.ok(!seen.has(id));
    seen.add(id);
    visited++;
    st.remove(id);
  }) > 0);
  assert.ok(visited > 400 && visited < 520, `due records only (${visited})`);
  assert.equal(st.live, 1000 - visited);
});

test('detections keep their evidence with many live partial matches in the store', () => {
  const h = harness([LSASS_RULE]);
  const as = Array.from({ length: 2000 }, (_, i) => ev({ type: 'process.access', proc: { guid: `{P${i}}` }, target: LSASS, access: { granted: 0x1410 } }, i));
  h.feed(...as);
  const b = ev({ type: 'thread.remote_create', proc: { guid: '{P1234}' }, target: LSASS }, 5000);
  h.feed(b);
  assert.equal(h.fired.length, 1);
  const evidence = h.fired[0]?.evidence ?? [];
  assert.deepEqual(evidence[0], as[1234], 'the first step event, re-created equal to the original');
  assert.equal(evidence[1], b);
  assert.equal(h.engine.liveKeys, 1999);
});

test('chains with events of every size come back equal, across block boundaries', () => {
  const st = new SeqStore(3, SPAN);
  for (let i = 0; i < 800; i++) {
    const a = { type: 'a', time: i, cmdline: 'y'.repeat((i * 53) % 6000) };
    const b = { type: 'b', time: i + 1, note: 'z'.repeat((i * 29) % 3000) };
    const id0 = st.add(1, `k${i}`, SPAN + i, i, -1, a, null);
    const id1 = st.add(2, `k${i}`, SPAN + i, i + 1, id0, b, null);
    st.remove(id0);
    assert.deepEqual(
      st.chain(id1).map((c) => c.subj),
      [a, b],
    );
  }
});

/** A BlockSource that checks every block given back was taken from it and is not out twice. */
function trackingBlocks(): BlockSource & { out: Set<Buffer> } {
  const out = new Set<Buffer>();
  return {
    blockBytes: 1 << 20,
    out,
    take(): Buffer {
      const b = Buffer.allocUnsafeSlow(1 << 20).fill(0x5a);
      out.add(b);
      return b;
    },
    give(b: Buffer): void {
      assert.ok(out.delete(b), 'a block given back was out');
    },
  };
}

test('record blocks follow the live count down: lowest free record first, empty top blocks given back', () => {
  const blocks = trackingBlocks();
  const st = new SeqStore(1, SPAN, blocks);
  const per = 1 << RC_BITS;
  const ids: number[] = [];
  for (let i = 0; i < 3 * per + 100; i++) ids.push(st.add(0, `k${i}`, SPAN, 0, -1, null, null));
  assert.equal(st.recordBlocks, 4);
  // A new record takes a free record of the lowest block that has one.
  for (let i = 0; i < 1000; i++) {
    st.remove(ids[i] as number);
    st.remove(ids[3 * per + (i % 100)] as number);
  }
  for (let i = 0; i < 1000; i++) {
    const id = st.add(0, `n${i}`, SPAN, 0, -1, null, null);
    assert.equal(id >>> RC_BITS, 0, `new record ${i} went to block ${id >>> RC_BITS}`);
    ids[i] = id;
  }
  // The top block empties: it stays while the block below it is live (one empty block is kept).
  assert.equal(st.recordBlocks, 4);
  // Blocks 2 and 3 empty: block 3 goes, block 2 stays as the empty one.
  for (let i = 2 * per; i < 3 * per; i++) st.remove(ids[i] as number);
  assert.equal(st.recordBlocks, 3);
  assert.equal(st.isLive(3 * per + 5), false, 'a record of a block given back is not live');
  for (let i = 0; i < 2 * per; i += 811) assert.equal(st.find(0, i < 1000 ? `n${i}` : `k${i}`), ids[i], `key ${i} after the trim`);
  for (let i = 0; i < 2 * per; i++) st.remove(ids[i] as number);
  assert.equal(st.live, 0);
  assert.equal(st.recordBlocks, 1);
  // Growing again takes blocks again; every key is found.
  const again: number[] = [];
  for (let i = 0; i < 2 * per + 1; i++) again.push(st.add(0, `a${i}`, SPAN, 0, -1, null, null));
  assert.equal(st.recordBlocks, 3);
  for (let i = 0; i < again.length; i += 977) assert.equal(st.find(0, `a${i}`), again[i]);
  assert.equal(new Set(again).size, again.length);
});

test('after a burst, a window sliding at a lower rate gives the blocks of the burst back', () => {
  // A burst of 80,000 live records, then records end oldest first while new ones come at
  // half that rate, down to 5,000 live, then a steady window of 5,000. Handing out the most
  // recently freed record (a LIFO free list) would scatter the steady window over every block
  // of the burst, and none would ever empty.
  const blocks = trackingBlocks();
  const st = new SeqStore(1, SPAN, blocks);
  const window: number[] = [];
  let head = 0;
  let k = 0;
  const add = (): void => {
    window.push(st.add(0, `w${k++}`, SPAN, 0, -1, null, null));
  };
  const endOldest = (): void => st.remove(window[head++] as number);
  for (let i = 0; i < 80_000; i++) add();
  const peak = st.recordBlocks;
  assert.equal(peak, 5);
  for (let i = 0; st.live > 5000; i++) {
    endOldest();
    if (i % 2 === 0) add();
  }
  for (let i = 0; i < 200_000; i++) {
    endOldest();
    add();
  }
  assert.equal(st.live, 5000);
  assert.ok(st.recordBlocks <= 2, `${st.recordBlocks} record blocks held for 5,000 live records (${peak} at the peak)`);
  for (let i = window.length - 5000; i < window.length; i += 499) assert.equal(st.find(0, `w${i}`), window[i]);
});
