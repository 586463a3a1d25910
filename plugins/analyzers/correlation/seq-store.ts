/**
 * Off-heap state of a sequence rule. Every partial match is a record in typed-array columns
 * (chunked, so growth never copies millions of entries); keys and the evidence chain are
 * bytes in ArrayBuffer chunks; lookup is open addressing over 256 small tables per step, so
 * a rehash touches a few ten thousand entries at most. The JS heap holds no object per key:
 * the garbage collector has nothing to trace or copy when millions of matches are live.
 *
 * Evidence events are kept in the compact binary form of event-codec.ts and re-created when a
 * match fires or a bound condition needs them. Chains that contain a consumed detection, or
 * an event the codec does not take (bigint, class instances, cycles), are held as objects
 * instead (rare: detections are few).
 */
import type { DetectionLike } from './state-store.js';
import { EventDecoder, EventEncoder, STR_UTF8 } from './event-codec.js';

/** One matched step of a chain: the key it waits under, its subject and its detection. */
export interface ChainItem {
  readonly key: string;
  readonly subj: object;
  readonly det: DetectionLike | null;
}

const RC_BITS = 14;
const RC_SIZE = 1 << RC_BITS;
const RC_MASK = RC_SIZE - 1;
const SHARD_BITS = 8;
const SHARDS = 1 << SHARD_BITS;
const MIN_TABLE = 16;
const BYTE_CHUNK = 1 << 20;

const F_ALIVE = 1;
const F_HELD = 2;

/** Columns of RC_SIZE records. */
class RecordChunk {
  readonly exp = new Float64Array(RC_SIZE);
  /** Time of the newest step's subject. */
  readonly t = new Float64Array(RC_SIZE);
  /** Wheel bucket the record is queued in; NaN when not queued. */
  readonly wb = new Float64Array(RC_SIZE);
  readonly hash = new Int32Array(RC_SIZE);
  readonly wprev = new Int32Array(RC_SIZE);
  /** Next in the wheel bucket, or next free record. */
  readonly wnext = new Int32Array(RC_SIZE);
  readonly pc = new Int32Array(RC_SIZE);
  readonly poff = new Int32Array(RC_SIZE);
  readonly klen = new Int32Array(RC_SIZE);
  readonly plen = new Int32Array(RC_SIZE);
  readonly slot = new Uint8Array(RC_SIZE);
  readonly flags = new Uint8Array(RC_SIZE);
}

/** Byte chunks, freed when every record written into them is gone. */
class ByteArena {
  readonly bufs: (Buffer | null)[] = [];
  private readonly used: number[] = [];
  private readonly liveBytes: number[] = [];
  private readonly freeIdx: number[] = [];
  private readonly pool: Buffer[] = [];
  cur = -1;

  /** A chunk with at least `need` free bytes; returns its index. */
  reserve(need: number): number {
    const c = this.cur;
    if (c >= 0 && BYTE_CHUNK - (this.used[c] as number) >= need) return c;
    if (c >= 0 && this.liveBytes[c] === 0) this.drop(c);
    const size = Math.max(BYTE_CHUNK, need);
    const buf = size === BYTE_CHUNK && this.pool.length > 0 ? (this.pool.pop() as Buffer) : Buffer.allocUnsafeSlow(size);
    const idx = this.freeIdx.length > 0 ? (this.freeIdx.pop() as number) : this.bufs.length;
    this.bufs[idx] = buf;
    this.used[idx] = 0;
    this.liveBytes[idx] = 0;
    this.cur = idx;
    return idx;
  }

  offset(c: number): number {
    return this.used[c] as number;
  }

  commit(c: number, n: number): void {
    this.used[c] = (this.used[c] as number) + n;
    this.liveBytes[c] = (this.liveBytes[c] as number) + n;
  }

  release(c: number, n: number): void {
    const left = (this.liveBytes[c] as number) - n;
    this.liveBytes[c] = left;
    if (left === 0 && c !== this.cur) this.drop(c);
  }

