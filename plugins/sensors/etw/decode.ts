/**
 * EVENT_RECORD decoding with DataView reads (no koffi): the header fields, a TRACE_EVENT_INFO
 * (TdhGetEventInformation's answer) turned into a compact schema once per (provider, event
 * id, version), and the UserData read sequentially along that schema. Runs on the trace
 * thread inside ProcessTrace's callback; pure, so the benchmark runs it on recorded buffers.
 */
import { LAYOUTS, EVENT_HEADER_FLAG_32_BIT_HEADER, guidText } from '../../../driver/ffi/windows/etw.js';

const H = LAYOUTS.EVENT_HEADER.offsets;
const I = LAYOUTS.TRACE_EVENT_INFO.offsets;
const PROPERTY_SIZE = LAYOUTS.EVENT_PROPERTY_INFO.size;

/** TDH_INTYPE_* values this decoder reads. */
export const InType = {
  UnicodeString: 1,
  AnsiString: 2,
  Int8: 3,
  UInt8: 4,
  Int16: 5,
  UInt16: 6,
  Int32: 7,
  UInt32: 8,
  Int64: 9,
  UInt64: 10,
  Float: 11,
  Double: 12,
  Boolean: 13,
  Binary: 14,
  Guid: 15,
  Pointer: 16,
  FileTime: 17,
  SystemTime: 18,
  Sid: 19,
  HexInt32: 20,
  HexInt64: 21,
  SizeT: 308,
} as const;

/** TDH_OUTTYPE_* values that change how a value reads. */
export const OutType = { Port: 22, IPv4: 23, IPv6: 24 } as const;

/** PROPERTY_FLAGS. */
export const PropertyFlags = { Struct: 0x1, ParamLength: 0x2, ParamCount: 0x4, ParamFixedLength: 0x10, ParamFixedCount: 0x20 } as const;

export interface PropertySchema {
  readonly name: string;
  readonly inType: number;
  readonly outType: number;
  readonly flags: number;
  /** Fixed length (bytes; WCHARs for strings), or the index of the property holding it (ParamLength). */
  readonly length: number;
  /** Fixed count, or the index of the property holding it (ParamCount). */
  readonly count: number;
}

export interface EventSchema {
  /** The provider GUID, canonical upper-case text. */
  readonly provider: string;
  readonly properties: readonly PropertySchema[];
  /** Some property's length or count is given by an earlier property. */
  readonly indirect: boolean;
  readonly taskName: string;
  /** Why the UserData cannot be read along this schema (a struct property, an unknown type). */
  readonly unsupported?: string;
}

export type FieldValue = string | number | boolean | null | readonly (string | number | boolean | null)[];

export interface RecordHeader {
  readonly flags: number;
  readonly threadId: number;
  readonly processId: number;
  /** FILETIME ticks (100 ns since 1601). */
  readonly timeStamp: bigint;
  readonly provider: string;
  readonly id: number;
  readonly version: number;
  readonly level: number;
  readonly opcode: number;
  readonly task: number;
  readonly keywords: bigint;
}

/** One decoded event as the trace thread posts it. */
export interface DecodedEvent {
  readonly provider: string;
  readonly id: number;
  readonly version: number;
  readonly opcode: number;
  readonly pid: number;
  readonly tid: number;
  /** ms since the Unix epoch. */
  readonly time: number;
  readonly task: string;
  readonly fields: Record<string, FieldValue>;
  /** Set when the UserData could not be read along the schema (the fields read so far are kept). */
  readonly undecoded?: string;
}

/** FILETIME ticks (100 ns since 1601-01-01) at the Unix epoch. */
const EPOCH_FILETIME = 116444736000000000;

/** FILETIME ticks (as two 32-bit halves) → ms since the Unix epoch (fractions kept). */
export function filetimeMs(low: number, high: number): number {
  return (high * 4294967296 + low - EPOCH_FILETIME) / 10000;
}

/**
 * Schemas by (provider, event id, version) of a record header, looked up with integer reads
 * only (no key string per event), bounded: `set` refuses past `max`.
 */
export class SchemaCache<T> {
  private readonly byData1 = new Map<number, { w1: number; w2: number; w3: number; idVersion: number; value: T }[]>();
  size = 0;

  constructor(readonly max: number) {}

