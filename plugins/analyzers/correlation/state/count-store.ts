/**
 * Off-heap state of a count rule.
 *
 * A group is a record of a SeqStore with one slot that holds just the group's key: lookup,
 * the expiry wheel and eviction are the same machinery as a sequence's partial matches. The
 * count columns sit here, by record id, in blocks; the evidence is a linked list of encoded
 * events in a byte arena. So the JS heap holds nothing per group (millions of groups give the
 * garbage collector nothing to trace or copy), except for what the codec does not take
 * (consumed detections, exotic values: held as objects) and the distinct-value maps of value
 * counts (whose events are encoded all the same).
 */
import type { VigilEvent } from '../../../../core/index.js';
import type { BlockSource } from './block-pool.js';
import { ByteArena, copyBytes } from './byte-arena.js';
import { EventDecoder, EventEncoder, StringTable } from './event-codec.js';
import { pushEvidence, type Evidence } from '../evidence.js';
import { RC_BITS, SeqStore } from './seq-store.js';
import type { CountGroups } from './store.js';

const RC_SIZE = 1 << RC_BITS;
const RC_MASK = RC_SIZE - 1;

/** An item in the arena: next item (f64 position, -1: none), time (f64), byte length (u32), padding, then the bytes. */
const ITEM_HEADER = 24;
/** Room an item is encoded into directly (larger events are encoded aside first). */
const DIRECT_ROOM = 2048;
/** Byte length of an item whose evidence is held as an object. */
const HELD = 0xffffffff;
/** Arena positions: chunk index × 2^32 + byte offset (exact in a double). */
const POS_MUL = 2 ** 32;

/**
 * The count fields of RC_SIZE groups, one row of ROW float64 words per group (a row is one
 * cache line: a group's fields are read together on every counted event).
 */
const ROW = 8;
/** Window start (tumbling windows). */
const F_START = 0;
/** Items seen in the window (may exceed the evidence kept). */
const F_COUNT = 1;
/** Oldest and newest kept item (arena positions, -1: none). */
const F_HEAD = 2;
const F_TAIL = 3;
/** Items kept. */
const F_KEPT = 4;
/** Time of the oldest kept item (NaN: none). */
const F_FIRST = 5;
const CHUNK_BYTES = RC_SIZE * ROW * 8;

/** A distinct value of a value count: when it was seen last, and the item of that sighting. */
interface Sighting {
  t: number;
  pos: number;
}

export class CountStore implements CountGroups {
  /** Groups: records of one slot holding the key. */
  readonly keys: SeqStore;
  /** Rows of count fields, RC_SIZE groups per block (one block per block of key records). */
  private readonly rows: Float64Array[] = [];
  private readonly rowBlocks: Buffer[] = [];
  private readonly arena: ByteArena;
  /** Recurring strings of the kept events, stored once. */
  private readonly strings = new StringTable();
  private readonly enc = new EventEncoder(this.strings);
  private readonly dec = new EventDecoder(this.strings);
  /** Item position → evidence held as an object. */
  private readonly held = new Map<number, Evidence>();
  /** Group → its distinct values, oldest sighting first (value counts). */
  private readonly distinct = new Map<number, Map<string, Sighting>>();

  constructor(
    spanMs: number,
    private readonly blocks: BlockSource,
  ) {
    if (blocks.blockBytes < CHUNK_BYTES) throw new RangeError(`CountStore: blocks of ${blocks.blockBytes} bytes, need ${CHUNK_BYTES}`);
    this.keys = new SeqStore(1, spanMs, blocks);
    this.arena = new ByteArena(blocks);
  }

  get live(): number {
    return this.keys.live;
  }

  /** Bytes held outside the JS heap (key records and tables, count columns, evidence). */
  get offHeapBytes(): number {
    return this.keys.offHeapBytes + this.rows.length * this.blocks.blockBytes + this.arena.bytes;
  }

  /** The rows of group `id`'s chunk (its row starts at rowOf(id)). */
  private chunk(id: number): Float64Array {
    return this.rows[id >>> RC_BITS] as Float64Array;
  }

  // ---- groups ----------------------------------------------------------------------

  /** The live group under `key`, or -1. */
  find(key: string): number {
    return this.keys.find(0, key);
  }