  private drop(c: number): void {
    const b = this.bufs[c];
    if (b === null || b === undefined) return;
    if (b.length === BYTE_CHUNK && this.pool.length < 4) this.pool.push(b);
    this.bufs[c] = null;
    this.freeIdx.push(c);
    if (c === this.cur) this.cur = -1;
  }

  get bytes(): number {
    let n = 0;
    for (const b of this.bufs) if (b !== null) n += b.length;
    return n;
  }
}

/**
 * Copy bytes; short runs by hand, longer ones through a plain Uint8Array view (Buffer#copy
 * and Buffer#subarray cost more in argument handling and allocation). Returns the count.
 */
function copyBytes(src: Uint8Array, from: number, to: number, dst: Uint8Array, at: number): number {
  const n = to - from;
  if (n > 24) dst.set(new Uint8Array(src.buffer, src.byteOffset + from, n), at);
  else for (let i = 0; i < n; i++) dst[at + i] = src[from + i] as number;
  return n;
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}

export class SeqStore {
  private readonly rc: RecordChunk[] = [];
  private nextId = 0;
  private freeHead = -1;
  private readonly arena = new ByteArena();
  /** Chains held as objects (detections, or events the codec does not take). */
  private readonly held = new Map<number, ChainItem[]>();
  /** Per slot: 256 open-addressing tables of record id + 1 (0 = empty). */
  private readonly tabs: (Int32Array | null)[][];
  private readonly counts: Int32Array[];
  private readonly enc = new EventEncoder();
  private readonly dec = new EventDecoder();
  private scratch = Buffer.allocUnsafeSlow(256);
  private scratchLen = 0;
  private scratchHash = 0;
  /** The key last encoded into the scratch buffer (find then add encode it once). */
  private scratchKey: string | null = null;
  // Expiry wheel: circular doubly-linked lists of records per bucket of `gran` ms.
  private readonly buckets = new Map<number, number>();
  private cursor = Number.NaN;
  readonly gran: number;
  live = 0;

  constructor(slotCount: number, spanMs: number) {
    this.tabs = Array.from({ length: slotCount }, () => new Array<Int32Array | null>(SHARDS).fill(null));
    this.counts = Array.from({ length: slotCount }, () => new Int32Array(SHARDS));
    // About 64 buckets per span, between 10 ms and 1 s (an absent step fires at most one
    // bucket late).
    this.gran = Math.min(1000, Math.max(10, Math.floor(spanMs / 64)));
  }

  get bucketCount(): number {
    return this.buckets.size;
  }

  /** Bytes held outside the JS heap (record columns, tables, arena). */
  get offHeapBytes(): number {
    let n = this.rc.length * RC_SIZE * 70 + this.arena.bytes;
    for (const s of this.tabs) for (const t of s) if (t !== null) n += t.byteLength;
    return n;
  }

  private chunk(id: number): RecordChunk {
    return this.rc[id >>> RC_BITS] as RecordChunk;
  }

  // ---- keys ------------------------------------------------------------------------

  /** Encode `key` into the scratch buffer and hash it. */
  private prepKey(key: string): void {
    if (key === this.scratchKey) return;
    if (key.length * 3 > this.scratch.length) this.scratch = Buffer.allocUnsafeSlow(key.length * 3 + 64);
    const s = this.scratch;
    const n = s.write(key, 0, 'utf8');
    let h = 0x811c9dc5 | 0;
    for (let i = 0; i < n; i++) h = Math.imul(h ^ (s[i] as number), 0x01000193);
    this.scratchLen = n;
    this.scratchHash = fmix(h);
    this.scratchKey = key;
  }

  private keyEquals(c: RecordChunk, o: number): boolean {
    const n = this.scratchLen;
    if (c.klen[o] !== n) return false;
    const buf = this.arena.bufs[c.pc[o] as number] as Buffer;
    const off = c.poff[o] as number;
    const s = this.scratch;
    for (let i = 0; i < n; i++) if (buf[off + i] !== s[i]) return false;
    return true;
  }

