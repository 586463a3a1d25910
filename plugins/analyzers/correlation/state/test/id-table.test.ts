import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ShardedIdTable } from '../id-table.js';

/** A hash with deliberate collisions (many ids share a hash) and spread top bits. */
const hashOf = (key: number): number => Math.imul(key % 50_000, 0x9e3779b1) | 0;

test('agrees with a Map through growth, splits, deletions and shrinking', () => {
  const t = new ShardedIdTable(7);
  const ref = new Map<number, number>(); // id → key
  const keyOfId = new Map<number, number>();
  let nextId = 0;
  const findKey = (key: number): number => t.find(hashOf(key), (id) => keyOfId.get(id) === key);
  // Grow to 200k keys (forces splits: one shard holds at most a few thousand).
  for (let k = 0; k < 200_000; k++) {
    const id = nextId++;
    ref.set(id, k);
    keyOfId.set(id, k);
    t.insert(hashOf(k), id);
  }
  assert.equal(t.size, 200_000);
  assert.ok(t.splits > 20, `splits ${t.splits}`);
  assert.ok(t.shards > 20);
  for (let k = 0; k < 200_000; k += 97) assert.equal(keyOfId.get(findKey(k)), k, `key ${k}`);
  assert.equal(findKey(-5), -1);
  // Remove four in five, in an order unrelated to insertion: the rest stays reachable.
  for (const [id, k] of ref) {
    if (k % 5 !== 0) {
      assert.ok(t.delete(hashOf(k), id));
      ref.delete(id);
      keyOfId.delete(id);
    }
  }
  assert.equal(t.size, ref.size);
  for (const [id, k] of ref) assert.equal(findKey(k), id);
  assert.equal(t.delete(hashOf(1), 999_999_999), false, 'absent id');
  const before = t.byteLength;
  for (const [id, k] of ref) t.delete(hashOf(k), id);
  assert.equal(t.size, 0);
  assert.ok(t.byteLength < before / 4, `tables shrink when emptied (${before} → ${t.byteLength})`);
  // The kept-up byte count equals what the arrays hold.
  const inner = t as unknown as { dir: Int32Array; tabs: Int32Array[] };
  assert.equal(t.byteLength, inner.dir.byteLength + inner.tabs.reduce((n, a) => n + a.byteLength, 0));
});

test('memory follows the key count: a small table stays small', () => {
  const t = new ShardedIdTable(1);
  for (let i = 0; i < 10; i++) t.insert(Math.imul(i + 1, 0x85ebca6b), i);
  assert.equal(t.shards, 1);
  assert.ok(t.byteLength <= 1024, `${t.byteLength} bytes for 10 keys`);
});
