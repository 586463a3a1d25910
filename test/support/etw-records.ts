/**
 * Recorded ETW events made from a description: the EVENT_HEADER, the UserData laid out as the
 * provider's manifest lays it out, and the TRACE_EVENT_INFO that TdhGetEventInformation
 * returns for it. Written into the file the Wine test double (scripts/wine/advapi32-etw.dll.c)
 * delivers, and used by the decoder tests and the benchmark on Linux.
 */
import { LAYOUTS, guidBytes } from '../../driver/ffi/windows/etw.js';
import { InType, OutType, PropertyFlags } from '../../plugins/sensors/etw/decode.js';

export type FieldType = 'u8' | 'u16' | 'u32' | 'i32' | 'u64' | 'hex64' | 'bool' | 'filetime' | 'wstring' | 'astring' | 'pointer' | 'guid' | 'ipv4' | 'port' | 'ipv6' | 'sid';

export interface FieldDesc {
  readonly name: string;
  readonly type: FieldType;
  /** Numbers (FILETIME: ms since the Unix epoch), text (strings, GUIDs, addresses, SIDs). */
  readonly value: number | bigint | string | boolean;
}

export interface RecordDesc {
  readonly provider: string;
  readonly id: number;
  readonly version?: number;
  readonly opcode?: number;
  readonly level?: number;
  readonly task?: string;
  /** Header: the process and thread that logged the event. */
  readonly pid: number;
  readonly tid: number;
  /** ms since the Unix epoch. */
  readonly time: number;
  readonly fields: readonly FieldDesc[];
}

export interface EncodedRecord {
  /** EVENT_HEADER, 80 bytes. */
  readonly header: Uint8Array;
  readonly userData: Uint8Array;
  /** TRACE_EVENT_INFO with its strings. */
  readonly schema: Uint8Array;
}

const EPOCH_FILETIME = 116444736000000000n;
export const msToFiletime = (ms: number): bigint => BigInt(Math.round(ms * 10000)) + EPOCH_FILETIME;

const TYPES: Record<FieldType, { inType: number; outType: number }> = {
  u8: { inType: InType.UInt8, outType: 0 },
  u16: { inType: InType.UInt16, outType: 0 },
  u32: { inType: InType.UInt32, outType: 0 },
  i32: { inType: InType.Int32, outType: 0 },
  u64: { inType: InType.UInt64, outType: 0 },
  hex64: { inType: InType.HexInt64, outType: 0 },
  bool: { inType: InType.Boolean, outType: 0 },
  filetime: { inType: InType.FileTime, outType: 0 },
  wstring: { inType: InType.UnicodeString, outType: 0 },
  astring: { inType: InType.AnsiString, outType: 0 },
  pointer: { inType: InType.Pointer, outType: 0 },
  guid: { inType: InType.Guid, outType: 0 },
  ipv4: { inType: InType.UInt32, outType: OutType.IPv4 },
  port: { inType: InType.UInt16, outType: OutType.Port },
  ipv6: { inType: InType.Binary, outType: OutType.IPv6 },
  sid: { inType: InType.Sid, outType: 0 },
};