  /** A new group under `key` (none is live under it), its window opening at `time`. */
  create(key: string, time: number, expires: number): number {
    const id = this.keys.add(0, key, expires, time, -1, null, null);
    while (id >>> RC_BITS >= this.rows.length) {
      const b = this.blocks.take();
      this.rowBlocks.push(b);
      this.rows.push(new Float64Array(b.buffer, b.byteOffset, RC_SIZE * ROW));
    }
    const c = this.chunk(id);
    const r = (id & RC_MASK) * ROW;
    c[r + F_START] = time;
    c[r + F_COUNT] = 0;
    c[r + F_HEAD] = -1;
    c[r + F_TAIL] = -1;
    c[r + F_KEPT] = 0;
    c[r + F_FIRST] = Number.NaN;
    return id;
  }

  isLive(id: number): boolean {
    return this.keys.isLive(id);
  }

  keyOf(id: number): string {
    return this.keys.keyOf(id);
  }

  expiresOf(id: number): number {
    return this.keys.expiresOf(id);
  }

  setExpires(id: number, expires: number): void {
    this.keys.setExpires(id, expires);
  }

  /** Count one more item; returns the new count. */
  counted(id: number): number {
    const c = this.chunk(id);
    const r = (id & RC_MASK) * ROW + F_COUNT;
    return (c[r] = (c[r] as number) + 1);
  }

  count(id: number): number {
    return this.chunk(id)[(id & RC_MASK) * ROW + F_COUNT] as number;
  }

  /** Items kept (event counts). */
  kept(id: number): number {
    return this.chunk(id)[(id & RC_MASK) * ROW + F_KEPT] as number;
  }

  /** Distinct values kept, or -1 for a group of an event count. */
  distinctCount(id: number): number {
    return this.distinct.get(id)?.size ?? -1;
  }

  /** End a group: its evidence goes, its record goes. */
  remove(id: number): void {
    if (!this.keys.isLive(id)) return;
    const c = this.chunk(id);
    const r = (id & RC_MASK) * ROW;
    for (let p = c[r + F_HEAD] as number; p >= 0; ) {
      const next = this.next(p);
      this.release(p);
      p = next;
    }
    c[r + F_HEAD] = -1;
    c[r + F_TAIL] = -1;
    c[r + F_KEPT] = 0;
    const d = this.distinct.get(id);
    if (d !== undefined) {
      for (const s of d.values()) this.release(s.pos);
      this.distinct.delete(id);
    }
    this.keys.remove(id);
    // The key records gave back their top blocks: the rows of those groups go with them.
    while (this.rows.length > this.keys.recordBlocks) {
      this.rows.pop();
      this.blocks.give(this.rowBlocks.pop() as Buffer);
    }
  }

  // ---- items -----------------------------------------------------------------------

  /** Write an item (no successor yet); returns its position. */
  private put(time: number, ev: Evidence): number {
    const arena = this.arena;
    let n = -1;
    // Encoded straight into the arena where there is room for a usual event; a larger one is
    // encoded aside and copied into a chunk with room for it.
    let ci = arena.reserve(ITEM_HEADER + DIRECT_ROOM);
    let off = arena.offset(ci);
    if (!Array.isArray(ev)) {
      const buf = arena.bufs[ci] as Buffer;
      n = this.enc.encodeInto(ev, buf, arena.dv(ci), off + ITEM_HEADER, buf.length);
      if (n === -2) {
        n = this.enc.encode(ev);
        if (n >= 0) {
          ci = arena.reserve(ITEM_HEADER + n);
          off = arena.offset(ci);
          copyBytes(this.enc.bytes, 0, n, arena.bufs[ci] as Buffer, off + ITEM_HEADER);
        }
      }
    }
    const len = n < 0 ? 0 : n;
    const f = arena.f64(ci);
    f[off >>> 3] = -1;
    f[(off >>> 3) + 1] = time;
    arena.u32(ci)[(off >>> 2) + 4] = n < 0 ? HELD : n;
    arena.commit(ci, (ITEM_HEADER + len + 7) & ~7);
    const pos = ci * POS_MUL + off;
    if (n < 0) this.held.set(pos, ev);
    return pos;
  }

  private next(pos: number): number {
    const ci = Math.floor(pos / POS_MUL);
    return this.arena.f64(ci)[(pos - ci * POS_MUL) >>> 3] as number;
  }

