import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Disposer } from '../../../../../core/index.js';
import { PluginCounters, silentLogger, validateWithSchema } from '../../../../../testing/index.js';
import { VirtualClock } from '../../clock.js';
import { CorrelationEngine } from '../../engine.js';
import { plugin } from '../../index.js';
import { compile, ev, LSASS, LSASS_RULE, T0 } from '../../test/helpers.js';
import { StateMemory, type StateMemoryConfig } from '../index.js';

const glibc = process.platform === 'linux' && (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header?.glibcVersionRuntime !== undefined;

/** The parts of a plugin context StateMemory uses, with the disposers kept to run them as the host does. */
function context(config: StateMemoryConfig): { ctx: ConstructorParameters<typeof StateMemory>[0]; counters: PluginCounters; disposers: Disposer[]; dispose(): Promise<void> } {
  const counters = new PluginCounters();
  const disposers: Disposer[] = [];
  return {
    ctx: { config, logger: silentLogger(), counters, defer: (d) => void disposers.push(d) },
    counters,
    disposers,
    async dispose() {
      for (const d of disposers.splice(0).reverse()) await d();
    },
  };
}

const gauges = (c: PluginCounters): Record<string, number> => c.snapshot().custom;

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await sleep(10);
  assert.ok(cond(), `timed out waiting for ${what}`);
}

/** A sequence engine on `memory`'s store with `n` partial matches live. */
function fill(memory: StateMemory, n: number): CorrelationEngine {
  const engine = new CorrelationEngine({ clock: new VirtualClock(T0), onDetection: () => undefined, store: memory.store });
  engine.load([compile(LSASS_RULE)]);
  engine.onEvents(Array.from({ length: n }, (_, i) => ev({ type: 'process.access', proc: { guid: `g${i}` }, target: LSASS, access: { granted: 0x10 } })));
  assert.equal(engine.liveKeys, n);
  return engine;
}

test('the plugin\'s config has the two memory keys, defaults true', () => {
  const cfg: Record<string, unknown> = {};
  assert.deepEqual(validateWithSchema(plugin.manifest.configSchema, cfg), []);
  assert.equal(cfg['prefault_memory'], true);
  assert.equal(cfg['return_freed_memory'], true);
  assert.equal(validateWithSchema(plugin.manifest.configSchema, { prefault_memory: 'yes' }).length, 1, 'a boolean');
});

test('start() acquires the block pool, registered for disposal at once; its counters and the native heap are the plugin\'s gauges', async () => {
  const { ctx, counters, disposers, dispose } = context({ prefault_memory: true, return_freed_memory: true });
  const memory = new StateMemory(ctx);
  assert.deepEqual([memory.blocks, memory.nativeHeap], [null, null], 'nothing acquired before start');
  assert.deepEqual(gauges(counters), {});
  await memory.start();
  assert.equal(disposers.length, 1, 'the pool is registered for disposal when it is acquired');
  // return_freed_memory (default true) was applied at start, or says why not.
  const heap = memory.nativeHeap;
  assert.ok(heap !== null, 'the native heap is reported after start');
  assert.ok((heap.mmap_threshold_bytes === null) !== (heap.reason === null), `either a threshold or a reason: ${JSON.stringify(heap)}`);
  if (glibc) assert.equal(heap.mmap_threshold_bytes, 512 * 1024);
  assert.equal(gauges(counters)['native_heap_mmap_threshold_bytes'], heap.mmap_threshold_bytes ?? 0);
  assert.equal(gauges(counters)['memory_blocks_taken'], 0);
  assert.equal(gauges(counters)['memory_blocks_worker'], 0, 'the helper thread starts on the first block taken');

  fill(memory, 20_000);
  const taken = gauges(counters)['memory_blocks_taken'] ?? 0;
  assert.ok(taken >= 2, `the state took its blocks from the pool (${taken})`);
  assert.equal(taken, memory.blocks?.taken);
  assert.equal(gauges(counters)['memory_blocks_worker'], 1);
  // Blocks the helper thread prepares afterwards show without another block being taken.
  await until(() => (gauges(counters)['memory_blocks_prefaulted'] ?? 0) >= 1 && gauges(counters)['memory_blocks_ready'] === memory.blocks?.ready, 'prepared blocks in the gauges');

  await dispose();
  assert.equal(memory.blocks?.worker, false, 'stopping the plugin closed the pool');
  assert.equal(gauges(counters)['memory_blocks_worker'], 0);
});

test('prefault_memory: false allocates in place; return_freed_memory: false leaves the C allocator alone and says so', async () => {
  const { ctx, counters, dispose } = context({ prefault_memory: false, return_freed_memory: false });
  const memory = new StateMemory(ctx);
  await memory.start();
  assert.deepEqual(memory.nativeHeap, { mmap_threshold_bytes: null, reason: 'return_freed_memory is false' });
  assert.equal(gauges(counters)['native_heap_mmap_threshold_bytes'], 0);
  fill(memory, 20_000);
  const g = gauges(counters);
  assert.ok((g['memory_blocks_taken'] ?? 0) >= 2);
  assert.equal(g['memory_blocks_fallback'], g['memory_blocks_taken'], 'every block made in place');
  assert.equal(g['memory_blocks_worker'], 0, 'no helper thread');
  await dispose();
});

test('a block asked for before start() is made in place, and the pool takes it back later', async () => {
  const { ctx, counters, dispose } = context({ prefault_memory: false, return_freed_memory: false });
  const memory = new StateMemory(ctx);
  const early = memory.take();
  assert.equal(early.length, memory.blockBytes);
  await memory.start();
  memory.give(early);
  assert.equal(gauges(counters)['memory_blocks_reused'], 1);
  await dispose();
});
