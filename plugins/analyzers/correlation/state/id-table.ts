/**
 * A hash index from 32-bit key hashes to record ids, kept in typed arrays off the JS heap.
 *
 * Extendible hashing: a directory indexed by the hash's top bits points at shards; each shard
 * is a small open-addressing table (linear probing, backward-shift deletion, no tombstones)
 * of (hash, id + 1) pairs. A shard grows 4× up to MAX_SLOTS, and past that splits in two by
 * the next hash bit. So no operation ever touches more than one shard of at most MAX_SLOTS
 * (a split or resize is a sequential copy of a few ten kilobytes, whatever the key count),
 * and memory follows the number of keys: one small shard for a rule with few partial
 * matches, thousands for millions of keys. Probing and resizing read only the table, never
 * the records.
 *
 * Grow and shrink limits are drawn per shard from a range: with one fixed limit every shard
 * of a uniform hash reaches it within the same few thousand inserts (or removals, when a mass
 * of partial matches expires together), and their resizes would pile up in a few batches.
 */

/** Slots (pairs) of a new shard. */
const MIN_SLOTS = 16;
/** A shard this large splits instead of growing. */
const MAX_SLOTS = 4096;
/** Past this local depth a shard grows instead of splitting (only identical hashes are left). */
const MAX_DEPTH = 24;
/** Grow (or split) when the load passes a limit drawn from [GROW_MIN, GROW_MIN + GROW_RANGE). */
const GROW_MIN = 0.35;
const GROW_RANGE = 0.35;
/** Shrink when the load falls below a limit drawn from [SHRINK_MIN, SHRINK_MIN + SHRINK_RANGE). */
const SHRINK_MIN = 0.02;
const SHRINK_RANGE = 0.05;

/** Decides whether the record `id` holds the key being looked up (its hash already matched). */
export type IdMatcher = (id: number) => boolean;

export class ShardedIdTable {
  /** Hash top bits → shard; 2^depth entries. */
  private dir = new Int32Array(1);
  private depth = 0;
  /** Per shard: pairs [hash, id + 1]; id + 1 = 0 marks an empty slot. */
  private readonly tabs: Int32Array[] = [];
  private readonly counts: number[] = [];
  private readonly localDepth: number[] = [];
  private readonly growAt: number[] = [];
  private readonly shrinkAt: number[] = [];
  private rng: number;
  /** Resizes and splits so far (tests and diagnostics). */
  resizes = 0;
  splits = 0;

  constructor(seed = 0x9e3779b9) {
    this.rng = seed | 0 || 1;
    this.newShard(0, MIN_SLOTS);
  }

  /** Bytes of the directory and the shard tables (kept up to date as they change). */
  get byteLength(): number {
    return this.bytes;
  }
  private bytes = 4;

  get size(): number {
    let n = 0;
    for (const c of this.counts) n += c;
    return n;
  }

  get shards(): number {
    return this.tabs.length;
  }

  private shardOf(h: number): number {
    // Two shifts so that depth 0 selects entry 0 (a shift by 32 would be a shift by 0).
    return this.dir[(h >>> 1) >>> (31 - this.depth)] as number;
  }

