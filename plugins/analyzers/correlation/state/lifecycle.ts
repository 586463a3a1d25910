/**
 * The plugin's side of the state memory: its two config keys, the BlockPool it acquires in
 * start() and gives up when it stops, the process-wide mmap threshold, and the gauges through
 * which `vigil status` shows both under the plugin.
 */
import type { BaseContext } from '../../../../core/index.js';
import { BlockPool, type BlockPoolCounters, type BlockSource } from './block-pool.js';
import { fixMmapThreshold, type NativeHeapStatus } from './native-heap.js';
import { createStateStore, type StateStore } from './store.js';
import type { StateMemoryConfig } from './config.js';

export { STATE_MEMORY_PROPERTIES, type StateMemoryConfig } from './config.js';

export type StateMemoryContext = Pick<BaseContext<StateMemoryConfig>, 'config' | 'logger' | 'counters' | 'defer'>;

const BLOCK_BYTES = 1 << 20;

/**
 * The block source of one plugin instance. The engine's store is made with it when the
 * instance is created (no I/O then); start() acquires the pool, and from then on blocks come
 * from it. A block asked for before start() is allocated in place.
 *
 * Gauges (set at start and whenever the pool's counters change): `memory_blocks_taken`,
 * `_fallback` (made on the event loop because none was prepared), `_prefaulted`, `_reused`,
 * `_released`, `_ready`, `_lead`, `_worker` (1 while the helper thread runs), and
 * `native_heap_mmap_threshold_bytes` (0 when the threshold was left alone; the reason is logged).
 */
export class StateMemory implements BlockSource {
  readonly blockBytes = BLOCK_BYTES;
  /** The store the engine is given: its blocks come through here. */
  readonly store: StateStore;
  private pool: BlockPool | null = null;
  private heap: NativeHeapStatus | null = null;
  private failureLogged = false;

  constructor(private readonly ctx: StateMemoryContext) {
    this.store = createStateStore(this);
  }

  /** What `return_freed_memory` did, or why nothing was done; null before start(). */
  get nativeHeap(): NativeHeapStatus | null {
    return this.heap;
  }

  /** The pool's counters; null before start(). */
  get blocks(): BlockPoolCounters | null {
    return this.pool?.counters() ?? null;
  }

  async start(): Promise<void> {
    const cfg = this.ctx.config;
    // Before the state takes its first block: blocks it gives up are to leave the process.
    // Process-wide and once per process: a restarted plugin gets the first outcome again.
    const heap = cfg.return_freed_memory ? await fixMmapThreshold() : { mmap_threshold_bytes: null, reason: 'return_freed_memory is false' };
    this.heap = heap;
    if (heap.reason !== null) this.ctx.logger.info({ reason: heap.reason }, 'C allocator left as it is');
    this.ctx.counters.set('native_heap_mmap_threshold_bytes', heap.mmap_threshold_bytes ?? 0);
    const pool = new BlockPool({ blockBytes: BLOCK_BYTES, prefault: cfg.prefault_memory, onChange: () => this.report(pool) });
    this.ctx.defer(() => pool.close());
    this.pool = pool;
    this.report(pool);
  }

  take(): Buffer {
    return this.pool !== null ? this.pool.take() : Buffer.allocUnsafeSlow(BLOCK_BYTES);
  }

  give(block: Buffer): void {
    this.pool?.give(block);
  }

  private report(pool: BlockPool): void {
    const c = pool.counters();
    const g = this.ctx.counters;
    g.set('memory_blocks_taken', c.taken);
    g.set('memory_blocks_fallback', c.fallback);
    g.set('memory_blocks_prefaulted', c.prefaulted);
    g.set('memory_blocks_reused', c.reused);
    g.set('memory_blocks_released', c.released);
    g.set('memory_blocks_ready', c.ready);
    g.set('memory_blocks_lead', c.lead);
    g.set('memory_blocks_worker', c.worker ? 1 : 0);
    if (c.failure !== null && !this.failureLogged) {
      this.failureLogged = true;
      this.ctx.logger.warn({ reason: c.failure }, 'memory blocks are allocated in place from now on');
    }
  }
}
