/**
 * Decoding of the driver's read buffers: whole records, each 8-aligned, each starting with a
 * RECORD_HEADER whose size covers its fixed part and its UTF-16 strings. Pure (no koffi):
 * used by the Windows client and tested on Linux.
 */
import * as P from './protocol.js';

export type DriverRecord =
  | { kind: 'process_start'; header: P.RECORD_HEADER; rec: P.PROCESS_START; image: string; cmdline: string }
  | { kind: 'process_stop'; header: P.RECORD_HEADER; rec: P.PROCESS_STOP }
  | { kind: 'thread_create'; header: P.RECORD_HEADER; rec: P.THREAD_CREATE }
  | { kind: 'image_load'; header: P.RECORD_HEADER; rec: P.IMAGE_LOAD; image: string }
  | { kind: 'handle_access'; header: P.RECORD_HEADER; rec: P.HANDLE_ACCESS; callerImage: string; targetImage: string }
  | { kind: 'canary'; header: P.RECORD_HEADER; rec: P.CANARY }
  | { kind: 'loss'; header: P.RECORD_HEADER; rec: P.LOSS };

export class RecordDecodeError extends Error {}

function str(v: DataView, base: number, size: number, s: P.STR): string {
  if (s.bytes === 0) return '';
  if (s.offset + s.bytes > size || s.bytes % 2 !== 0) throw new RecordDecodeError(`string at ${s.offset}+${s.bytes} outside a ${size}-byte record`);
  let out = '';
  for (let i = 0; i < s.bytes; i += 2) out += String.fromCharCode(v.getUint16(base + s.offset + i, true));
  return out;
}

const FIXED: Record<number, number> = {
  [P.C.REC_PROCESS_START]: P.LAYOUT.PROCESS_START.size,
  [P.C.REC_PROCESS_STOP]: P.LAYOUT.PROCESS_STOP.size,
  [P.C.REC_THREAD_CREATE]: P.LAYOUT.THREAD_CREATE.size,
  [P.C.REC_IMAGE_LOAD]: P.LAYOUT.IMAGE_LOAD.size,
  [P.C.REC_HANDLE_ACCESS]: P.LAYOUT.HANDLE_ACCESS.size,
  [P.C.REC_CANARY]: P.LAYOUT.CANARY.size,
  [P.C.REC_LOSS]: P.LAYOUT.LOSS.size,
};

/** One record at `at`; throws RecordDecodeError on a malformed one. */
export function decodeRecord(v: DataView, at: number): DriverRecord {
  const header = P.decodeRECORD_HEADER(v, at);
  const fixed = FIXED[header.type];
  if (fixed === undefined) throw new RecordDecodeError(`unknown record type ${header.type}`);
  if (header.size < fixed || at + header.size > v.byteLength) throw new RecordDecodeError(`record type ${header.type} of ${header.size} bytes (fixed part ${fixed}, ${v.byteLength - at} left)`);
  switch (header.type) {
    case P.C.REC_PROCESS_START: {
      const rec = P.decodePROCESS_START(v, at);
      return { kind: 'process_start', header, rec, image: str(v, at, header.size, rec.image), cmdline: str(v, at, header.size, rec.cmdline) };
    }
    case P.C.REC_PROCESS_STOP:
      return { kind: 'process_stop', header, rec: P.decodePROCESS_STOP(v, at) };
    case P.C.REC_THREAD_CREATE:
      return { kind: 'thread_create', header, rec: P.decodeTHREAD_CREATE(v, at) };
    case P.C.REC_IMAGE_LOAD: {
      const rec = P.decodeIMAGE_LOAD(v, at);
      return { kind: 'image_load', header, rec, image: str(v, at, header.size, rec.image) };
    }
    case P.C.REC_HANDLE_ACCESS: {
      const rec = P.decodeHANDLE_ACCESS(v, at);
      return { kind: 'handle_access', header, rec, callerImage: str(v, at, header.size, rec.caller_image), targetImage: str(v, at, header.size, rec.target_image) };
    }
    case P.C.REC_CANARY:
      return { kind: 'canary', header, rec: P.decodeCANARY(v, at) };
    default:
      return { kind: 'loss', header, rec: P.decodeLOSS(v, at) };
  }
}

/** Every record of a read buffer of `length` bytes. */
export function decodeRecords(v: DataView, length: number): DriverRecord[] {
  const out: DriverRecord[] = [];
  let at = 0;
  while (at + P.LAYOUT.RECORD_HEADER.size <= length) {
    const r = decodeRecord(new DataView(v.buffer, v.byteOffset, length), at);
    out.push(r);
    at += (r.header.size + P.C.RECORD_ALIGN - 1) & ~(P.C.RECORD_ALIGN - 1);
  }
  return out;
}