  get(rec: DataView): T | undefined {
    const list = this.byData1.get(rec.getUint32(H.ProviderId, true));
    if (list === undefined) return undefined;
    const idVersion = rec.getUint32(H.EventDescriptor, true) & 0xffffff;
    const w1 = rec.getUint32(H.ProviderId + 4, true);
    const w2 = rec.getUint32(H.ProviderId + 8, true);
    const w3 = rec.getUint32(H.ProviderId + 12, true);
    for (const e of list) if (e.idVersion === idVersion && e.w1 === w1 && e.w2 === w2 && e.w3 === w3) return e.value;
    return undefined;
  }

  /** False (nothing kept) when the cache is full. */
  set(rec: DataView, value: T): boolean {
    if (this.size >= this.max) return false;
    const d1 = rec.getUint32(H.ProviderId, true);
    let list = this.byData1.get(d1);
    if (list === undefined) this.byData1.set(d1, (list = []));
    list.push({
      w1: rec.getUint32(H.ProviderId + 4, true),
      w2: rec.getUint32(H.ProviderId + 8, true),
      w3: rec.getUint32(H.ProviderId + 12, true),
      idVersion: rec.getUint32(H.EventDescriptor, true) & 0xffffff,
      value,
    });
    this.size++;
    return true;
  }
}

/** The schema cache key of a record header: provider, event id, version. */
export function schemaKey(rec: DataView): string {
  return `${guidText(rec, H.ProviderId)}/${rec.getUint16(H.EventDescriptor, true)}/${rec.getUint8(H.EventDescriptor + 2)}`;
}

export function readHeader(rec: DataView): RecordHeader {
  const d = H.EventDescriptor;
  return {
    flags: rec.getUint16(H.Flags, true),
    threadId: rec.getUint32(H.ThreadId, true),
    processId: rec.getUint32(H.ProcessId, true),
    timeStamp: rec.getBigUint64(H.TimeStamp, true),
    provider: guidText(rec, H.ProviderId),
    id: rec.getUint16(d, true),
    version: rec.getUint8(d + 2),
    level: rec.getUint8(d + 4),
    opcode: rec.getUint8(d + 5),
    task: rec.getUint16(d + 6, true),
    keywords: rec.getBigUint64(d + 8, true),
  };
}

/** A NUL-terminated UTF-16 string at `offset` of a TRACE_EVENT_INFO (offset 0: none). */
function infoString(v: DataView, offset: number): string {
  if (offset === 0 || offset >= v.byteLength) return '';
  let end = offset;
  while (end + 1 < v.byteLength && v.getUint16(end, true) !== 0) end += 2;
  return utf16(v, offset, end);
}

const decoder16 = new TextDecoder('utf-16le');
const decoder8 = new TextDecoder('latin1');

function utf16(v: DataView, start: number, end: number): string {
  return decoder16.decode(new Uint8Array(v.buffer, v.byteOffset + start, end - start));
}

/** TRACE_EVENT_INFO bytes → the top-level properties the decoder reads. */
export function parseEventInfo(info: DataView): EventSchema {
  const top = info.getUint32(I.TopLevelPropertyCount, true);
  const total = info.getUint32(I.PropertyCount, true);
  if (I.EventPropertyInfoArray + total * PROPERTY_SIZE > info.byteLength) throw new Error(`TRACE_EVENT_INFO of ${info.byteLength} bytes is too short for ${total} properties`);
  const properties: PropertySchema[] = [];
  let unsupported: string | undefined;
  for (let i = 0; i < top; i++) {
    const o = I.EventPropertyInfoArray + i * PROPERTY_SIZE;
    const flags = info.getUint32(o, true);
    const name = infoString(info, info.getUint32(o + 4, true));
    const p: PropertySchema = {
      name,
      flags,
      inType: info.getUint16(o + 8, true),
      outType: info.getUint16(o + 10, true),
      count: info.getUint16(o + 16, true),
      length: info.getUint16(o + 18, true),
    };
    properties.push(p);
    if ((flags & PropertyFlags.Struct) !== 0) unsupported ??= `property ${name} is a struct`;
  }
  const indirect = properties.some((p) => (p.flags & (PropertyFlags.ParamLength | PropertyFlags.ParamCount)) !== 0);
  const schema: EventSchema = { provider: guidText(info, 0), properties, indirect, taskName: infoString(info, info.getUint32(I.TaskNameOffset, true)) };
  return unsupported === undefined ? schema : { ...schema, unsupported };
}

class Short extends Error {}

