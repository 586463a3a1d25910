import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CountStore } from '../count-store.js';
import type { VigilEvent } from '../../../../../core/index.js';
import type { BlockSource } from '../block-pool.js';
import { ev } from '../../test/helpers.js';

const SPAN = 60_000;

/** A BlockSource that counts what is out, and hands out dirty blocks (as reused ones are). */
function countingBlocks(): BlockSource & { out: number } {
  const src = {
    blockBytes: 1 << 20,
    out: 0,
    take(): Buffer {
      src.out++;
      return Buffer.allocUnsafeSlow(1 << 20).fill(0xa5);
    },
    give(): void {
      src.out--;
    },
  };
  return src;
}

test('evidence is kept as bytes and re-created in order; shifting lets go of the oldest', () => {
  const cs = new CountStore(SPAN, countingBlocks());
  const g = cs.create('alice', 0, SPAN);
  const es = Array.from({ length: 6 }, (_, i) => ev({ type: 'logon.failure', user: { target_name: 'alice', domain: 'ÉCOLE' }, raw: { IpAddress: `10.0.0.${i}` } }, i * 1000));
  for (const e of es) {
    cs.counted(g);
    cs.push(g, e.time, e);
  }
  assert.equal(cs.kept(g), 6);
  assert.equal(cs.count(g), 6);
  assert.equal(cs.oldestTime(g), es[0]?.time);
  const back = cs.evidence(g);
  assert.deepEqual(back, es, 'equal events, oldest first');
  assert.notEqual(back[0], es[0], 're-created from bytes, not the objects themselves');
  cs.shift(g);
  cs.shift(g);
  assert.equal(cs.kept(g), 4);
  assert.equal(cs.count(g), 6, 'the count is not the evidence kept');
  assert.equal(cs.oldestTime(g), es[2]?.time);
  assert.deepEqual(cs.evidence(g), es.slice(2));
  for (let i = 0; i < 4; i++) cs.shift(g);
  assert.equal(cs.kept(g), 0);
  assert.ok(Number.isNaN(cs.oldestTime(g)));
  assert.deepEqual(cs.evidence(g), []);
  // The list works again after it emptied.
  const late = ev({ type: 'logon.failure', user: { target_name: 'alice' } }, 9000);
  cs.push(g, late.time, late);
  assert.deepEqual(cs.evidence(g), [late]);
});

test('what the codec does not take is held as the object; detections share events only once', () => {
  const cs = new CountStore(SPAN, countingBlocks());
  const g = cs.create('k', 0, SPAN);
  const odd = { ...ev({ type: 'logon.failure' }, 1), big: 10n } as unknown as VigilEvent;
  const a = ev({ type: 'x' }, 2);
  const b = ev({ type: 'y' }, 3);
  cs.push(g, 1, odd);
  cs.push(g, 2, [a, b]);
  cs.push(g, 3, [b]);
  const out = cs.evidence(g);
  assert.equal(out[0], odd, 'held as is');
  assert.equal(out[1], a);
  assert.equal(out[2], b);
  assert.equal(out.length, 3, 'b once');
  cs.shift(g);
  assert.deepEqual(cs.evidence(g), [a, b]);
});

test('value counts keep the newest sighting of each value, up to a maximum, and forget old ones', () => {
  const cs = new CountStore(SPAN, countingBlocks());
  const g = cs.create('host1', 0, SPAN);
  const e = (user: string, t: number): VigilEvent => ev({ type: 'logon.failure', user: { target_name: user } }, t);
  assert.ok(cs.sight(g, 'a', 1, e('a', 1), 3));
  assert.ok(cs.sight(g, 'b', 2, e('b', 2), 3));
  assert.ok(cs.sight(g, 'a', 3, e('a', 3), 3), 'a seen again: its newer sighting replaces the older');
  assert.ok(cs.sight(g, 'c', 4, e('c', 4), 3));
  assert.equal(cs.sight(g, 'd', 5, e('d', 5), 3), false, 'beyond the maximum nothing is kept');
  assert.equal(cs.distinctCount(g), 3);
  assert.deepEqual(
    cs.evidence(g).map((x) => [x.user?.target_name, x.time - 1_700_000_000_000]),
    [
      ['b', 2],
      ['a', 3],
      ['c', 4],
    ],
  );
  cs.forgetBefore(g, 3);
  assert.equal(cs.distinctCount(g), 2);
  assert.equal(cs.distinctCount(cs.create('other', 0, SPAN)), -1, 'a group of an event count has no values');
});

test('groups are found by key among many; removed groups give their evidence blocks back', () => {
  const blocks = countingBlocks();
  const cs = new CountStore(SPAN, blocks);
  const n = 40_000;
  const ids: number[] = [];
  for (let i = 0; i < n; i++) {
    const g = cs.create(`user-${i}`, i, SPAN + i);
    ids.push(g);
    // About 100 bytes of evidence per group: 4 MB in all, several blocks.
    cs.push(g, i, ev({ type: 'logon.failure', user: { target_name: `user-${i}` }, raw: { Note: 'x'.repeat(40) } }, i));
  }
  assert.equal(cs.live, n);
  for (let i = 0; i < n; i += 1237) assert.equal(cs.find(`user-${i}`), ids[i]);
  assert.equal(cs.find('user-x'), -1);
  const peak = blocks.out;
  for (const g of ids) cs.remove(g);
  assert.equal(cs.live, 0);
  assert.equal(cs.find('user-7'), -1);
  // Everything goes back as it empties: evidence and key bytes (one current block of each
  // arena may stay), key records and count rows down to one block each.
  const rowBlocks = 2 * Math.ceil(n / 16_384); // key records and count rows
  assert.ok(peak >= rowBlocks + 4, `evidence took several blocks (${peak} at the peak)`);
  assert.equal(cs.keys.recordBlocks, 1);
  assert.ok(blocks.out <= 2 + 2, `blocks out ${blocks.out}: one block of records, one of rows, at most the current block of each arena`);
  assert.equal(cs.offHeapBytes <= 4 * blocks.blockBytes + 64 * 1024, true, `off-heap bytes ${cs.offHeapBytes} after every group ended`);
  // The same number of groups again takes as many row blocks again, and every group is found
  // with its count (rows of a block given back and taken again are written before being read).
  for (let i = 0; i < n; i++) cs.counted(cs.create(`again-${i}`, i, SPAN + i));
  assert.equal(cs.live, n);
  assert.ok(blocks.out <= rowBlocks + 2 + 1, `blocks out ${blocks.out}: the rows again, and key bytes`);
  for (let i = 0; i < n; i += 997) assert.equal(cs.count(cs.find(`again-${i}`)), 1);
});

test('events of every size come back equal, across block boundaries (large ones are encoded aside)', () => {
  const cs = new CountStore(SPAN, countingBlocks());
  const g = cs.create('k', 0, SPAN);
  const es: VigilEvent[] = [];
  // From a few bytes to several kilobytes, past the room an event is encoded into directly.
  for (let i = 0; i < 1500; i++) {
    const e = ev({ type: 'process.start', proc: { guid: `{${i}}`, cmdline: 'x'.repeat((i * 37) % 7000) } }, i);
    es.push(e);
    cs.push(g, e.time, e);
  }
  assert.deepEqual(cs.evidence(g), es);
});
