import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BlockPool } from '../../core/index.js';

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await sleep(10);
  assert.ok(cond(), `timed out waiting for ${what}`);
}

test('blocks are prepared by the helper thread ahead of demand, handed out zeroed, and reused when given back', async () => {
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
    assert.ok(b.every((x) => x === 0), 'a prepared block is fresh memory (zero)');
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
  const dir = mkdtempSync(join(tmpdir(), 'vigil-blocks-'));
  const script = join(dir, 'use-pool.mjs');
  const core = new URL('../../core/index.js', import.meta.url).href;
  writeFileSync(
    script,
    `import { BlockPool } from ${JSON.stringify(core)};
const p = new BlockPool({ prefault: true });
p.take();
p.take();
setTimeout(() => { p.take(); console.log('took'); }, 200);
`,
  );
  try {
    const r = spawnSync(process.execPath, [...process.execArgv, script], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.signal, null, 'exited by itself (not killed at the timeout)');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /took/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
