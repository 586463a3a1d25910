import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { WorkerPool } from '../index.js';
import { isVigilError } from '../../errors/index.js';

const tasks = fileURLToPath(new URL('./worker-tasks.js', import.meta.url));

test('named tasks run in worker threads; buffers are transferred, not copied', async (t) => {
  const pool = new WorkerPool({ maxThreads: 2, maxQueue: 8, taskTimeoutMs: 10_000 });
  t.after(() => pool.close());
  pool.register('sum', tasks);
  const buf = new Uint8Array(1024).fill(3).buffer;
  const result = await pool.run<number>('sum', { buf }, { transfer: [buf] });
  assert.equal(result, 3072);
  assert.equal(buf.byteLength, 0, 'the buffer moved to the worker');
  assert.equal(pool.counters.emitted, 1);
});

test('a task past its timeout is cancelled with VIGIL_ERR_WORKER_TIMEOUT and counted', async (t) => {
  const pool = new WorkerPool({ maxThreads: 1, maxQueue: 8, taskTimeoutMs: 10_000 });
  t.after(() => pool.close());
  pool.register('spin', tasks, 'spin');
  await assert.rejects(pool.run('spin', { ms: 5_000 }, { timeoutMs: 100 }), (err: unknown) => isVigilError(err) && err.code === 'VIGIL_ERR_WORKER_TIMEOUT');
  assert.equal(pool.counters.snapshot().errors['process:timeout:spin'], 1);
  // The pool still works after the runaway worker was replaced.
  pool.register('sum', tasks);
  const buf = new Uint8Array([1, 2, 3]).buffer;
  assert.equal(await pool.run<number>('sum', { buf }), 6);
});

test('cancellation by the caller, a failing task, and a full queue are each reported and counted', async (t) => {
  const pool = new WorkerPool({ maxThreads: 1, maxQueue: 1, taskTimeoutMs: 10_000 });
  t.after(() => pool.close());
  pool.register('spin', tasks, 'spin');
  pool.register('fail', tasks, 'fail');

  const ac = new AbortController();
  const running = pool.run('spin', { ms: 3_000 }, { signal: ac.signal });
  const queued = pool.run('spin', { ms: 10 });
  await assert.rejects(pool.run('spin', { ms: 10 }), (err: unknown) => isVigilError(err) && err.code === 'VIGIL_ERR_WORKER_QUEUE_FULL');
  ac.abort();
  await assert.rejects(running);
  assert.equal(await queued, 'finished');
  await assert.rejects(pool.run('fail', {}), (err: unknown) => isVigilError(err) && err.code === 'VIGIL_ERR_WORKER_FAILED' && /on purpose/.test(err.message));
  const snap = pool.counters.snapshot();
  assert.equal(snap.discarded['queue_full:spin']?.count, 1);
  assert.equal(snap.discarded['cancelled:spin']?.count, 1);
  assert.equal(snap.errors['process:failed:fail'], 1);
});