  /** The first id under hash `h` that `matches` accepts, or -1. */
  find(h: number, matches: IdMatcher): number {
    const tab = this.tabs[this.shardOf(h)] as Int32Array;
    const mask = (tab.length >> 1) - 1;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const e = tab[2 * i + 1] as number;
      if (e === 0) return -1;
      if (tab[2 * i] === h && matches(e - 1)) return e - 1;
    }
  }

  insert(h: number, id: number): void {
    let s = this.shardOf(h);
    while ((this.counts[s] as number) + 1 > (this.growAt[s] as number)) {
      const slots = (this.tabs[s] as Int32Array).length >> 1;
      if (slots < MAX_SLOTS || (this.localDepth[s] as number) >= MAX_DEPTH) {
        this.resize(s, slots * 4);
        break;
      }
      this.split(s);
      s = this.shardOf(h);
    }
    const tab = this.tabs[s] as Int32Array;
    this.counts[s] = (this.counts[s] as number) + 1;
    const mask = (tab.length >> 1) - 1;
    let i = h & mask;
    while (tab[2 * i + 1] !== 0) i = (i + 1) & mask;
    tab[2 * i] = h;
    tab[2 * i + 1] = id + 1;
  }

  /** Remove `id` (stored under hash `h`); false when it is not there. */
  delete(h: number, id: number): boolean {
    const s = this.shardOf(h);
    const tab = this.tabs[s] as Int32Array;
    const mask = (tab.length >> 1) - 1;
    let i = h & mask;
    for (;;) {
      const e = tab[2 * i + 1] as number;
      if (e === 0) return false;
      if (e === id + 1) break;
      i = (i + 1) & mask;
    }
    // Backward-shift deletion: move later members of the probe run into the gap.
    tab[2 * i + 1] = 0;
    for (let j = (i + 1) & mask; ; j = (j + 1) & mask) {
      const e = tab[2 * j + 1] as number;
      if (e === 0) break;
      const k = (tab[2 * j] as number) & mask;
      const stays = i <= j ? i < k && k <= j : i < k || k <= j;
      if (stays) continue;
      tab[2 * i] = tab[2 * j] as number;
      tab[2 * i + 1] = e;
      tab[2 * j + 1] = 0;
      i = j;
    }
    const n = (this.counts[s] as number) - 1;
    this.counts[s] = n;
    if (n < (this.shrinkAt[s] as number)) this.resize(s, (tab.length >> 1) / 4);
    return true;
  }

  private draw(): number {
    // xorshift32: deterministic, so runs and tests repeat.
    let x = this.rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rng = x;
    return (x >>> 0) / 0x1_0000_0000;
  }

  private setLimits(s: number, slots: number): void {
    this.growAt[s] = Math.floor(slots * (GROW_MIN + GROW_RANGE * this.draw()));
    this.shrinkAt[s] = slots > MIN_SLOTS ? Math.floor(slots * (SHRINK_MIN + SHRINK_RANGE * this.draw())) : 0;
  }

  private newShard(depth: number, slots: number): number {
    const s = this.tabs.length;
    this.tabs.push(new Int32Array(slots * 2));
    this.bytes += slots * 8;
    this.counts.push(0);
    this.localDepth.push(depth);
    this.growAt.push(0);
    this.shrinkAt.push(0);
    this.setLimits(s, slots);
    return s;
  }

  private static place(tab: Int32Array, h: number, e: number): void {
    const mask = (tab.length >> 1) - 1;
    let i = h & mask;
    while (tab[2 * i + 1] !== 0) i = (i + 1) & mask;
    tab[2 * i] = h;
    tab[2 * i + 1] = e;
  }

  private resize(s: number, slots: number): void {
    const old = this.tabs[s] as Int32Array;
    const tab = new Int32Array(slots * 2);
    for (let j = 1; j < old.length; j += 2) {
      const e = old[j] as number;
      if (e !== 0) ShardedIdTable.place(tab, old[j - 1] as number, e);
    }
    this.tabs[s] = tab;
    this.bytes += tab.byteLength - old.byteLength;
    this.setLimits(s, slots);
    this.resizes++;
  }

  /** Split shard `s` by the next hash bit into itself and a new shard. */
  private split(s: number): void {
    const d = this.localDepth[s] as number;
    if (d === this.depth) {
      // Double the directory: every shard is now pointed at by twice as many entries.
      const next = new Int32Array(this.dir.length * 2);
      for (let i = 0; i < this.dir.length; i++) next[2 * i] = next[2 * i + 1] = this.dir[i] as number;
      this.bytes += next.byteLength - this.dir.byteLength;
      this.dir = next;
      this.depth++;
    }
    const old = this.tabs[s] as Int32Array;
    const slots = old.length >> 1;
    const t = this.newShard(d + 1, slots);
    this.localDepth[s] = d + 1;
    const lo = new Int32Array(slots * 2);
    const hi = this.tabs[t] as Int32Array;
    const bit = 31 - d;
    let nHi = 0;
    for (let j = 1; j < old.length; j += 2) {
      const e = old[j] as number;
      if (e === 0) continue;
      const h = old[j - 1] as number;
      if (((h >>> bit) & 1) === 1) {
        ShardedIdTable.place(hi, h, e);
        nHi++;
      } else ShardedIdTable.place(lo, h, e);
    }
    this.tabs[s] = lo;
    this.counts[t] = nHi;
    this.counts[s] = (this.counts[s] as number) - nHi;
    this.setLimits(s, slots);
    // Directory entries of `s` whose bit for depth d is set now point at `t`.
    const shift = this.depth - d - 1;
    for (let i = 0; i < this.dir.length; i++) if (this.dir[i] === s && ((i >>> shift) & 1) === 1) this.dir[i] = t;
    this.splits++;
  }
}
