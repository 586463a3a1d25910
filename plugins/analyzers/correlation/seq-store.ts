/**
 * Off-heap state of a sequence rule. Every partial match is a record in typed-array columns
 * (chunked, so growth never copies millions of entries); keys and the evidence chain are
 * bytes in ArrayBuffer chunks; lookup goes through one ShardedIdTable per step (id-table.ts).
 * The JS heap holds no object per key:
 * the garbage collector has nothing to trace or copy when millions of matches are live.
 *
 * Evidence events are kept in the compact binary form of event-codec.ts and re-created when a
 * match fires or a bound condition needs them. Chains that contain a consumed detection, or
 * an event the codec does not take (bigint, class instances, cycles), are held as objects
 * instead (rare: detections are few).
 */
import type { DetectionLike } from './state-store.js';
import { EventDecoder, EventEncoder, STR_UTF8, StringTable } from './event-codec.js';
import { ShardedIdTable } from './id-table.js';
import { PLAIN_BLOCKS, type BlockSource } from '../../../core/index.js';

/** One matched step of a chain: the key it waits under, its subject and its detection. */
export interface ChainItem {
  readonly key: string;
  readonly subj: object;
  readonly det: DetectionLike | null;
}

const RC_BITS = 14;
const RC_SIZE = 1 << RC_BITS;
const RC_MASK = RC_SIZE - 1;

const F_ALIVE = 1;
const F_HELD = 2;

/** Columns of RC_SIZE records, laid out in one block. */
class RecordChunk {
  readonly exp: Float64Array;
  /** Time of the newest step's subject. */
  readonly t: Float64Array;
  /** Wheel bucket the record is queued in; NaN when not queued. */
  readonly wb: Float64Array;
  readonly hash: Int32Array;
  readonly wprev: Int32Array;
  /** Next in the wheel bucket, or next free record. */
  readonly wnext: Int32Array;
  readonly pc: Int32Array;
  readonly poff: Int32Array;
  readonly klen: Int32Array;
  readonly plen: Int32Array;
  readonly slot: Uint8Array;
  readonly flags: Uint8Array;

  /** Bytes of one chunk's columns. */
  static readonly BYTES = RC_SIZE * (3 * 8 + 7 * 4 + 2);

  /** `block`: at least BYTES long, 8-byte aligned; records are written before being read. */
  constructor(block: Buffer) {
    const ab = block.buffer;
    let o = block.byteOffset;
    const f64 = (): Float64Array => {
      const a = new Float64Array(ab, o, RC_SIZE);
      o += RC_SIZE * 8;
      return a;
    };
    const i32 = (): Int32Array => {
      const a = new Int32Array(ab, o, RC_SIZE);
      o += RC_SIZE * 4;
      return a;
    };
    const u8 = (): Uint8Array => {
      const a = new Uint8Array(ab, o, RC_SIZE);
      o += RC_SIZE;
      return a;
    };
    this.exp = f64();
    this.t = f64();
    this.wb = f64();
    this.hash = i32();
    this.wprev = i32();
    this.wnext = i32();
    this.pc = i32();
    this.poff = i32();
    this.klen = i32();
    this.plen = i32();
    this.slot = u8();
    this.flags = u8();
  }
}

/** Byte chunks, freed when every record written into them is gone. */
class ByteArena {
  readonly bufs: (Buffer | null)[] = [];
  constructor(private readonly blocks: BlockSource) {}

  private readonly used: number[] = [];
  private readonly liveBytes: number[] = [];
  private readonly freeIdx: number[] = [];
  cur = -1;