/** Builders for synthetic records (the test build's injection and tests): fixed part + strings. */
export function buildRecord(type: number, fixedSize: number, fill: (v: DataView) => void, strings: { field: number; value: string }[] = []): Uint8Array {
  const bytes = fixedSize + strings.reduce((n, s) => n + s.value.length * 2, 0);
  const size = (bytes + P.C.RECORD_ALIGN - 1) & ~(P.C.RECORD_ALIGN - 1);
  if (size > P.C.MAX_RECORD) throw new RangeError(`record of ${size} bytes exceeds MAX_RECORD`);
  const buf = new Uint8Array(size);
  const v = new DataView(buf.buffer);
  fill(v);
  let at = fixedSize;
  for (const s of strings) {
    v.setUint16(s.field, at, true);
    v.setUint16(s.field + 2, s.value.length * 2, true);
    for (let i = 0; i < s.value.length; i++) v.setUint16(at + i * 2, s.value.charCodeAt(i), true);
    at += s.value.length * 2;
  }
  P.encodeRECORD_HEADER(v, 0, { size, type, flags: 0, seq: 0n, time: 0n });
  return buf;
}

export function processStartRecord(r: Omit<P.PROCESS_START, 'header' | 'image' | 'cmdline'>, image: string, cmdline: string, time = 0n): Uint8Array {
  const L = P.LAYOUT.PROCESS_START;
  const b = buildRecord(P.C.REC_PROCESS_START, L.size, (v) => P.encodePROCESS_START(v, 0, { ...P.ZERO_PROCESS_START(), ...r }), [
    { field: L.offsets.image, value: image },
    { field: L.offsets.cmdline, value: cmdline },
  ]);
  new DataView(b.buffer).setBigUint64(P.LAYOUT.RECORD_HEADER.offsets.time, time, true);
  return b;
}

export function handleAccessRecord(r: Omit<P.HANDLE_ACCESS, 'header' | 'caller_image' | 'target_image'>, callerImage: string, targetImage: string, time = 0n): Uint8Array {
  const L = P.LAYOUT.HANDLE_ACCESS;
  const b = buildRecord(P.C.REC_HANDLE_ACCESS, L.size, (v) => P.encodeHANDLE_ACCESS(v, 0, { ...P.ZERO_HANDLE_ACCESS(), ...r }), [
    { field: L.offsets.caller_image, value: callerImage },
    { field: L.offsets.target_image, value: targetImage },
  ]);
  new DataView(b.buffer).setBigUint64(P.LAYOUT.RECORD_HEADER.offsets.time, time, true);
  return b;
}

export function threadCreateRecord(r: Omit<P.THREAD_CREATE, 'header'>, time = 0n): Uint8Array {
  const b = buildRecord(P.C.REC_THREAD_CREATE, P.LAYOUT.THREAD_CREATE.size, (v) => P.encodeTHREAD_CREATE(v, 0, { ...P.ZERO_THREAD_CREATE(), ...r }));
  const v = new DataView(b.buffer);
  v.setUint16(P.LAYOUT.RECORD_HEADER.offsets.flags, P.C.RF_REMOTE, true);
  v.setBigUint64(P.LAYOUT.RECORD_HEADER.offsets.time, time, true);
  return b;
}

export function canaryRecord(kind: number, nonce: bigint): Uint8Array {
  return buildRecord(P.C.REC_CANARY, P.LAYOUT.CANARY.size, (v) => P.encodeCANARY(v, 0, { ...P.ZERO_CANARY(), kind, nonce }));
}

export function concatRecords(recs: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(recs.reduce((n, r) => n + r.length, 0));
  let at = 0;
  for (const r of recs) {
    out.set(r, at);
    at += r.length;
  }
  return out;
}

/**
 * Puts records back in the driver's order. Several reads are pending at once and their
 * completions may be seen out of order; every record the driver delivers has the next
 * sequence number (drops happen before numbering and are reported by a LOSS record), so a gap
 * means a record still in another read. Records are held until the gap fills, or until
 * `flush()` (the caller's guard against a read that never comes back) gives them up in order.
 */
export class SeqReorder {
  private next: bigint | undefined;
  private readonly held = new Map<bigint, DriverRecord>();
  /** Records that arrived after their successors had been flushed. */
  late = 0;

  constructor(private readonly max = 4096) {}

  get holding(): number {
    return this.held.size;
  }

  push(recs: readonly DriverRecord[]): DriverRecord[] {
    const out: DriverRecord[] = [];
    for (const r of recs) {
      const seq = r.header.seq;
      // LOSS records are not numbered: they report records that never got a number.
      if (seq === 0n) {
        out.push(r);
        continue;
      }
      if (this.next === undefined) this.next = seq;
      if (seq < this.next) {
        this.late++;
        out.push(r);
      } else this.held.set(seq, r);
    }
    this.drain(out);
    if (this.held.size > this.max) out.push(...this.flush());
    return out;
  }

  /** Everything held, in order; the next expected number moves past it. */
  flush(): DriverRecord[] {
    const out = [...this.held.values()].sort((a, b) => (a.header.seq < b.header.seq ? -1 : 1));
    this.held.clear();
    const last = out.at(-1);
    if (last) this.next = last.header.seq + 1n;
    return out;
  }

  private drain(out: DriverRecord[]): void {
    for (;;) {
      const r = this.next === undefined ? undefined : this.held.get(this.next);
      if (!r) return;
      this.held.delete(r.header.seq);
      out.push(r);
      this.next = r.header.seq + 1n;
    }
  }
}
