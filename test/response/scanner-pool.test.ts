/**
 * The scanner responder against a worker pool of its own size: a full queue is counted and
 * answered as failed results, and libyara-wasm's worker recycling (a worker retires after
 * `recycle_wasm_after` wasm scans; the task that found it retiring runs again).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { ActionRequest } from '../../core/index.js';
import { WorkerPool } from '../../core/workers/worker-pool.js';
import { sampleDetection } from '../../testing/index.js';
import { startScanner } from '../../plugins/responders/scanner/test/harness.js';

const MARKER = `VIGIL-SCANNER-POOL-${randomUUID().slice(0, 8)}`;
const dir = mkdtempSync(join(tmpdir(), 'vigil-scanner-pool-'));
const rulesFile = join(dir, 'marker.yar');
writeFileSync(rulesFile, `rule Vigil_Test_Marker\n{\n  strings:\n    $m = "${MARKER}"\n  condition:\n    $m\n}\n`);

function request(path: string): ActionRequest {
  const detection = sampleDetection({ pid: 0, image: '/bin/true', time: Date.now() });
  return { id: randomUUID(), action: 'filescan', params: { path }, detection, dry_run: false };
}

function responder(config: Record<string, unknown>, pool: WorkerPool) {
  return startScanner({ config: { yara: { rule_paths: [rulesFile] }, ...config }, services: { 'worker-pool': () => pool } });
}

test('a full worker queue is counted and answered as failed results with the reason', async () => {
  const pool = new WorkerPool({ maxThreads: 1, maxQueue: 1, taskTimeoutMs: 30_000 });
  const file = join(dir, 'queue.bin');
  writeFileSync(file, Buffer.alloc(64, 0x41));
  const r = await responder({ cache: { max_entries: 0 } }, pool);
  try {
    const reqs = Array.from({ length: 6 }, () => request(file));
    await r.inst.onActions!(reqs);
    const failed = r.rec.results.filter((x) => x.status === 'failed');
    assert.ok(failed.length > 0, 'some were refused');
    for (const f of failed) assert.match(f.reason ?? '', /VIGIL_ERR_WORKER_QUEUE_FULL/);
    assert.equal(r.rec.results.length, 6, 'every request answered');
    assert.equal(r.rec.emitted.filter((e) => e.scan?.verdict === 'error').length, failed.length);
    assert.ok((pool.counters.snapshot().discarded['queue_full:scanner.file']?.count ?? 0) > 0);
  } finally {
    await r.inst.stop();
    await r.rec.dispose();
    await pool.close();
  }
});

test('libyara-wasm: a worker retires after recycle_wasm_after scans and the task that found it retiring runs again on a new thread', async () => {
  const pool = new WorkerPool({ maxThreads: 1, maxQueue: 16, taskTimeoutMs: 30_000 });
  const file = join(dir, 'wasm.bin');
  writeFileSync(file, Buffer.concat([Buffer.alloc(100), Buffer.from(MARKER, 'latin1')]));
  const r = await responder({ yara: { rule_paths: [rulesFile], engine: 'libyara-wasm' }, recycle_wasm_after: 1, cache: { max_entries: 0 } }, pool);
  try {
    for (let i = 0; i < 3; i++) {
      const { result, scan } = await r.ask(request(file));
      assert.equal(result.status, 'done', result.reason);
      assert.equal(scan.engine, 'libyara-wasm');
      assert.equal(scan.matches?.[0]?.strings[0]?.offset, 100);
    }
    assert.equal(r.rec.counters.snapshot().custom['workers_recycled'], 2);
  } finally {
    await r.inst.stop();
    await r.rec.dispose();
    await pool.close();
  }
});