  /** A chunk with at least `need` free bytes; returns its index. */
  reserve(need: number): number {
    const c = this.cur;
    const size = this.blocks.blockBytes;
    if (c >= 0 && size - (this.used[c] as number) >= need) return c;
    if (c >= 0 && this.liveBytes[c] === 0) this.drop(c);
    // A chain longer than a block (rare: huge events) gets a buffer of its own.
    const buf = need <= size ? this.blocks.take() : Buffer.allocUnsafeSlow(need);
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
    this.blocks.give(b);
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
  private readonly arena: ByteArena;
  /** Chains held as objects (detections, or events the codec does not take). */
  private readonly held = new Map<number, ChainItem[]>();
  /** Per slot (step): key hash → record id. */
  private readonly tabs: ShardedIdTable[];
  private readonly matchesScratch = (id: number): boolean => this.keyEquals(this.chunk(id), id & RC_MASK);
  /** Recurring strings of the kept events, stored once. */
  private readonly strings = new StringTable();
  private readonly enc = new EventEncoder(this.strings);
  private readonly dec = new EventDecoder(this.strings);
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

  constructor(
    slotCount: number,
    spanMs: number,
    private readonly blocks: BlockSource = PLAIN_BLOCKS,
  ) {
    if (blocks.blockBytes < RecordChunk.BYTES) throw new RangeError(`SeqStore: blocks of ${blocks.blockBytes} bytes, need ${RecordChunk.BYTES}`);
    this.arena = new ByteArena(blocks);
    this.tabs = Array.from({ length: slotCount }, (_, i) => new ShardedIdTable(0x9e3779b9 + i));
    // About 64 buckets per span, between 10 ms and 1 s (an absent step fires at most one
    // bucket late).
    this.gran = Math.min(1000, Math.max(10, Math.floor(spanMs / 64)));
  }

  get bucketCount(): number {
    return this.buckets.size;
  }

  /** Bytes held outside the JS heap (record columns, tables, arena). */
  get offHeapBytes(): number {
    let n = this.rc.length * this.blocks.blockBytes + this.arena.bytes;
    for (const t of this.tabs) n += t.byteLength;
    return n;
  }

  private chunk(id: number): RecordChunk {
    return this.rc[id >>> RC_BITS] as RecordChunk;
  }

  // ---- keys ------------------------------------------------------------------------

  /** Encode `key` into the scratch buffer and hash it. */
  private prepKey(key: string): void {
    if (key === this.scratchKey) return;
    const len = key.length;
    if (len * 3 > this.scratch.length) this.scratch = Buffer.allocUnsafeSlow(len * 3 + 64);
    const s = this.scratch;
    let h = 0x811c9dc5 | 0;
    let n = 0;
    // ASCII keys (GUIDs, pid@time) are written and hashed in one pass; others through UTF-8.
    for (; n < len; n++) {
      const c = key.charCodeAt(n);
      if (c >= 0x80) break;
      s[n] = c;
      h = Math.imul(h ^ c, 0x01000193);
    }
    if (n < len) {
      n = s.write(key, 0, 'utf8');
      h = 0x811c9dc5 | 0;
      for (let i = 0; i < n; i++) h = Math.imul(h ^ (s[i] as number), 0x01000193);
    }
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
    const tab = this.tabs[slot];
    if (tab === undefined) return -1;
    this.prepKey(key);
    return tab.find(this.scratchHash, this.matchesScratch);
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
    if (id >>> RC_BITS >= this.rc.length) this.rc.push(new RecordChunk(this.blocks.take()));
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
    (this.tabs[slot] as ShardedIdTable).insert(this.scratchHash, id);
    this.wheelAdd(id);
    this.live++;
    return id;
  }

  remove(id: number): void {
    const c = this.chunk(id);
    const o = id & RC_MASK;
    const f = c.flags[o] as number;
    if ((f & F_ALIVE) === 0) return;
    (this.tabs[c.slot[o] as number] as ShardedIdTable).delete(c.hash[o] as number, id);
    if (!Number.isNaN(c.wb[o] as number)) this.wheelUnlink(id);
    if ((f & F_HELD) !== 0) this.held.delete(id);
    this.arena.release(c.pc[o] as number, (c.klen[o] as number) + (c.plen[o] as number));
    c.flags[o] = 0;
    c.wnext[o] = this.freeHead;
    this.freeHead = id;
    this.live--;
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
