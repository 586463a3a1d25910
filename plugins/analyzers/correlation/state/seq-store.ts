/**
 * Off-heap state of a sequence rule, and the keyed records count rules build on
 * (count-store.ts). Every partial match is a 64-byte row in blocks of rows (so growth never
 * copies millions of entries); keys and the evidence chain are bytes in ArrayBuffer chunks;
 * lookup goes through one ShardedIdTable per step (id-table.ts). The JS heap holds no object
 * per key: the garbage collector has nothing to trace or copy when millions of matches are
 * live.
 *
 * Record blocks follow the live count down as well as up: a new record takes the free row of
 * the lowest block that has one, so after a burst the upper blocks drain as their records end,
 * and a block at the top is given back once it and the one below it are empty (one empty
 * block stays, so a count that wavers at a block's edge does not take and give a block each
 * time). The evidence arena gives its chunks back as they empty (byte-arena.ts).
 *
 * Evidence events are kept in the compact binary form of event-codec.ts and re-created when a
 * match fires or a bound condition needs them. Chains that contain a consumed detection, or
 * an event the codec does not take (bigint, class instances, cycles), are held as objects
 * instead (rare: detections are few).
 */
import type { DetectionLike } from '../evidence.js';
import { EventDecoder, EventEncoder, STR_UTF8, StringTable } from './event-codec.js';
import { ShardedIdTable } from './id-table.js';
import { ByteArena, copyBytes } from './byte-arena.js';
import { PLAIN_BLOCKS, type BlockSource } from './block-pool.js';
import type { RuleRecords } from './store.js';

/** One matched step of a chain: the key it waits under, its subject and its detection. */
export interface ChainItem {
  readonly key: string;
  readonly subj: object;
  readonly det: DetectionLike | null;
}

export const RC_BITS = 14;
const RC_SIZE = 1 << RC_BITS;
const RC_MASK = RC_SIZE - 1;

/** Room a step's event is encoded into directly (larger events are encoded aside first). */
const DIRECT_ROOM = 2048;

const F_ALIVE = 1;
const F_HELD = 2;

/**
 * RC_SIZE records in one block, a 64-byte row each (one cache line: a lookup that finds a
 * record reads its key position and length together, and removal touches one line).
 * Fields: expires, time of the newest step's subject, wheel bucket (NaN: not queued) as
 * float64 words; key hash, wheel prev, wheel next (or next free record), arena chunk, offset,
 * key length, chain length as int32 words; slot and flags as bytes.
 */
// Float64 words of a row.
const EXP = 0;
const TIME = 1;
const WB = 2;
// Int32 words of a row.
const HASH = 6;
const WPREV = 7;
const WNEXT = 8;
const PC = 9;
const POFF = 10;
const KLEN = 11;
const PLEN = 12;
// Bytes of a row.
const SLOT = 52;
const FLAGS = 53;

class RecordChunk {
  readonly f64: Float64Array;
  readonly i32: Int32Array;
  readonly u8: Uint8Array;
  /** Live records in this block. */
  live = 0;
  /** First record of this block's free list (linked through WNEXT), -1: none. */
  free = -1;

  static readonly BYTES = RC_SIZE * 64;

  /** `block`: at least BYTES long, 8-byte aligned; records are written before being read. */
  constructor(readonly block: Buffer) {
    this.f64 = new Float64Array(block.buffer, block.byteOffset, RC_SIZE * 8);
    this.i32 = new Int32Array(block.buffer, block.byteOffset, RC_SIZE * 16);
    this.u8 = new Uint8Array(block.buffer, block.byteOffset, RC_SIZE * 64);
  }
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}