  private timeAt(pos: number): number {
    const ci = Math.floor(pos / POS_MUL);
    return this.arena.f64(ci)[((pos - ci * POS_MUL) >>> 3) + 1] as number;
  }

  private release(pos: number): void {
    const ci = Math.floor(pos / POS_MUL);
    const off = pos - ci * POS_MUL;
    const n = this.arena.u32(ci)[(off >>> 2) + 4] as number;
    if (n === HELD) this.held.delete(pos);
    this.arena.release(ci, (ITEM_HEADER + (n === HELD ? 0 : n) + 7) & ~7);
  }

  /** The item's evidence into `out` (an encoded event re-created, a held one as it is). */
  private collect(pos: number, out: VigilEvent[], seen: Set<VigilEvent>): void {
    const ci = Math.floor(pos / POS_MUL);
    const off = pos - ci * POS_MUL;
    const n = this.arena.u32(ci)[(off >>> 2) + 4] as number;
    if (n === HELD) {
      const h = this.held.get(pos);
      if (h !== undefined) pushEvidence(out, seen, h);
    } else out.push(this.dec.decode(this.arena.bufs[ci] as Buffer, off + ITEM_HEADER) as VigilEvent);
  }

  /** Keep `ev`, counted at `time`, as the group's newest item (event counts). */
  push(id: number, time: number, ev: Evidence): void {
    const pos = this.put(time, ev);
    const c = this.chunk(id);
    const r = (id & RC_MASK) * ROW;
    const tail = c[r + F_TAIL] as number;
    if (tail < 0) {
      c[r + F_HEAD] = pos;
      c[r + F_FIRST] = time;
    } else {
      const ci = Math.floor(tail / POS_MUL);
      this.arena.f64(ci)[(tail - ci * POS_MUL) >>> 3] = pos;
    }
    c[r + F_TAIL] = pos;
    c[r + F_KEPT] = (c[r + F_KEPT] as number) + 1;
  }

  /** Time of the group's oldest kept item (NaN when none). */
  oldestTime(id: number): number {
    return this.chunk(id)[(id & RC_MASK) * ROW + F_FIRST] as number;
  }

  /** Let go of the group's oldest kept item. */
  shift(id: number): void {
    const c = this.chunk(id);
    const r = (id & RC_MASK) * ROW;
    const head = c[r + F_HEAD] as number;
    if (head < 0) return;
    const next = this.next(head);
    this.release(head);
    c[r + F_HEAD] = next;
    if (next < 0) c[r + F_TAIL] = -1;
    c[r + F_FIRST] = next < 0 ? Number.NaN : this.timeAt(next);
    c[r + F_KEPT] = (c[r + F_KEPT] as number) - 1;
  }

  /**
   * Distinct value `v` seen at `time` with `ev` (value counts): it becomes the newest
   * sighting. False (nothing kept) when the group already keeps `max` other values.
   */
  sight(id: number, v: string, time: number, ev: Evidence, max: number): boolean {
    let d = this.distinct.get(id);
    if (d === undefined) this.distinct.set(id, (d = new Map()));
    const old = d.get(v);
    if (old !== undefined) {
      this.release(old.pos);
      d.delete(v);
    } else if (d.size >= max) return false;
    d.set(v, { t: time, pos: this.put(time, ev) });
    return true;
  }

  /** Forget distinct values last seen before `cutoff` (sliding windows). */
  forgetBefore(id: number, cutoff: number): void {
    const d = this.distinct.get(id);
    if (d === undefined) return;
    for (const [k, s] of d) {
      if (s.t >= cutoff) break;
      this.release(s.pos);
      d.delete(k);
    }
  }

  /** The group's evidence, oldest first, each event once. */
  evidence(id: number): VigilEvent[] {
    const out: VigilEvent[] = [];
    const seen = new Set<VigilEvent>();
    const d = this.distinct.get(id);
    if (d !== undefined) for (const s of d.values()) this.collect(s.pos, out, seen);
    else for (let p = this.chunk(id)[(id & RC_MASK) * ROW + F_HEAD] as number; p >= 0; p = this.next(p)) this.collect(p, out, seen);
    let ordered = true;
    for (let i = 1; i < out.length && ordered; i++) ordered = (out[i - 1] as VigilEvent).time <= (out[i] as VigilEvent).time;
    if (!ordered) out.sort((a, b) => a.time - b.time);
    return out;
  }
}
