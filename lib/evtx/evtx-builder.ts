/**
 * A small EVTX writer for tests: builds well-formed files (correct sizes and CRC-32s)
 * holding records with chosen EventData values of any substitution type, so that value
 * types absent from real corpora can be checked against the reference tool, and damage can
 * be applied to a known-good file.
 */
import { crc32 } from './crc32.js';

export interface BuiltValue {
  name: string;
  type: number;
  bytes: Uint8Array;
  /** Use an optional substitution (0x0e) instead of a normal one. */
  optional?: boolean;
}

export interface BuiltRecord {
  id: number;
  eventId: number;
  computer?: string;
  /** ms since the Unix epoch */
  time?: number;
  values: BuiltValue[];
}

class Writer {
  readonly bytes: number[] = [];
  constructor(private readonly base: number) {}
  get pos(): number {
    return this.base + this.bytes.length;
  }
  get len(): number {
    return this.bytes.length;
  }
  u8(v: number): void {
    this.bytes.push(v & 0xff);
  }
  u16(v: number): void {
    this.u8(v);
    this.u8(v >>> 8);
  }
  u32(v: number): void {
    this.u16(v & 0xffff);
    this.u16(v >>> 16);
  }
  u64(v: bigint): void {
    this.u32(Number(v & 0xffffffffn));
    this.u32(Number(v >> 32n));
  }
  raw(b: Uint8Array): void {
    for (const x of b) this.bytes.push(x);
  }
  utf16(s: string): void {
    for (let i = 0; i < s.length; i++) this.u16(s.charCodeAt(i));
  }
  patch32(at: number, v: number): void {
    this.bytes[at] = v & 0xff;
    this.bytes[at + 1] = (v >>> 8) & 0xff;
    this.bytes[at + 2] = (v >>> 16) & 0xff;
    this.bytes[at + 3] = (v >>> 24) & 0xff;
  }
}

type Content = { text: string } | { subst: number; type: number; optional?: boolean } | Elem;
interface Elem {
  name: string;
  attrs?: [string, Content][];
  children?: Content[];
}

function writeName(w: Writer, s: string): void {
  w.u32(w.pos + 4); // inline: the name follows this offset field
  w.u32(0);
  let hash = 0;
  for (let i = 0; i < s.length; i++) hash = (hash * 65599 + s.charCodeAt(i)) >>> 0;
  w.u16(hash & 0xffff);
  w.u16(s.length);
  w.utf16(s);
  w.u16(0);
}

function writeContent(w: Writer, c: Content): void {
  if ('text' in c) {
    w.u8(0x05);
    w.u8(0x01);
    w.u16(c.text.length);
    w.utf16(c.text);
  } else if ('subst' in c) {
    w.u8(c.optional ? 0x0e : 0x0d);
    w.u16(c.subst);
    w.u8(c.type);
  } else writeElem(w, c);
}

function writeElem(w: Writer, e: Elem): void {
  const attrs = e.attrs ?? [];
  w.u8(attrs.length > 0 ? 0x41 : 0x01);
  w.u16(0xffff);
  const sizeAt = w.len;
  w.u32(0);
  writeName(w, e.name);
  if (attrs.length > 0) {
    const listAt = w.len;
    w.u32(0);
    attrs.forEach(([n, v], i) => {
      w.u8(i < attrs.length - 1 ? 0x46 : 0x06);
      writeName(w, n);
      writeContent(w, v);
    });
    w.patch32(listAt, w.len - listAt - 4);
  }
  const children = e.children ?? [];
  if (children.length === 0) w.u8(0x03);
  else {
    w.u8(0x02);
    for (const c of children) writeContent(w, c);
    w.u8(0x04);
  }
  w.patch32(sizeAt, w.len - sizeAt - 4);
}

const FILETIME_EPOCH_DIFF = 11644473600000n;

export function fileTimeBytes(ms: number): Uint8Array {
  const ticks = (BigInt(Math.round(ms)) + FILETIME_EPOCH_DIFF) * 10000n;
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, ticks, true);
  return b;
}