  /** The live record of `slot` under `key`, or -1. */
  find(slot: number, key: string): number {
    const shards = this.tabs[slot];
    if (shards === undefined) return -1;
    this.prepKey(key);
    const h = this.scratchHash;
    const tab = shards[h >>> (32 - SHARD_BITS)];
    if (tab === null || tab === undefined) return -1;
    const mask = tab.length - 1;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const e = tab[i] as number;
      if (e === 0) return -1;
      const id = e - 1;
      const c = this.chunk(id);
      const o = id & RC_MASK;
      if (c.hash[o] === h && this.keyEquals(c, o)) return id;
    }
  }

  keyOf(id: number): string {
    const c = this.chunk(id);
    const o = id & RC_MASK;
    const buf = this.arena.bufs[c.pc[o] as number] as Buffer;
    const off = c.poff[o] as number;
    return buf.toString('utf8', off, off + (c.klen[o] as number));
  }

  slotOf(id: number): number {
    return this.chunk(id).slot[id & RC_MASK] as number;
  }

  expiresOf(id: number): number {
    return this.chunk(id).exp[id & RC_MASK] as number;
  }

  /** Time of the newest matched step. */
  timeOf(id: number): number {
    return this.chunk(id).t[id & RC_MASK] as number;
  }

  isLive(id: number): boolean {
    return id >= 0 && id < this.nextId && ((this.chunk(id).flags[id & RC_MASK] as number) & F_ALIVE) !== 0;
  }

  /** The matched steps of a record, step 0 first (events re-created from their bytes). */
  chain(id: number): ChainItem[] {
    const c = this.chunk(id);
    const o = id & RC_MASK;
    if (((c.flags[o] as number) & F_HELD) !== 0) return this.held.get(id) ?? [];
    const buf = this.arena.bufs[c.pc[o] as number] as Buffer;
    let off = (c.poff[o] as number) + (c.klen[o] as number);
    const end = off + (c.plen[o] as number);
    const d = this.dec;
    const items: ChainItem[] = [];
    while (off < end) {
      const key = d.string(buf, off);
      const subj = d.decode(buf, d.pos) as object;
      off = d.pos;
      items.push({ key, subj, det: null });
    }
    return items;
  }

  // ---- insert / remove ------------------------------------------------------------

  private allocId(): number {
    if (this.freeHead >= 0) {
      const id = this.freeHead;
      this.freeHead = this.chunk(id).wnext[id & RC_MASK] as number;
      return id;
    }
    const id = this.nextId++;
    if (id >>> RC_BITS >= this.rc.length) this.rc.push(new RecordChunk());
    return id;
  }

  /**
   * A new record waiting for `slot` under `key`: the chain of `prev` (a live record, or -1)
   * plus this step. The caller removes any record already under the key beforehand, and
   * `prev` afterwards.
   */
  add(slot: number, key: string, expires: number, time: number, prev: number, subj: object, det: DetectionLike | null): number {
    const prevHeld = prev >= 0 && ((this.chunk(prev).flags[prev & RC_MASK] as number) & F_HELD) !== 0;
    // -1: held as an object (a detection, a chain already held, or a value the codec does not take).
    const encLen = det === null && !prevHeld ? this.enc.encode(subj) : -1;
    const id = this.allocId();
    const c = this.chunk(id);
    const o = id & RC_MASK;
    let pBuf: Buffer | null = null;
    let pOff = 0;
    let pLen = 0;
    if (prev >= 0 && encLen >= 0) {
      const pc = this.chunk(prev);
      const po = prev & RC_MASK;
      pBuf = this.arena.bufs[pc.pc[po] as number] as Buffer;
      pOff = (pc.poff[po] as number) + (pc.klen[po] as number);
      pLen = pc.plen[po] as number;
    }
    this.prepKey(key);
    const kl = this.scratchLen;
    const need = encLen < 0 ? kl : kl + pLen + kl + 6 + encLen;
    const ci = this.arena.reserve(need);
    const buf = this.arena.bufs[ci] as Buffer;
    const start = this.arena.offset(ci);
    // The key, then (unless held) the previous chain and this step: its key and its event.
    let p = start + copyBytes(this.scratch, 0, kl, buf, start);
    if (encLen >= 0) {
      if (pBuf !== null) p += copyBytes(pBuf, pOff, pOff + pLen, buf, p);
      buf[p++] = STR_UTF8;
      let x = kl;
      while (x >= 0x80) {
        buf[p++] = (x & 0x7f) | 0x80;
        x >>>= 7;
      }
      buf[p++] = x;
      p += copyBytes(this.scratch, 0, kl, buf, p);
      p += copyBytes(this.enc.bytes, 0, encLen, buf, p);
    }
    this.arena.commit(ci, p - start);
    c.exp[o] = expires;
    c.t[o] = time;
    c.hash[o] = this.scratchHash;
    c.pc[o] = ci;
    c.poff[o] = start;
    c.klen[o] = kl;
    c.plen[o] = p - start - kl;
    c.slot[o] = slot;
    c.flags[o] = F_ALIVE | (encLen < 0 ? F_HELD : 0);
    c.wb[o] = Number.NaN;
    if (encLen < 0) {
      const before = prev >= 0 ? this.chain(prev) : [];
      this.held.set(id, [...before, { key, subj, det }]);
    }
    this.tableInsert(slot, id, this.scratchHash);
    this.wheelAdd(id);
    this.live++;
    return id;
  }

  remove(id: number): void {
    const c = this.chunk(id);
    const o = id & RC_MASK;
    const f = c.flags[o] as number;
    if ((f & F_ALIVE) === 0) return;
    this.tableDelete(c.slot[o] as number, id, c.hash[o] as number);
    if (!Number.isNaN(c.wb[o] as number)) this.wheelUnlink(id);
    if ((f & F_HELD) !== 0) this.held.delete(id);
    this.arena.release(c.pc[o] as number, (c.klen[o] as number) + (c.plen[o] as number));
    c.flags[o] = 0;
    c.wnext[o] = this.freeHead;
    this.freeHead = id;
    this.live--;
  }

  // ---- hash tables ----------------------------------------------------------------

  private tableInsert(slot: number, id: number, h: number): void {
    const shards = this.tabs[slot] as (Int32Array | null)[];
    const counts = this.counts[slot] as Int32Array;
    const s = h >>> (32 - SHARD_BITS);
    let tab = shards[s] ?? null;
    const n = (counts[s] as number) + 1;
    if (tab === null) tab = shards[s] = new Int32Array(MIN_TABLE);
    else if (n * 2 > tab.length) tab = shards[s] = this.rehash(tab, tab.length * 4);
    counts[s] = n;
    const mask = tab.length - 1;
    let i = h & mask;
    while (tab[i] !== 0) i = (i + 1) & mask;
    tab[i] = id + 1;
  }

  private rehash(old: Int32Array, size: number): Int32Array {
    const tab = new Int32Array(size);
    const mask = size - 1;
    for (let j = 0; j < old.length; j++) {
      const e = old[j] as number;
      if (e === 0) continue;
      let i = (this.chunk(e - 1).hash[(e - 1) & RC_MASK] as number) & mask;
      while (tab[i] !== 0) i = (i + 1) & mask;
      tab[i] = e;
    }
    return tab;
  }

  private tableDelete(slot: number, id: number, h: number): void {
    const shards = this.tabs[slot] as (Int32Array | null)[];
    const counts = this.counts[slot] as Int32Array;
    const s = h >>> (32 - SHARD_BITS);
    const tab = shards[s] ?? null;
    if (tab === null) return;
    const mask = tab.length - 1;
    let i = h & mask;
    for (;;) {
      const e = tab[i] as number;
      if (e === 0) return;
      if (e === id + 1) break;
      i = (i + 1) & mask;
    }
    // Backward-shift deletion: no tombstones, probe chains stay short.
    tab[i] = 0;
    for (let j = (i + 1) & mask; ; j = (j + 1) & mask) {
      const e = tab[j] as number;
      if (e === 0) break;
      const k = (this.chunk(e - 1).hash[(e - 1) & RC_MASK] as number) & mask;
      const stays = i <= j ? i < k && k <= j : i < k || k <= j;
      if (stays) continue;
      tab[i] = e;
      tab[j] = 0;
      i = j;
    }
    const n = (counts[s] as number) - 1;
    counts[s] = n;
    if (tab.length > MIN_TABLE && n * 16 < tab.length) shards[s] = this.rehash(tab, tab.length / 4);
  }

  // ---- expiry wheel ---------------------------------------------------------------

  private wheelAdd(id: number): void {
    const c = this.chunk(id);
    const o = id & RC_MASK;
    let b = Math.floor((c.exp[o] as number) / this.gran);
    if (Number.isNaN(this.cursor) || b < this.cursor) {
      // A late record goes into the bucket swept next: it is already due.
      if (Number.isNaN(this.cursor)) this.cursor = b;
      else b = this.cursor;
    }
    c.wb[o] = b;
    const head = this.buckets.get(b);
    if (head === undefined) {
      c.wprev[o] = id;
      c.wnext[o] = id;
      this.buckets.set(b, id);
      return;
    }
    const hc = this.chunk(head);
    const tail = hc.wprev[head & RC_MASK] as number;
    c.wprev[o] = tail;
    c.wnext[o] = head;
    this.chunk(tail).wnext[tail & RC_MASK] = id;
    hc.wprev[head & RC_MASK] = id;
  }

  private wheelUnlink(id: number): void {
    const c = this.chunk(id);
    const o = id & RC_MASK;
    const b = c.wb[o] as number;
    const next = c.wnext[o] as number;
    if (next === id) this.buckets.delete(b);
    else {
      const prev = c.wprev[o] as number;
      this.chunk(prev).wnext[prev & RC_MASK] = next;
      this.chunk(next).wprev[next & RC_MASK] = prev;
      if (this.buckets.get(b) === id) this.buckets.set(b, next);
    }
    c.wb[o] = Number.NaN;
  }

  /** Queue a record again (it was taken off the wheel by a sweep but is not due yet). */
  requeue(id: number): void {
    if (this.isLive(id) && Number.isNaN(this.chunk(id).wb[id & RC_MASK] as number)) this.wheelAdd(id);
  }

  /** The record that expires first (eviction victim), or -1. */
  oldest(): number {
    if (this.buckets.size === 0) return -1;
    let min = Number.POSITIVE_INFINITY;
    for (const k of this.buckets.keys()) if (k < min) min = k;
    return this.buckets.get(min) ?? -1;
  }

  /**
   * Take records of buckets that ended at or before `now` off the wheel and visit them, at
   * most `budget`. The visitor removes the record or re-queues it. Returns the number visited.
   */
  sweep(now: number, budget: number, visit: (id: number) => void): number {
    if (Number.isNaN(this.cursor) || this.buckets.size === 0) return 0;
    const target = Math.floor(now / this.gran) - 1;
    let done = 0;
    while (this.cursor <= target && done < budget) {
      const head = this.buckets.get(this.cursor);
      if (head === undefined) {
        // Skip a long empty stretch (a jump of the clock) without walking it.
        if (target - this.cursor > 1024) {
          let min = Number.POSITIVE_INFINITY;
          for (const k of this.buckets.keys()) if (k < min) min = k;
          this.cursor = min === Number.POSITIVE_INFINITY ? target + 1 : Math.max(this.cursor + 1, Math.min(min, target + 1));
        } else this.cursor++;
        continue;
      }
      this.wheelUnlink(head);
      done++;
      visit(head);
    }
    return done;
  }
}