export class SeqStore implements RuleRecords {
  private readonly rc: RecordChunk[] = [];
  /** Records below this id have been handed out (the top block fills from here). */
  private nextId = 0;
  /** Bit c of word c >>> 5: block c has a free record. */
  private readonly hasFree: number[] = [];
  /** No word below this one has a bit set. */
  private lowWord = 0;
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
    if (c.i32[o * 16 + KLEN] !== n) return false;
    const buf = this.arena.bufs[c.i32[o * 16 + PC] as number] as Buffer;
    const off = c.i32[o * 16 + POFF] as number;
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
    const buf = this.arena.bufs[c.i32[o * 16 + PC] as number] as Buffer;
    const off = c.i32[o * 16 + POFF] as number;
    return buf.toString('utf8', off, off + (c.i32[o * 16 + KLEN] as number));
  }

  slotOf(id: number): number {
    return this.chunk(id).u8[(id & RC_MASK) * 64 + SLOT] as number;
  }

  expiresOf(id: number): number {
    return this.chunk(id).f64[(id & RC_MASK) * 8 + EXP] as number;
  }

  /** Move a record's end (count groups: a sliding window). The wheel finds out when it comes to the record. */
  setExpires(id: number, expires: number): void {
    this.chunk(id).f64[(id & RC_MASK) * 8 + EXP] = expires;
  }

  /** Time of the newest matched step. */
  timeOf(id: number): number {
    return this.chunk(id).f64[(id & RC_MASK) * 8 + TIME] as number;
  }

  isLive(id: number): boolean {
    return id >= 0 && id < this.nextId && ((this.chunk(id).u8[(id & RC_MASK) * 64 + FLAGS] as number) & F_ALIVE) !== 0;
  }

  /** The matched steps of a record, step 0 first (events re-created from their bytes). */
  chain(id: number): ChainItem[] {
    const c = this.chunk(id);
    const o = id & RC_MASK;
    if (((c.u8[o * 64 + FLAGS] as number) & F_HELD) !== 0) return this.held.get(id) ?? [];
    const buf = this.arena.bufs[c.i32[o * 16 + PC] as number] as Buffer;
    let off = (c.i32[o * 16 + POFF] as number) + (c.i32[o * 16 + KLEN] as number);
    const end = off + (c.i32[o * 16 + PLEN] as number);
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

  /** Blocks of records held now. */
  get recordBlocks(): number {
    return this.rc.length;
  }

  /** A free record of the lowest block that has one, else the next record of the top block. */
  private allocId(): number {
    const words = this.hasFree;
    for (let w = this.lowWord; w < words.length; w++) {
      const bits = words[w] as number;
      if (bits === 0) continue;
      this.lowWord = w;
      const ci = (w << 5) + 31 - Math.clz32(bits & -bits);
      const c = this.rc[ci] as RecordChunk;
      const id = c.free;
      c.free = c.i32[(id & RC_MASK) * 16 + WNEXT] as number;
      if (c.free < 0) words[w] = bits & ~(1 << (ci & 31));
      c.live++;
      return id;
    }
    this.lowWord = words.length;
    const id = this.nextId++;
    if (id >>> RC_BITS >= this.rc.length) this.rc.push(new RecordChunk(this.blocks.take()));
    this.chunk(id).live++;
    return id;
  }

  /** Record `id` (dead now) joins its block's free list; empty blocks at the top are given back. */
  private freeId(id: number): void {
    const ci = id >>> RC_BITS;
    const c = this.rc[ci] as RecordChunk;
    c.i32[(id & RC_MASK) * 16 + WNEXT] = c.free;
    c.free = id;
    const w = ci >>> 5;
    while (this.hasFree.length <= w) this.hasFree.push(0);
    this.hasFree[w] = (this.hasFree[w] as number) | (1 << (ci & 31));
    if (w < this.lowWord) this.lowWord = w;
    if (--c.live === 0) this.trim();
  }

  /** A block emptied: give back top blocks while the block below is empty too (one empty block stays). */
  private trim(): void {
    const rc = this.rc;
    while (rc.length >= 2 && (rc[rc.length - 1] as RecordChunk).live === 0 && (rc[rc.length - 2] as RecordChunk).live === 0) {
      const ci = rc.length - 1;
      const top = rc.pop() as RecordChunk;
      const w = ci >>> 5;
      if (w < this.hasFree.length) this.hasFree[w] = (this.hasFree[w] as number) & ~(1 << (ci & 31));
      this.nextId = ci << RC_BITS;
      this.blocks.give(top.block);
    }
    while (this.hasFree.length > 0 && this.hasFree[this.hasFree.length - 1] === 0) this.hasFree.pop();
  }

  /**
   * A new record waiting for `slot` under `key`: the chain of `prev` (a live record, or -1)
   * plus this step; with `subj` null, a record of the key alone (count groups). The caller
   * removes any record already under the key beforehand, and `prev` afterwards.
   */
  add(slot: number, key: string, expires: number, time: number, prev: number, subj: object | null, det: DetectionLike | null): number {
    const prevHeld = prev >= 0 && ((this.chunk(prev).u8[(prev & RC_MASK) * 64 + FLAGS] as number) & F_HELD) !== 0;
    // Held as objects: a detection, a chain already held, or (found below) a value the codec does not take.
    let held = subj !== null && (det !== null || prevHeld);
    const id = this.allocId();
    const c = this.chunk(id);
    const o = id & RC_MASK;
    this.prepKey(key);
    const kl = this.scratchLen;
    const arena = this.arena;
    let ci: number;
    let start: number;
    let p: number;
    if (subj !== null && !held) {
      // The key, the previous chain, this step's key, then the event encoded straight after
      // them (a large event is encoded aside first, then copied).
      let pBuf: Buffer | null = null;
      let pOff = 0;
      let pLen = 0;
      if (prev >= 0) {
        const pc = this.chunk(prev);
        const po = prev & RC_MASK;
        pBuf = arena.bufs[pc.i32[po * 16 + PC] as number] as Buffer;
        pOff = (pc.i32[po * 16 + POFF] as number) + (pc.i32[po * 16 + KLEN] as number);
        pLen = pc.i32[po * 16 + PLEN] as number;
      }
      const head = kl + pLen + kl + 6;
      ci = arena.reserve(head + DIRECT_ROOM);
      let buf = arena.bufs[ci] as Buffer;
      start = arena.offset(ci);
      p = this.writeHead(buf, start, pBuf, pOff, pLen);
      let n = this.enc.encodeInto(subj, buf, arena.dv(ci), p, buf.length);
      if (n === -2) {
        n = this.enc.encode(subj);
        if (n >= 0) {
          ci = arena.reserve(head + n);
          buf = arena.bufs[ci] as Buffer;
          start = arena.offset(ci);
          p = this.writeHead(buf, start, pBuf, pOff, pLen);
          copyBytes(this.enc.bytes, 0, n, buf, p);
        }
      }
      if (n >= 0) p += n;
      else {
        held = true;
        p = start + kl; // the key alone (written first)
      }
    } else {
      ci = arena.reserve(kl);
      start = arena.offset(ci);
      p = start + copyBytes(this.scratch, 0, kl, arena.bufs[ci] as Buffer, start);
    }
    arena.commit(ci, p - start);
    c.f64[o * 8 + EXP] = expires;
    c.f64[o * 8 + TIME] = time;
    c.i32[o * 16 + HASH] = this.scratchHash;
    c.i32[o * 16 + PC] = ci;
    c.i32[o * 16 + POFF] = start;
    c.i32[o * 16 + KLEN] = kl;
    c.i32[o * 16 + PLEN] = p - start - kl;
    c.u8[o * 64 + SLOT] = slot;
    c.u8[o * 64 + FLAGS] = F_ALIVE | (held ? F_HELD : 0);
    c.f64[o * 8 + WB] = Number.NaN;
    if (held && subj !== null) {
      const before = prev >= 0 ? this.chain(prev) : [];
      this.held.set(id, [...before, { key, subj, det }]);
    }
    (this.tabs[slot] as ShardedIdTable).insert(this.scratchHash, id);
    this.wheelAdd(id);
    this.live++;
    return id;
  }

  /** Write the scratch key, the previous chain and this step's key at `start`; returns the end. */
  private writeHead(buf: Buffer, start: number, pBuf: Buffer | null, pOff: number, pLen: number): number {
    const kl = this.scratchLen;
    let p = start + copyBytes(this.scratch, 0, kl, buf, start);
    if (pBuf !== null) p += copyBytes(pBuf, pOff, pOff + pLen, buf, p);
    buf[p++] = STR_UTF8;
    let x = kl;
    while (x >= 0x80) {
      buf[p++] = (x & 0x7f) | 0x80;
      x >>>= 7;
    }
    buf[p++] = x;
    return p + copyBytes(this.scratch, 0, kl, buf, p);
  }

  remove(id: number): void {
    const c = this.chunk(id);
    const o = id & RC_MASK;
    const f = c.u8[o * 64 + FLAGS] as number;
    if ((f & F_ALIVE) === 0) return;
    (this.tabs[c.u8[o * 64 + SLOT] as number] as ShardedIdTable).delete(c.i32[o * 16 + HASH] as number, id);
    if (!Number.isNaN(c.f64[o * 8 + WB] as number)) this.wheelUnlink(id);
    if ((f & F_HELD) !== 0) this.held.delete(id);
    this.arena.release(c.i32[o * 16 + PC] as number, (c.i32[o * 16 + KLEN] as number) + (c.i32[o * 16 + PLEN] as number));
    c.u8[o * 64 + FLAGS] = 0;
    this.live--;
    this.freeId(id);
  }

  // ---- expiry wheel ---------------------------------------------------------------

  private wheelAdd(id: number): void {
    const c = this.chunk(id);
    const o = id & RC_MASK;
    let b = Math.floor((c.f64[o * 8 + EXP] as number) / this.gran);
    if (Number.isNaN(this.cursor) || b < this.cursor) {
      // A late record goes into the bucket swept next: it is already due.
      if (Number.isNaN(this.cursor)) this.cursor = b;
      else b = this.cursor;
    }
    c.f64[o * 8 + WB] = b;
    const head = this.buckets.get(b);
    if (head === undefined) {
      c.i32[o * 16 + WPREV] = id;
      c.i32[o * 16 + WNEXT] = id;
      this.buckets.set(b, id);
      return;
    }
    const hc = this.chunk(head);
    const tail = hc.i32[(head & RC_MASK) * 16 + WPREV] as number;
    c.i32[o * 16 + WPREV] = tail;
    c.i32[o * 16 + WNEXT] = head;
    this.chunk(tail).i32[(tail & RC_MASK) * 16 + WNEXT] = id;
    hc.i32[(head & RC_MASK) * 16 + WPREV] = id;
  }

  private wheelUnlink(id: number): void {
    const c = this.chunk(id);
    const o = id & RC_MASK;
    const b = c.f64[o * 8 + WB] as number;
    const next = c.i32[o * 16 + WNEXT] as number;
    if (next === id) this.buckets.delete(b);
    else {
      const prev = c.i32[o * 16 + WPREV] as number;
      this.chunk(prev).i32[(prev & RC_MASK) * 16 + WNEXT] = next;
      this.chunk(next).i32[(next & RC_MASK) * 16 + WPREV] = prev;
      if (this.buckets.get(b) === id) this.buckets.set(b, next);
    }
    c.f64[o * 8 + WB] = Number.NaN;
  }

  /** Queue a record again (it was taken off the wheel by a sweep but is not due yet). */
  requeue(id: number): void {
    if (this.isLive(id) && Number.isNaN(this.chunk(id).f64[(id & RC_MASK) * 8 + WB] as number)) this.wheelAdd(id);
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
