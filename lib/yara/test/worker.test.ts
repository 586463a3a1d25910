/**
 * The engines run in worker threads (the scans run in the core's worker pool): each loads again
 * in a new worker after the last one ended, and the wasm runtime leaves no process listeners.
 * Also: libyara-wasm replaces its leaking instance by itself.
 */
import { Worker } from 'node:worker_threads';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileRules, engineAvailable, wasmEngineStats, type YaraEngineName, type YaraRuleMatch } from '../index.js';

const TEXT = 'rule in_worker : w { meta: n = 1 strings: $a = "hello" condition: $a }';

function inWorker(engine: YaraEngineName): Promise<{ matches: YaraRuleMatch[]; listeners: number }> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./worker-scan.js', import.meta.url), { workerData: { engine, text: TEXT, data: Buffer.from('xx hello') } });
    w.once('message', (m: { matches: YaraRuleMatch[]; listeners: number }) => {
      void w.terminate().then(() => resolve(m), reject);
    });
    w.once('error', reject);
  });
}

for (const engine of ['yara-x', 'libyara-wasm'] as const) {
  test(`${engine}: compiles and scans in one worker thread after another`, { skip: engineAvailable(engine) ?? false }, async () => {
    for (let i = 0; i < 3; i++) {
      const r = await inWorker(engine);
      assert.deepEqual(r.matches, [{ rule: 'in_worker', namespace: 'w', tags: ['w'], meta: { n: 1 }, strings: [{ identifier: '$a', offset: 3, length: 5 }] }]);
      assert.equal(r.listeners, 0, 'no uncaughtException / unhandledRejection listener left in the worker');
    }
  });
}

test('libyara-wasm replaces its instance by itself once it has leaked enough, and scans go on', async () => {
  const rules = await compileRules('libyara-wasm', [{ namespace: 'r', text: 'rule r { strings: $a = "needle" condition: $a }' }]);
  const data = Buffer.alloc(1 << 20);
  data.write('needle', 12345);
  const loads = wasmEngineStats().loads ?? 0;
  // Each call leaks its compiled rules and its copy of the buffer; the reload comes after at
  // most WASM_RECYCLE_AFTER_CALLS calls. The bound only guards against a reload that never comes.
  let calls = 0;
  while ((wasmEngineStats().loads ?? 0) === loads) {
    assert.ok(calls < 1000, `no reload after ${calls} calls: ${JSON.stringify(wasmEngineStats())}`);
    assert.equal(rules.scan(data)[0]?.strings[0]?.offset, 12345);
    calls++;
    await new Promise((r) => setImmediate(r));
  }
  const after = wasmEngineStats();
  assert.ok((after.calls_since_load ?? 1) < calls, 'the counter restarted with the new instance');
  assert.equal(rules.scan(data)[0]?.strings[0]?.offset, 12345);
});
