/**
 * Bounded state of count rules: groups sit in insertion-ordered Maps; expiry runs through a
 * time-bucketed wheel, visited in small slices. (Sequence rules keep their partial matches
 * off the JS heap: seq-store.ts.)
 */
import type { VigilEvent } from '../../../core/index.js';

/** What the engine needs of a detection it consumes (a Detection, or its own chained output). */
export interface DetectionLike {
  readonly rule: { readonly id: string; readonly title?: string };
  readonly evidence: readonly VigilEvent[];
  readonly time: number;
}

/** Evidence of one step: the event itself, or the evidence list of a consumed detection. */
export type Evidence = VigilEvent | readonly VigilEvent[];

/** A count rule's group within its window. */
export class CountGroup {
  readonly slot = 0;
  /** Event times and evidence, oldest first (event counts). */
  times: number[] = [];
  evs: Evidence[] = [];
  /** Distinct value → newest time and evidence (value counts). */
  distinct: Map<string, { t: number; ev: Evidence }> | null = null;
  /** Events seen in the window (may exceed the evidence kept). */
  count = 0;
  constructor(
    readonly key: string,
    /** Window start (tumbling windows). */
    readonly start: number,
    public expires: number,
  ) {}
  /**
   * Let go of the evidence once the group is done (fired, expired, evicted, released or
   * replaced): the expiry wheel may still hold the group until its bucket is swept, and it
   * must not keep the events alive meanwhile.
   */
  drop(): void {
    this.times.length = 0;
    this.evs.length = 0;
    this.distinct = null;
  }
}

export type Entry = CountGroup;

/** Time-bucketed expiry: buckets of `gran` ms, visited in order, a slice at a time. */
export class ExpiryWheel {
  private readonly buckets = new Map<number, Entry[]>();
  private cursor = Number.NaN;
  private pos = 0;
  constructor(readonly gran: number) {}

  get bucketCount(): number {
    return this.buckets.size;
  }

  add(e: Entry): void {
    let b = Math.floor(e.expires / this.gran);
    if (Number.isNaN(this.cursor) || b < this.cursor) {
      // A late entry goes into the bucket being swept next: it is already due.
      if (Number.isNaN(this.cursor)) this.cursor = b;
      else b = this.cursor;
    }
    const arr = this.buckets.get(b);
    if (arr) arr.push(e);
    else this.buckets.set(b, [e]);
  }

  /**
   * Visit entries of buckets that ended at or before `now`, at most `budget` of them.
   * Returns the number visited; fewer than the budget means caught up.
   */
  sweep(now: number, budget: number, visit: (e: Entry) => void): number {
    if (Number.isNaN(this.cursor) || this.buckets.size === 0) return 0;
    const target = Math.floor(now / this.gran) - 1;
    let done = 0;
    while (this.cursor <= target && done < budget) {
      const arr = this.buckets.get(this.cursor);
      if (arr === undefined) {
        // Skip a long empty stretch (a jump of the clock) without walking it.
        if (target - this.cursor > 1024) {
          let min = Number.POSITIVE_INFINITY;
          for (const k of this.buckets.keys()) if (k < min) min = k;
          this.cursor = min === Number.POSITIVE_INFINITY ? target + 1 : Math.max(this.cursor + 1, Math.min(min, target + 1));
        } else this.cursor++;
        this.pos = 0;
        continue;
      }
      while (this.pos < arr.length && done < budget) {
        const e = arr[this.pos] as Entry;
        this.pos++;
        done++;
        visit(e);
      }
      if (this.pos >= arr.length) {
        this.buckets.delete(this.cursor);
        this.cursor++;
        this.pos = 0;
      }
    }
    return done;
  }

  clear(): void {
    this.buckets.clear();
    this.cursor = Number.NaN;
    this.pos = 0;
  }
}

const SHARDS = 256;

/**
 * A string-keyed map split into 256 insertion-ordered Maps. A single Map of millions of
 * keys rehashes all of them at once when it grows or shrinks (seconds at 5·10^6 keys);
 * shards keep every rehash small.
 */
export class ShardedMap<V> {
  private readonly shards: Map<string, V>[] = Array.from({ length: SHARDS }, () => new Map<string, V>());
  private n = 0;

  private shard(key: string): Map<string, V> {
    const l = key.length;
    const h = (key.charCodeAt(l - 1) * 961 + key.charCodeAt(l - 2) * 31 + key.charCodeAt(l - 3)) & (SHARDS - 1);
    return this.shards[Number.isNaN(h) ? 0 : h] as Map<string, V>;
  }

  get size(): number {
    return this.n;
  }

  get(key: string): V | undefined {
    return this.shard(key).get(key);
  }

  set(key: string, v: V): void {
    const m = this.shard(key);
    const had = m.has(key);
    m.set(key, v);
    if (!had) this.n++;
  }

  /** Add a key known to be absent (one lookup instead of two). */
  setNew(key: string, v: V): void {
    this.shard(key).set(key, v);
    this.n++;
  }

  delete(key: string): boolean {
    const ok = this.shard(key).delete(key);
    if (ok) this.n--;
    return ok;
  }

  /** The entry that expires first among the shards' oldest entries (eviction victim). */
  oldest(expiresOf: (v: V) => number): V | undefined {
    let best: V | undefined;
    let bestT = Number.POSITIVE_INFINITY;
    for (const m of this.shards) {
      if (m.size === 0) continue;
      const it = m.values().next();
      if (it.done === true) continue;
      const t = expiresOf(it.value);
      if (best === undefined || t < bestT) {
        best = it.value;
        bestT = t;
      }
    }
    return best;
  }
}

/** State of one rule: a Map per slot, the wheel, and the identity index for composite keys. */
export class RuleState {
  readonly slots: ShardedMap<Entry>[];
  readonly wheel: ExpiryWheel;
  live = 0;
  /** Process identity → entries whose composite key contains it (only for composite keys). */
  readonly byIdentity: Map<string, Set<Entry>> | null;
  constructor(slotCount: number, spanMs: number, compositeIdentity: boolean) {
    this.slots = Array.from({ length: slotCount }, () => new ShardedMap<Entry>());
    // About 64 buckets per span, between 10 ms and 1 s: firing of absent steps is late by
    // at most one bucket, and a bucket array costs one pointer per entry.
    this.wheel = new ExpiryWheel(Math.min(1000, Math.max(10, Math.floor(spanMs / 64))));
    this.byIdentity = compositeIdentity ? new Map() : null;
  }
}