/** 16 bytes → RFC 5952 text (lower case, the longest run of two or more zero groups as `::`). */
export function ipv6Text(bytes: Uint8Array): string {
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push((bytes[i]! << 8) | bytes[i + 1]!);
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (a: number[]) => a.map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(g);
  return `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

// The reader's cursor: module state rather than closures, so decoding a record allocates
// nothing but its values (this runs once per event inside ProcessTrace's callback).
let dv: DataView = new DataView(new ArrayBuffer(0));
let off = 0;
let ptrSize: 4 | 8 = 8;

function need(n: number): void {
  if (off + n > dv.byteLength) throw new Short(`UserData ends at ${dv.byteLength} bytes, ${n} more needed`);
}

/** Short strings are built directly (cheaper than a TextDecoder call); long ones decoded. */
function readUtf16(start: number, end: number): string {
  if (end - start > 96) return decoder16.decode(new Uint8Array(dv.buffer, dv.byteOffset + start, end - start));
  let s = '';
  for (let i = start; i < end; i += 2) s += String.fromCharCode(dv.getUint16(i, true));
  return s;
}

function readValue(p: PropertySchema, length: number): string | number | boolean | null {
  switch (p.inType) {
    case InType.UnicodeString: {
      if ((p.flags & (PropertyFlags.ParamLength | PropertyFlags.ParamFixedLength)) !== 0 || length > 0) {
        need(length * 2);
        const str = readUtf16(off, off + length * 2);
        off += length * 2;
        return str;
      }
      const limit = dv.byteLength - 1;
      let end = off;
      while (end < limit && dv.getUint16(end, true) !== 0) end += 2;
      if (end >= limit) throw new Short('unterminated UTF-16 string');
      const str = readUtf16(off, end);
      off = end + 2;
      return str;
    }
    case InType.AnsiString: {
      let end = off;
      if (length > 0) end = off + length;
      else {
        while (end < dv.byteLength && dv.getUint8(end) !== 0) end++;
        if (end >= dv.byteLength) throw new Short('unterminated ANSI string');
      }
      need(end - off);
      const str = decoder8.decode(new Uint8Array(dv.buffer, dv.byteOffset + off, end - off));
      off = length > 0 ? end : end + 1;
      return str;
    }
    case InType.Int8:
      need(1);
      return dv.getInt8(off++);
    case InType.UInt8:
      need(1);
      return dv.getUint8(off++);
    case InType.Int16:
      need(2);
      off += 2;
      return dv.getInt16(off - 2, true);
    case InType.UInt16:
      need(2);
      off += 2;
      // A port is in network byte order.
      return dv.getUint16(off - 2, p.outType !== OutType.Port);
    case InType.Int32:
      need(4);
      off += 4;
      return dv.getInt32(off - 4, true);
    case InType.UInt32:
    case InType.HexInt32:
      need(4);
      off += 4;
      if (p.outType === OutType.IPv4) return `${dv.getUint8(off - 4)}.${dv.getUint8(off - 3)}.${dv.getUint8(off - 2)}.${dv.getUint8(off - 1)}`;
      return dv.getUint32(off - 4, true);
    case InType.Boolean:
      need(4);
      off += 4;
      return dv.getUint32(off - 4, true) !== 0;
    case InType.Int64:
    case InType.UInt64:
    case InType.HexInt64: {
      need(8);
      off += 8;
      const lo = dv.getUint32(off - 8, true);
      const hi = dv.getUint32(off - 4, true);
      // Below 2^53 (and not negative) the number is exact without a BigInt.
      if (hi < 0x200000 && !(p.inType === InType.Int64 && hi >= 0x80000000)) return hi * 4294967296 + lo;
      const v = p.inType === InType.Int64 ? dv.getBigInt64(off - 8, true) : dv.getBigUint64(off - 8, true);
      return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
    }
    case InType.Float:
      need(4);
      off += 4;
      return dv.getFloat32(off - 4, true);
    case InType.Double:
      need(8);
      off += 8;
      return dv.getFloat64(off - 8, true);
    case InType.Pointer:
    case InType.SizeT: {
      need(ptrSize);
      off += ptrSize;
      if (ptrSize === 4) return `0x${dv.getUint32(off - 4, true).toString(16)}`;
      const hi = dv.getUint32(off - 4, true);
      const lo = dv.getUint32(off - 8, true).toString(16);
      return hi === 0 ? `0x${lo}` : `0x${hi.toString(16)}${lo.padStart(8, '0')}`;
    }
    case InType.FileTime:
      need(8);
      off += 8;
      return filetimeMs(dv.getUint32(off - 8, true), dv.getUint32(off - 4, true));
    case InType.Guid:
      need(16);
      off += 16;
      return guidText(dv, off - 16);
    case InType.SystemTime: {
      need(16);
      const g = (i: number) => dv.getUint16(off + i * 2, true);
      const ms = Date.UTC(g(0), g(1) - 1, g(3), g(4), g(5), g(6), g(7));
      off += 16;
      return ms;
    }
    case InType.Sid: {
      need(8);
      const subs = dv.getUint8(off + 1);
      need(8 + subs * 4);
      let auth = 0;
      for (let i = 2; i < 8; i++) auth = auth * 256 + dv.getUint8(off + i);
      let str = `S-${dv.getUint8(off)}-${auth}`;
      for (let i = 0; i < subs; i++) str += `-${dv.getUint32(off + 8 + i * 4, true)}`;
      off += 8 + subs * 4;
      return str;
    }
    case InType.Binary: {
      need(length);
      const bytes = new Uint8Array(dv.buffer, dv.byteOffset + off, length);
      off += length;
      if (p.outType === OutType.IPv6 && length === 16) return ipv6Text(bytes);
      return Buffer.from(bytes).toString('hex');
    }
    default:
      throw new Short(`property ${p.name} has TDH in-type ${p.inType}, which this decoder does not read`);
  }
}

/**
 * Read the UserData along the schema. Returns the fields and, when reading stopped early (a
 * struct, an unknown type, data shorter than the schema), why; the fields read so far are kept.
 */
export function decodeUserData(schema: EventSchema, data: DataView, pointerSize: 4 | 8): { fields: Record<string, FieldValue>; undecoded?: string } {
  const fields: Record<string, FieldValue> = {};
  const props = schema.properties;
  // Values by property index, for lengths and counts given by an earlier property.
  const values: FieldValue[] | undefined = schema.indirect ? [] : undefined;
  dv = data;
  off = 0;
  ptrSize = pointerSize;
  try {
    for (let i = 0; i < props.length; i++) {
      const p = props[i]!;
      if ((p.flags & PropertyFlags.Struct) !== 0) return { fields, undecoded: `property ${p.name} is a struct` };
      let v: FieldValue;
      if ((p.flags & (PropertyFlags.ParamLength | PropertyFlags.ParamCount)) === 0 && p.count <= 1) {
        v = readValue(p, p.length);
      } else {
        const at = (k: number): number => {
          const x = values?.[k];
          return typeof x === 'number' ? x : 0;
        };
        const length = (p.flags & PropertyFlags.ParamLength) !== 0 ? at(p.length) : p.length;
        const counted = (p.flags & PropertyFlags.ParamCount) !== 0;
        const count = counted ? at(p.count) : p.count;
        if (counted || count > 1) {
          const arr: (string | number | boolean | null)[] = [];
          for (let k = 0; k < count; k++) arr.push(readValue(p, length));
          v = arr;
        } else {
          v = readValue(p, length);
        }
      }
      if (values) values.push(v);
      fields[p.name] = v;
    }
  } catch (err) {
    if (err instanceof Short) return { fields, undecoded: err.message };
    throw err;
  }
  return { fields };
}

/** Header + UserData along a schema → the event the trace thread posts. */
export function decodeEvent(rec: DataView, userData: DataView, schema: EventSchema): DecodedEvent {
  const d = H.EventDescriptor;
  const flags = rec.getUint16(H.Flags, true);
  const { fields, undecoded } = decodeUserData(schema, userData, (flags & EVENT_HEADER_FLAG_32_BIT_HEADER) !== 0 ? 4 : 8);
  const ev: DecodedEvent = {
    provider: schema.provider,
    id: rec.getUint16(d, true),
    version: rec.getUint8(d + 2),
    opcode: rec.getUint8(d + 5),
    pid: rec.getUint32(H.ProcessId, true),
    tid: rec.getUint32(H.ThreadId, true),
    time: filetimeMs(rec.getUint32(H.TimeStamp, true), rec.getUint32(H.TimeStamp + 4, true)),
    task: schema.taskName,
    fields,
  };
  return undecoded === undefined ? ev : { ...ev, undecoded };
}
