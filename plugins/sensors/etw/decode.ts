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
  readonly properties: readonly PropertySchema[];
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
  const schema: EventSchema = { properties, taskName: infoString(info, info.getUint32(I.TaskNameOffset, true)) };
  return unsupported === undefined ? schema : { ...schema, unsupported };
}

class Short extends Error {}

/**
 * Read the UserData along the schema. Returns the fields and, when reading stopped early (a
 * struct, an unknown type, data shorter than the schema), why; the fields read so far are kept.
 */
export function decodeUserData(schema: EventSchema, data: DataView, pointerSize: 4 | 8): { fields: Record<string, FieldValue>; undecoded?: string } {
  const fields: Record<string, FieldValue> = {};
  const values: FieldValue[] = [];
  let off = 0;
  const need = (n: number): void => {
    if (off + n > data.byteLength) throw new Short(`UserData ends at ${data.byteLength} bytes, ${n} more needed`);
  };
  const one = (p: PropertySchema, length: number): string | number | boolean | null => {
    switch (p.inType) {
      case InType.UnicodeString: {
        if ((p.flags & (PropertyFlags.ParamLength | PropertyFlags.ParamFixedLength)) !== 0 || length > 0) {
          need(length * 2);
          const s = utf16(data, off, off + length * 2);
          off += length * 2;
          return s;
        }
        let end = off;
        while (end + 1 < data.byteLength && data.getUint16(end, true) !== 0) end += 2;
        if (end + 1 >= data.byteLength) throw new Short('unterminated UTF-16 string');
        const s = utf16(data, off, end);
        off = end + 2;
        return s;
      }
      case InType.AnsiString: {
        let end = off;
        if (length > 0) end = off + length;
        else {
          while (end < data.byteLength && data.getUint8(end) !== 0) end++;
          if (end >= data.byteLength) throw new Short('unterminated ANSI string');
        }
        need(end - off);
        const s = decoder8.decode(new Uint8Array(data.buffer, data.byteOffset + off, end - off));
        off = length > 0 ? end : end + 1;
        return s;
      }
      case InType.Int8:
        need(1);
        return data.getInt8(off++);
      case InType.UInt8:
        need(1);
        return data.getUint8(off++);
      case InType.Int16:
        need(2);
        off += 2;
        return data.getInt16(off - 2, true);
      case InType.UInt16: {
        need(2);
        off += 2;
        // A port is in network byte order.
        return p.outType === OutType.Port ? data.getUint16(off - 2, false) : data.getUint16(off - 2, true);
      }
      case InType.Int32:
        need(4);
        off += 4;
        return data.getInt32(off - 4, true);
      case InType.UInt32:
      case InType.HexInt32: {
        need(4);
        off += 4;
        if (p.outType === OutType.IPv4) return `${data.getUint8(off - 4)}.${data.getUint8(off - 3)}.${data.getUint8(off - 2)}.${data.getUint8(off - 1)}`;
        return data.getUint32(off - 4, true);
      }
      case InType.Boolean:
        need(4);
        off += 4;
        return data.getUint32(off - 4, true) !== 0;
      case InType.Int64:
      case InType.UInt64:
      case InType.HexInt64: {
        need(8);
        off += 8;
        const v = p.inType === InType.Int64 ? data.getBigInt64(off - 8, true) : data.getBigUint64(off - 8, true);
        return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v.toString();
      }
      case InType.Float:
        need(4);
        off += 4;
        return data.getFloat32(off - 4, true);
      case InType.Double:
        need(8);
        off += 8;
        return data.getFloat64(off - 8, true);
      case InType.Pointer:
      case InType.SizeT: {
        need(pointerSize);
        off += pointerSize;
        const v = pointerSize === 8 ? data.getBigUint64(off - 8, true) : BigInt(data.getUint32(off - 4, true));
        return `0x${v.toString(16)}`;
      }
      case InType.FileTime: {
        need(8);
        off += 8;
        return filetimeMs(data.getUint32(off - 8, true), data.getUint32(off - 4, true));
      }
      case InType.Guid: {
        need(16);
        off += 16;
        return guidText(data, off - 16);
      }
      case InType.SystemTime: {
        need(16);
        const g = (i: number) => data.getUint16(off + i * 2, true);
        const ms = Date.UTC(g(0), g(1) - 1, g(3), g(4), g(5), g(6), g(7));
        off += 16;
        return ms;
      }
      case InType.Sid: {
        need(8);
        const subs = data.getUint8(off + 1);
        need(8 + subs * 4);
        let auth = 0;
        for (let i = 2; i < 8; i++) auth = auth * 256 + data.getUint8(off + i);
        let s = `S-${data.getUint8(off)}-${auth}`;
        for (let i = 0; i < subs; i++) s += `-${data.getUint32(off + 8 + i * 4, true)}`;
        off += 8 + subs * 4;
        return s;
      }
      case InType.Binary: {
        need(length);
        const bytes = new Uint8Array(data.buffer, data.byteOffset + off, length);
        off += length;
        if (p.outType === OutType.IPv6 && length === 16) {
          const parts: string[] = [];
          for (let i = 0; i < 16; i += 2) parts.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
          return parts.join(':');
        }
        return Buffer.from(bytes).toString('hex');
      }
      default:
        throw new Short(`property ${p.name} has TDH in-type ${p.inType}, which this decoder does not read`);
    }
  };
  const numberAt = (i: number): number => {
    const v = values[i];
    return typeof v === 'number' ? v : 0;
  };
  try {
    for (let i = 0; i < schema.properties.length; i++) {
      const p = schema.properties[i]!;
      if ((p.flags & PropertyFlags.Struct) !== 0) return { fields, undecoded: `property ${p.name} is a struct` };
      const length = (p.flags & PropertyFlags.ParamLength) !== 0 ? numberAt(p.length) : p.length;
      const counted = (p.flags & PropertyFlags.ParamCount) !== 0;
      const count = counted ? numberAt(p.count) : p.count;
      let v: FieldValue;
      if (counted || count > 1) {
        const arr: (string | number | boolean | null)[] = [];
        for (let k = 0; k < count; k++) arr.push(one(p, length));
        v = arr;
      } else {
        v = one(p, length);
      }
      values.push(v);
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
    provider: guidText(rec, H.ProviderId),
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