function recordBytes(r: BuiltRecord, chunkOffset: number): Uint8Array {
  const w = new Writer(chunkOffset);
  w.u32(0x00002a2a);
  const sizeAt = w.len;
  w.u32(0);
  w.u64(BigInt(r.id));
  w.raw(fileTimeBytes(r.time ?? Date.UTC(2024, 0, 2, 3, 4, 5, 678)));
  // BinXml: fragment header, template instance with an inline definition, EOF.
  w.u8(0x0f);
  w.u8(1);
  w.u8(1);
  w.u8(0);
  w.u8(0x0c);
  w.u8(0x01);
  w.u32(r.id);
  w.u32(w.pos + 4);
  w.u32(0); // next template
  for (let i = 0; i < 16; i++) w.u8(i === 0 ? r.id & 0xff : i);
  const defSizeAt = w.len;
  w.u32(0);
  const defStart = w.len;
  w.u8(0x0f);
  w.u8(1);
  w.u8(1);
  w.u8(0);
  const fixed: BuiltValue[] = [
    { name: '', type: 0x06, bytes: u16le(r.eventId) },
    { name: '', type: 0x0a, bytes: u64le(BigInt(r.id)) },
    { name: '', type: 0x01, bytes: utf16le(r.computer ?? 'HOST') },
    { name: '', type: 0x11, bytes: fileTimeBytes(r.time ?? Date.UTC(2024, 0, 2, 3, 4, 5, 678)) },
  ];
  const all = [...fixed, ...r.values];
  writeElem(w, {
    name: 'Event',
    attrs: [['xmlns', { text: 'http://schemas.microsoft.com/win/2004/08/events/event' }]],
    children: [
      {
        name: 'System',
        children: [
          { name: 'Provider', attrs: [['Name', { text: 'Vigil-Test' }]] },
          { name: 'EventID', children: [{ subst: 0, type: 0x06 }] },
          { name: 'TimeCreated', attrs: [['SystemTime', { subst: 3, type: 0x11 }]] },
          { name: 'EventRecordID', children: [{ subst: 1, type: 0x0a }] },
          { name: 'Channel', children: [{ text: 'Vigil' }] },
          { name: 'Computer', children: [{ subst: 2, type: 0x01 }] },
        ],
      },
      {
        name: 'EventData',
        children: r.values.map((v, i) => {
          const el: Elem = { name: 'Data', children: [{ subst: fixed.length + i, type: v.type, optional: v.optional === true }] };
          if (v.name !== '') el.attrs = [['Name', { text: v.name }]];
          return el;
        }),
      },
    ],
  });
  w.u8(0x00);
  w.patch32(defSizeAt, w.len - defStart);
  w.u32(all.length);
  for (const v of all) {
    w.u16(v.bytes.length);
    w.u8(v.type);
    w.u8(0);
  }
  for (const v of all) w.raw(v.bytes);
  w.u8(0x00); // EOF of the record fragment
  while ((w.len + 4) % 8 !== 0) w.u8(0);
  w.u32(0);
  w.patch32(sizeAt, w.len);
  w.patch32(w.len - 4, w.len);
  return Uint8Array.from(w.bytes);
}

/** Build an EVTX file; records are packed into as many 64 KiB chunks as needed. */
export function buildEvtx(records: BuiltRecord[], opts: { dirty?: boolean; declaredChunks?: number } = {}): Uint8Array {
  const chunks: Uint8Array[] = [];
  let i = 0;
  while (i < records.length || chunks.length === 0) {
    const chunk = new Uint8Array(0x10000);
    const dv = new DataView(chunk.buffer);
    let off = 512;
    let last = 512;
    const first = i;
    while (i < records.length) {
      const rb = recordBytes(records[i] as BuiltRecord, off);
      if (off + rb.length > 0x10000) break;
      chunk.set(rb, off);
      last = off;
      off += rb.length;
      i++;
    }
    if (i === first && i < records.length) throw new Error('record too large for a chunk');
    chunk.set([0x45, 0x6c, 0x66, 0x43, 0x68, 0x6e, 0x6b, 0x00], 0);
    const firstId = BigInt(records[first]?.id ?? 0);
    const lastId = BigInt(records[i - 1]?.id ?? 0);
    dv.setBigUint64(8, firstId, true);
    dv.setBigUint64(16, lastId, true);
    dv.setBigUint64(24, firstId, true);
    dv.setBigUint64(32, lastId, true);
    dv.setUint32(40, 128, true);
    dv.setUint32(44, last, true);
    dv.setUint32(48, off, true);
    dv.setUint32(52, crc32(chunk, 512, off), true);
    dv.setUint32(124, crc32(chunk, 128, 512, crc32(chunk, 0, 120)), true);
    chunks.push(chunk);
  }
  const head = new Uint8Array(4096);
  const hv = new DataView(head.buffer);
  head.set([0x45, 0x6c, 0x66, 0x46, 0x69, 0x6c, 0x65, 0x00], 0);
  hv.setBigUint64(8, 0n, true);
  hv.setBigUint64(16, BigInt(chunks.length - 1), true);
  hv.setBigUint64(24, BigInt((records[records.length - 1]?.id ?? 0) + 1), true);
  hv.setUint32(32, 128, true);
  hv.setUint16(36, 1, true);
  hv.setUint16(38, 3, true);
  hv.setUint16(40, 4096, true);
  hv.setUint16(42, opts.declaredChunks ?? chunks.length, true);
  hv.setUint32(120, opts.dirty ? 1 : 0, true);
  hv.setUint32(124, crc32(head, 0, 120), true);
  const out = new Uint8Array(4096 + chunks.length * 0x10000);
  out.set(head, 0);
  chunks.forEach((c, k) => out.set(c, 4096 + k * 0x10000));
  return out;
}

export function u16le(v: number): Uint8Array {
  return Uint8Array.of(v & 0xff, (v >>> 8) & 0xff);
}
export function u32le(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, true);
  return b;
}
export function u64le(v: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, v), true);
  return b;
}
export function utf16le(s: string): Uint8Array {
  const b = new Uint8Array(s.length * 2);
  for (let i = 0; i < s.length; i++) {
    b[i * 2] = s.charCodeAt(i) & 0xff;
    b[i * 2 + 1] = s.charCodeAt(i) >>> 8;
  }
  return b;
}
export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
