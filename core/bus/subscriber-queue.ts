import { AsyncResource } from 'node:async_hooks';
import type { DiscardReason, PluginCounters } from '../telemetry/counters.js';

/** Called with each batch, in order; may be async (the next batch waits for it). */
export type BatchHandler<T> = (batch: readonly T[]) => void | Promise<void>;

/** Told about every failure of a handler (the supervisor decides about restarts). */
export type FailureListener = (err: unknown) => void;

/**
 * One subscriber's bounded queue, drained in batches on its own schedule so that a slow or
 * failing subscriber never blocks the sensor or the other subscribers.
 */
export class SubscriberQueue<T> {
  private items: T[] = [];
  private head = 0;
  private scheduled = false;
  private running = false;
  private waiters: Array<() => void> = [];
  private idleWaiters: Array<() => void> = [];
  /** A detached subscriber discards everything it is handed (counted). */
  detached = false;
  /**
   * Back-pressured (replay) producers are held at a few batches, far below capacity: the
   * consumer then runs often, and the events in flight stay young and cheap for the GC.
   */
  private readonly softLimit: number;

  constructor(
    readonly name: string,
    private handler: BatchHandler<T>,
    private readonly counters: PluginCounters,
    private readonly capacity: number,
    private readonly batchSize: number,
    private readonly onFailure: FailureListener,
  ) {
    this.softLimit = Math.max(2, Math.min(capacity, batchSize * 8));
  }

  get length(): number {
    return this.items.length - this.head;
  }

  get full(): boolean {
    return this.items.length - this.head >= this.capacity;
  }

  get idle(): boolean {
    return this.length === 0 && !this.running;
  }

  /** Swap the handler (after a plugin restart). */
  setHandler(handler: BatchHandler<T>): void {
    this.handler = handler;
  }

  /**
   * Enqueue. `force` (replay delivery) enqueues past capacity; the caller then waits on
   * `whenWritable()`. Without it a full queue drops the item and counts it.
   * Returns false when the queue is at or past capacity after the call.
   */
  push(item: T, force: boolean): boolean {
    if (this.detached) {
      this.counters.discard('plugin_detached');
      return true;
    }
    const len = this.items.length - this.head;
    if (len >= this.capacity && !force) {
      this.counters.discard('queue_full');
      return false;
    }
    this.items.push(item);
    if (!this.scheduled && !this.running) {
      this.scheduled = true;
      setImmediate(this.drain);
    }
    return len + 1 < (force ? this.softLimit : this.capacity);
  }

  /** Resolves once the queue is below half its soft limit (back-pressure for replay sensors). */
  whenWritable(): Promise<void> {
    if (this.length < this.softLimit / 2 || this.detached) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Resolves when the queue is empty and no batch is being handled. */
  whenIdle(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Drop everything queued (detach / shutdown past the deadline), counted with a reason. */
  discardAll(reason: DiscardReason): number {
    const n = this.length;
    if (n > 0) this.counters.discard(reason, n);
    this.items = [];
    this.head = 0;
    this.release();
    return n;
  }

  /**
   * Bound to the async context the queue was made in (the kernel's): a setImmediate would
   * otherwise run the consumer in the context of whichever producer pushed first, and an
   * error the consumer throws there would be blamed on that producer.
   */
  private readonly drain = AsyncResource.bind((): void => {
    this.scheduled = false;
    if (this.running) return;
    void this.runBatches();
  });

  private async runBatches(): Promise<void> {
    this.running = true;
    try {
      while (this.length > 0) {
        if (this.detached) {
          this.discardAll('plugin_detached');
          break;
        }
        const end = Math.min(this.items.length, this.head + this.batchSize);
        const batch = this.items.slice(this.head, end);
        this.head = end;
        if (this.head > 4096 && this.head * 2 > this.items.length) {
          this.items = this.items.slice(this.head);
          this.head = 0;
        }
        this.counters.received += batch.length;
        try {
          const r = this.handler(batch);
          if (r && typeof (r as Promise<void>).then === 'function') await r;
        } catch (err) {
          this.onFailure(err);
        }
        this.release();
      }
    } finally {
      this.running = false;
      if (this.length === 0) {
        this.items = [];
        this.head = 0;
      }
      this.release();
      if (this.length > 0 && !this.scheduled) {
        this.scheduled = true;
        setImmediate(this.drain);
      }
    }
  }

  private release(): void {
    if (this.waiters.length > 0 && (this.length < this.softLimit / 2 || this.detached)) {
      const w = this.waiters;
      this.waiters = [];
      for (const resolve of w) resolve();
    }
    if (this.idleWaiters.length > 0 && this.idle) {
      const w = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of w) resolve();
    }
  }
}