function encodeValue(f: FieldDesc): Uint8Array {
  const b = (n: number) => new DataView(new ArrayBuffer(n));
  const v = f.value;
  switch (f.type) {
    case 'u8': {
      const d = b(1);
      d.setUint8(0, Number(v));
      return new Uint8Array(d.buffer);
    }
    case 'u16': {
      const d = b(2);
      d.setUint16(0, Number(v), true);
      return new Uint8Array(d.buffer);
    }
    case 'port': {
      const d = b(2);
      d.setUint16(0, Number(v), false);
      return new Uint8Array(d.buffer);
    }
    case 'u32':
    case 'bool': {
      const d = b(4);
      d.setUint32(0, typeof v === 'boolean' ? (v ? 1 : 0) : Number(v), true);
      return new Uint8Array(d.buffer);
    }
    case 'i32': {
      const d = b(4);
      d.setInt32(0, Number(v), true);
      return new Uint8Array(d.buffer);
    }
    case 'u64':
    case 'hex64':
    case 'pointer': {
      const d = b(8);
      d.setBigUint64(0, typeof v === 'string' ? BigInt(v) : BigInt(v as number | bigint), true);
      return new Uint8Array(d.buffer);
    }
    case 'filetime': {
      const d = b(8);
      d.setBigUint64(0, msToFiletime(Number(v)), true);
      return new Uint8Array(d.buffer);
    }
    case 'wstring':
      return new Uint8Array(Buffer.from(`${String(v)}\0`, 'utf16le'));
    case 'astring':
      return new Uint8Array(Buffer.from(`${String(v)}\0`, 'latin1'));
    case 'guid':
      return guidBytes(String(v));
    case 'ipv4':
      return Uint8Array.from(String(v).split('.').map(Number));
    case 'ipv6': {
      const parts = String(v).split(':');
      const out = new Uint8Array(16);
      parts.forEach((p, i) => {
        const n = parseInt(p || '0', 16);
        out[i * 2] = n >> 8;
        out[i * 2 + 1] = n & 0xff;
      });
      return out;
    }
    case 'sid': {
      const [, rev, auth, ...subs] = String(v).split('-');
      const out = new DataView(new ArrayBuffer(8 + subs.length * 4));
      out.setUint8(0, Number(rev));
      out.setUint8(1, subs.length);
      let a = Number(auth);
      for (let i = 7; i >= 2; i--) {
        out.setUint8(i, a % 256);
        a = Math.floor(a / 256);
      }
      subs.forEach((s, i) => out.setUint32(8 + i * 4, Number(s), true));
      return new Uint8Array(out.buffer);
    }
  }
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function encodeRecord(desc: RecordDesc): EncodedRecord {
  const H = LAYOUTS.EVENT_HEADER.offsets;
  const header = new Uint8Array(LAYOUTS.EVENT_HEADER.size);
  const h = new DataView(header.buffer);
  h.setUint16(0, LAYOUTS.EVENT_HEADER.size, true);
  h.setUint16(H.Flags, 0x40, true); // EVENT_HEADER_FLAG_64_BIT_HEADER
  h.setUint32(H.ThreadId, desc.tid, true);
  h.setUint32(H.ProcessId, desc.pid, true);
  h.setBigUint64(H.TimeStamp, msToFiletime(desc.time), true);
  header.set(guidBytes(desc.provider), H.ProviderId);
  const d = H.EventDescriptor;
  h.setUint16(d, desc.id, true);
  h.setUint8(d + 2, desc.version ?? 0);
  h.setUint8(d + 4, desc.level ?? 4);
  h.setUint8(d + 5, desc.opcode ?? 0);
  const userData = concat(desc.fields.map(encodeValue));

  const I = LAYOUTS.TRACE_EVENT_INFO.offsets;
  const n = desc.fields.length;
  const fixed = I.EventPropertyInfoArray + Math.max(1, n) * LAYOUTS.EVENT_PROPERTY_INFO.size;
  const strings: Uint8Array[] = [];
  let at = fixed;
  const place = (s: string): number => {
    const bytes = new Uint8Array(Buffer.from(`${s}\0`, 'utf16le'));
    strings.push(bytes);
    const off = at;
    at += bytes.length;
    return off;
  };
  const info = new DataView(new ArrayBuffer(fixed));
  new Uint8Array(info.buffer).set(guidBytes(desc.provider), 0);
  info.setUint16(I.EventDescriptor, desc.id, true);
  info.setUint8(I.EventDescriptor + 2, desc.version ?? 0);
  info.setUint32(I.PropertyCount, n, true);
  info.setUint32(I.TopLevelPropertyCount, n, true);
  if (desc.task !== undefined) info.setUint32(I.TaskNameOffset, place(desc.task), true);
  desc.fields.forEach((f, i) => {
    const o = I.EventPropertyInfoArray + i * LAYOUTS.EVENT_PROPERTY_INFO.size;
    const t = TYPES[f.type];
    info.setUint32(o, f.type === 'ipv6' ? PropertyFlags.ParamFixedLength : 0, true);
    info.setUint32(o + 4, place(f.name), true);
    info.setUint16(o + 8, t.inType, true);
    info.setUint16(o + 10, t.outType, true);
    info.setUint16(o + 16, 1, true);
    info.setUint16(o + 18, f.type === 'ipv6' ? 16 : 0, true);
  });
  return { header, userData, schema: concat([new Uint8Array(info.buffer), ...strings]) };
}

/** The file the test double reads: "VETW", version 1, count, then header / UserData / schema of each. */
export function recordFile(records: readonly EncodedRecord[]): Buffer {
  const parts: Uint8Array[] = [];
  const head = Buffer.alloc(12);
  head.write('VETW', 0, 'latin1');
  head.writeUInt32LE(1, 4);
  head.writeUInt32LE(records.length, 8);
  parts.push(head);
  for (const r of records) {
    const lens = Buffer.alloc(12);
    lens.writeUInt32LE(r.header.length, 0);
    lens.writeUInt32LE(r.userData.length, 4);
    lens.writeUInt32LE(r.schema.length, 8);
    parts.push(lens, r.header, r.userData, r.schema);
  }
  return Buffer.concat(parts);
}

/** An EVENT_RECORD as ETW hands it over (112 bytes; its UserData pointer is not meaningful off Windows). */
export function eventRecordBytes(r: EncodedRecord): Uint8Array {
  const out = new Uint8Array(LAYOUTS.EVENT_RECORD.size);
  out.set(r.header, 0);
  new DataView(out.buffer).setUint16(LAYOUTS.EVENT_RECORD.offsets.UserDataLength, r.userData.length, true);
  return out;
}

export const KERNEL_PROCESS_GUID = '22FB2CD6-0E7B-422B-A0C7-2FAD1FD0E716';

/**
 * Microsoft-Windows-Kernel-Process event 1 (ProcessStart, version 3) with its manifest's field
 * layout. `commandLine` adds a CommandLine field that the real event does not have (the
 * mapping's handling of it is tested on its own).
 */
export function processStart(p: {
  creatorPid: number;
  creatorTid: number;
  time: number;
  pid: number;
  createTime: number;
  ppid: number;
  session: number;
  image: string;
  label?: string;
  commandLine?: string;
}): RecordDesc {
  const fields: FieldDesc[] = [
    { name: 'ProcessID', type: 'u32', value: p.pid },
    { name: 'ProcessSequenceNumber', type: 'u64', value: BigInt(p.pid) * 3n },
    { name: 'CreateTime', type: 'filetime', value: p.createTime },
    { name: 'ParentProcessID', type: 'u32', value: p.ppid },
    { name: 'ParentProcessSequenceNumber', type: 'u64', value: BigInt(p.ppid) * 3n },
    { name: 'SessionID', type: 'u32', value: p.session },
    { name: 'Flags', type: 'u32', value: 0 },
    { name: 'ProcessTokenElevationType', type: 'u32', value: 1 },
    { name: 'ProcessTokenIsElevated', type: 'u32', value: 0 },
    { name: 'MandatoryLabel', type: 'sid', value: p.label ?? 'S-1-16-8192' },
    { name: 'ImageName', type: 'wstring', value: p.image },
    { name: 'ImageChecksum', type: 'u32', value: 0x1f2e3 },
    { name: 'TimeDateStamp', type: 'u32', value: 0x5f000000 },
    { name: 'PackageFullName', type: 'wstring', value: '' },
    { name: 'PackageRelativeAppId', type: 'wstring', value: '' },
  ];
  if (p.commandLine !== undefined) fields.push({ name: 'CommandLine', type: 'wstring', value: p.commandLine });
  return { provider: KERNEL_PROCESS_GUID, id: 1, version: 3, opcode: 1, level: 4, task: 'ProcessStart', pid: p.creatorPid, tid: p.creatorTid, time: p.time, fields };
}

/** Kernel-Process event 2 (ProcessStop, version 2), the fields the mapping reads first. */
export function processStop(p: { pid: number; tid: number; time: number; createTime: number; exitCode: number; image: string }): RecordDesc {
  return {
    provider: KERNEL_PROCESS_GUID,
    id: 2,
    version: 2,
    opcode: 2,
    task: 'ProcessStop',
    pid: p.pid,
    tid: p.tid,
    time: p.time,
    fields: [
      { name: 'ProcessID', type: 'u32', value: p.pid },
      { name: 'CreateTime', type: 'filetime', value: p.createTime },
      { name: 'ExitTime', type: 'filetime', value: p.time },
      { name: 'ExitCode', type: 'u32', value: p.exitCode },
      { name: 'TokenElevationType', type: 'u32', value: 1 },
      { name: 'HandleCount', type: 'u32', value: 30 },
      { name: 'CommitCharge', type: 'u64', value: 4096n },
      { name: 'CommitPeak', type: 'u64', value: 8192n },
      { name: 'ImageName', type: 'astring', value: p.image.split('\\').pop() ?? p.image },
    ],
  };
}

/** Kernel-Process event 3 (ThreadStart, version 1). */
export function threadStart(p: { creatorPid: number; creatorTid: number; time: number; pid: number; tid: number; start: string }): RecordDesc {
  return {
    provider: KERNEL_PROCESS_GUID,
    id: 3,
    version: 1,
    opcode: 1,
    task: 'ThreadStart',
    pid: p.creatorPid,
    tid: p.creatorTid,
    time: p.time,
    fields: [
      { name: 'ProcessID', type: 'u32', value: p.pid },
      { name: 'ThreadID', type: 'u32', value: p.tid },
      { name: 'StackBase', type: 'pointer', value: '0x7ff000000000' },
      { name: 'StackLimit', type: 'pointer', value: '0x7fef00000000' },
      { name: 'UserStackBase', type: 'pointer', value: '0x0' },
      { name: 'UserStackLimit', type: 'pointer', value: '0x0' },
      { name: 'StartAddr', type: 'pointer', value: '0x7ffa00001000' },
      { name: 'Win32StartAddr', type: 'pointer', value: p.start },
      { name: 'TebBase', type: 'pointer', value: '0x3f000' },
      { name: 'SubProcessTag', type: 'u32', value: 0 },
    ],
  };
}
