/**
 * Off-heap memory in fixed 1 MiB blocks for state that grows to millions of entries (the
 * correlation engine's sequence store).
 *
 * Why a pool with a helper thread: the first write to a fresh page costs a page fault, and on
 * virtual machines that fault can be slow (bench/memory-blocks.ts: median batch 1.58 ms with
 * this pool against 2.30 ms in place; bench/notes/correlation-pauses.md). A store that grows
 * by tens of megabytes per second pays that on the event loop.
 * Here blocks are allocated ahead of demand and moved to a worker thread (a zero-copy
 * transfer), which touches one byte per page and moves them back, so the event loop receives
 * blocks whose pages are mapped. Transfer, not sharing, so that a block has one owner and is
 * freed with it. A block is allocated uninitialised (`Buffer.allocUnsafeSlow`, no zero-fill)
 * on the caller's thread, so that making it touches none of its pages there: a zero-filled
 * `new ArrayBuffer` did, whenever the C allocator served it from its heap rather than a fresh
 * mapping (seen with `perf` on the development VM as page faults under `memset` in
 * `AllocateExternalBackingStore` on the event loop, a few milliseconds per block). It is
 * still allocated on the caller's thread so that it is charged to the caller's allocator and
 * shows in the process's `arrayBuffers` figure like any other block.
 * Blocks given back are reused before new ones are made.
 *
 * When the worker cannot keep up (or cannot start) `take()` allocates in place: never a
 * wait, only the fault cost moves back to the caller, and it is counted (`fallback`).
 */
import { Worker } from 'node:worker_threads';

/** Where a store gets its off-heap blocks. */
export interface BlockSource {
  /** Bytes per block (every block has this length). */
  readonly blockBytes: number;
  /** A block; its contents are unspecified (neither fresh nor reused blocks are zeroed). */
  take(): Buffer;
  /** Hand a block back (it must not be used afterwards). */
  give(block: Buffer): void;
}

export interface BlockPoolCounters {
  /** Blocks handed out. */
  taken: number;
  /** Of those, made on the caller's thread because no prepared block was ready. */
  fallback: number;
  /** Blocks prepared (pages touched) by the worker. */
  prefaulted: number;
  /** Blocks given back and handed out again. */
  reused: number;
  /** Blocks given back beyond what the pool keeps (left to the garbage collector). */
  released: number;
  /** Prepared blocks waiting now. */
  ready: number;
  /** The number of blocks the pool tries to keep prepared (grows when callers outrun it). */
  lead: number;
  /** False when the worker is not running; the pool then allocates in place. */
  worker: boolean;
  /** Why the worker could not start or stopped with an error; null when it did not fail. */
  failure: string | null;
}

export interface BlockPoolOptions {
  /** Bytes per block; default 1 MiB. */
  blockBytes?: number;
  /**
   * Prepare blocks on a worker thread, started when the first block is taken; false: plain
   * in-place allocation.
   */
  prefault?: boolean;
  /** Blocks kept prepared at first; doubled (up to `maxLead`) whenever a caller finds none. */
  initialLead?: number;
  maxLead?: number;
  /**
   * Called after the counters changed: a block taken or given back, a prepared block
   * arrived, the worker failed or was stopped (the plugin mirrors the counters into its gauges).
   */
  onChange?: () => void;
}

const PAGE = 4096;

// The worker writes one byte per page of a block (its contents are unspecified anyway) and
// transfers it back.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
parentPort.on('message', (ab) => {
  const u8 = new Uint8Array(ab);
  for (let i = 0; i < u8.length; i += ${PAGE}) u8[i] = 0;
  parentPort.postMessage(ab, [ab]);
});
`;

export class BlockPool implements BlockSource {
  readonly blockBytes: number;
  private readonly ready: Buffer[] = [];
  private worker: Worker | null = null;
  private inflight = 0;
  private lead: number;
  private readonly maxLead: number;
  private closed = false;
  /** The worker is to be started on the first take. */
  private pending: boolean;
  private readonly n = { taken: 0, fallback: 0, prefaulted: 0, reused: 0, released: 0 };
  private failure: string | null = null;
  private readonly onChange: () => void;

  constructor(opts: BlockPoolOptions = {}) {
    this.blockBytes = opts.blockBytes ?? 1 << 20;
    this.onChange = opts.onChange ?? (() => undefined);
    this.lead = opts.initialLead ?? 2;
    this.maxLead = Math.max(this.lead, opts.maxLead ?? 32);
    this.pending = opts.prefault === true;
  }

  take(): Buffer {
    if (this.pending) {
      this.pending = false;
      this.startWorker();
    }
    this.n.taken++;
    let b = this.ready.pop();
    if (b === undefined) {
      this.n.fallback++;
      if (this.worker !== null && this.lead < this.maxLead) this.lead = Math.min(this.maxLead, this.lead * 2);
      b = Buffer.allocUnsafeSlow(this.blockBytes);
    }
    this.refill();
    this.onChange();
    return b;
  }

  give(block: Buffer): void {
    if (block.length !== this.blockBytes || this.closed || this.ready.length >= this.lead * 2) this.n.released++;
    else {
      this.n.reused++;
      this.ready.push(block);
    }
    this.onChange();
  }

  counters(): BlockPoolCounters {
    return { ...this.n, ready: this.ready.length, lead: this.lead, worker: this.worker !== null, failure: this.failure };
  }

  /** Stop the worker and drop prepared blocks. Blocks already taken stay valid. */
  async close(): Promise<void> {
    this.closed = true;
    this.pending = false;
    this.ready.length = 0;
    const w = this.worker;
    this.worker = null;
    this.onChange();
    if (w !== null) await w.terminate();
  }

  private startWorker(): void {
    let w: Worker;
    try {
      w = new Worker(WORKER_SOURCE, { eval: true });
    } catch (err) {
      // No worker thread here: allocate in place, and say why in the counters (vigil status).
      this.failure = `worker did not start: ${err instanceof Error ? err.message : String(err)}`;
      this.onChange();
      return;
    }
    w.on('message', (ab: unknown) => {
      this.inflight--;
      if (this.closed || !(ab instanceof ArrayBuffer)) return;
      this.n.prefaulted++;
      this.ready.push(Buffer.from(ab));
      this.onChange();
    });
    w.on('error', (err: Error) => {
      this.failure = `worker failed: ${err.message}`;
      this.worker = null;
      this.inflight = 0;
      this.onChange();
    });
    w.on('exit', () => {
      if (this.worker === w) this.worker = null;
    });
    // After the listeners: adding a 'message' listener refs the worker again. Unreferenced,
    // it never keeps the process alive.
    w.unref();
    this.worker = w;
    this.refill();
  }

  private refill(): void {
    const w = this.worker;
    if (w === null) return;
    for (let want = this.lead - this.ready.length - this.inflight; want > 0; want--) {
      // Uninitialised: a zero-filled allocation would touch every page here, on the caller's thread.
      const ab = Buffer.allocUnsafeSlow(this.blockBytes).buffer;
      this.inflight++;
      w.postMessage(ab, [ab]);
    }
  }
}

/** In-place allocation with no worker and no reuse: the default for stores given no pool. */
export const PLAIN_BLOCKS: BlockSource = {
  blockBytes: 1 << 20,
  take: () => Buffer.allocUnsafeSlow(1 << 20),
  give: () => undefined,
};
