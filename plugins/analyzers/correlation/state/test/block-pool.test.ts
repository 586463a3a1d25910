import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { BlockPool } from '../block-pool.js';
import { runChildScript } from '../../../../../test/support/child-script.js';

/** The module a child script imports (compiled or from the sources, as this test runs). */
const POOL = new URL('../block-pool.js', import.meta.url);

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await sleep(10);
  assert.ok(cond(), `timed out waiting for ${what}`);
}

test('blocks are prepared by the helper thread ahead of demand and reused when given back', async () => {
  const pool = new BlockPool({ prefault: true, blockBytes: 64 * 1024, initialLead: 2, maxLead: 8 });
  try {
    assert.equal(pool.counters().worker, false, 'the thread starts on the first take, not before');
    const first = pool.take();
    assert.equal(first.length, 64 * 1024);
    assert.equal(pool.counters().fallback, 1, 'nothing was prepared yet: made in place');
    assert.equal(pool.counters().worker, true);
    await until(() => pool.counters().ready >= 2, 'prepared blocks');
    const b = pool.take();
    assert.equal(b.length, 64 * 1024);
    b.fill(7);
    const c = pool.counters();
    assert.equal(c.fallback, 1, 'served from the prepared ones');
    assert.ok(c.prefaulted >= 2);
    pool.give(b);
    assert.equal(pool.counters().reused, 1);
    // Take everything: the lead grows when callers outrun the thread.
    for (let i = 0; i < 20; i++) pool.take();
    assert.ok(pool.counters().lead > 2, `lead ${pool.counters().lead}`);
  } finally {
    await pool.close();
  }
  assert.equal(pool.counters().worker, false, 'closed: the thread is gone');
  assert.equal(pool.counters().failure, null, 'a close is not a failure');
  assert.equal(pool.take().length, 64 * 1024, 'a closed pool still hands out blocks (made in place)');
});

test('without prefaulting no thread is started', () => {
  const pool = new BlockPool({ prefault: false, blockBytes: 4096 });
  for (let i = 0; i < 5; i++) assert.equal(pool.take().length, 4096);
  const c = pool.counters();
  assert.equal(c.worker, false);
  assert.equal(c.fallback, 5);
  pool.give(Buffer.alloc(100));
  assert.equal(pool.counters().released, 1, 'a block of another size is not kept');
});

test('the helper thread never keeps the process alive', () => {
  const r = runChildScript(
    `import { BlockPool } from {{pool}};
const p = new BlockPool({ prefault: true });
p.take();
p.take();
setTimeout(() => { p.take(); console.log('took'); }, 200);
`,
    { timeoutMs: 20_000, modules: { pool: POOL } },
  );
  assert.equal(r.signal, null, 'exited by itself (not killed at the timeout)');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /took/);
});

test('making and preparing blocks touches none of their pages on the caller\'s thread', { skip: existsSync('/proc/thread-self/stat') ? false : 'needs /proc/thread-self/stat (Linux)' }, () => {
  // In a child with --expose-gc: once the C allocator has freed a 1 MiB mapping it serves
  // blocks of that size from its heap, where a zero-filled allocation writes every page on
  // the thread that asks for it. Sixteen prepared blocks are taken (and sixteen more made to
  // replace them) and every page of the taken ones is written: the caller's thread should
  // fault on almost none of them (a zero-filled refill faulted about 500 times here).
  const r = runChildScript(
    `import { readFileSync } from 'node:fs';
import { BlockPool } from {{pool}};
const faults = () => { const st = readFileSync('/proc/thread-self/stat', 'utf8'); return Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[7]); };
for (let i = 0; i < 4; i++) { let b = new ArrayBuffer(1 << 20); new Uint8Array(b)[0] = 1; b = null; globalThis.gc(); await new Promise((r) => setTimeout(r, 10)); }
const pool = new BlockPool({ prefault: true, initialLead: 16, maxLead: 16 });
pool.take();
for (let i = 0; i < 1000 && pool.counters().ready < 16; i++) await new Promise((r) => setTimeout(r, 10));
if (pool.counters().ready < 16) throw new Error('the helper thread prepared ' + pool.counters().ready + ' of 16 blocks');
const f0 = faults();
const got = [];
for (let i = 0; i < 16; i++) got.push(pool.take());
for (const b of got) for (let i = 0; i < b.length; i += 4096) b[i] = 7;
console.log(JSON.stringify({ faults: faults() - f0, fallback: pool.counters().fallback }));
await pool.close();
`,
    { exposeGc: true, modules: { pool: POOL } },
  );
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim()) as { faults: number; fallback: number };
  assert.equal(out.fallback, 1, 'only the first block was made in place');
  // 16 blocks of 256 pages were written; one block's worth of faults is the allowance.
  assert.ok(out.faults < 256, `the caller's thread took ${out.faults} page faults`);
});
