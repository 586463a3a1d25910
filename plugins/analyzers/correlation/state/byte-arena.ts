/**
 * Bytes of kept events, appended into blocks taken from a BlockSource (the plugin's BlockPool
 * in the agent). A block goes back to the source as soon as everything written into it has
 * been released. Shared by the sequence store (chains) and count groups (evidence).
 */
import type { BlockSource } from './block-pool.js';

const asF64 = (b: Buffer): Float64Array => new Float64Array(b.buffer, b.byteOffset, b.length >>> 3);
const asU32 = (b: Buffer): Uint32Array => new Uint32Array(b.buffer, b.byteOffset, b.length >>> 2);
const asDataView = (b: Buffer): DataView => new DataView(b.buffer, b.byteOffset, b.length);

/** Byte chunks (blocks of a BlockSource), each given back once every byte written into it is released. */
export class ByteArena {
  readonly bufs: (Buffer | null)[] = [];
  constructor(private readonly blocks: BlockSource) {}

  private readonly used: number[] = [];
  private readonly liveBytes: number[] = [];
  private readonly freeIdx: number[] = [];
  cur = -1;

  /** Typed views of the chunks, made on first use (for records laid out in 8-byte aligned words). */
  private readonly f64s: (Float64Array | null)[] = [];
  private readonly u32s: (Uint32Array | null)[] = [];
  private readonly dvs: (DataView | null)[] = [];

  /** Chunk `c` as float64 words (its buffer starts 8-byte aligned: blocks and slow buffers do). */
  f64(c: number): Float64Array {
    return this.view(this.f64s, c, asF64);
  }

  /** Chunk `c` as uint32 words. */
  u32(c: number): Uint32Array {
    return this.view(this.u32s, c, asU32);
  }

  /** Chunk `c` as a DataView. */
  dv(c: number): DataView {
    return this.view(this.dvs, c, asDataView);
  }

  private view<T>(cache: (T | null)[], c: number, make: (b: Buffer) => T): T {
    let v = cache[c];
    if (v === null || v === undefined) cache[c] = v = make(this.bufs[c] as Buffer);
    return v;
  }

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
    this.held += buf.length;
    this.f64s[idx] = null;
    this.u32s[idx] = null;
    this.dvs[idx] = null;
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
    this.held -= b.length;
    this.bufs[c] = null;
    this.f64s[c] = null;
    this.u32s[c] = null;
    this.dvs[c] = null;
    this.freeIdx.push(c);
    if (c === this.cur) this.cur = -1;
  }

  /** Bytes of the chunks held (kept up to date as chunks come and go). */
  get bytes(): number {
    return this.held;
  }
  private held = 0;
}

/**
 * Copy bytes; short runs by hand, longer ones through a plain Uint8Array view (Buffer#copy
 * and Buffer#subarray cost more in argument handling and allocation). Returns the count.
 */
export function copyBytes(src: Uint8Array, from: number, to: number, dst: Uint8Array, at: number): number {
  const n = to - from;
  if (n > 256) dst.set(new Uint8Array(src.buffer, src.byteOffset + from, n), at);
  else for (let i = 0; i < n; i++) dst[at + i] = src[from + i] as number;
  return n;
}
