/**
 * BinXml substitution value types and their text rendering. The rendering follows what
 * libevtx's `evtxexport` prints so that values compare equal with the reference tool.
 */

export const VT = {
  Null: 0x00,
  String: 0x01,
  AnsiString: 0x02,
  Int8: 0x03,
  UInt8: 0x04,
  Int16: 0x05,
  UInt16: 0x06,
  Int32: 0x07,
  UInt32: 0x08,
  Int64: 0x09,
  UInt64: 0x0a,
  Real32: 0x0b,
  Real64: 0x0c,
  Bool: 0x0d,
  Binary: 0x0e,
  Guid: 0x0f,
  SizeT: 0x10,
  FileTime: 0x11,
  SystemTime: 0x12,
  Sid: 0x13,
  HexInt32: 0x14,
  HexInt64: 0x15,
  EvtHandle: 0x20,
  BinXml: 0x21,
  EvtXml: 0x23,
  ArrayFlag: 0x80,
} as const;

const ansi = new TextDecoder('windows-1252');

const HEX_LOWER: string[] = [];
const HEX_UPPER: string[] = [];
for (let i = 0; i < 256; i++) {
  HEX_LOWER.push(i.toString(16).padStart(2, '0'));
  HEX_UPPER.push(i.toString(16).padStart(2, '0').toUpperCase());
}

/**
 * A Buffer over the same memory (Buffer's UTF-16 decoder is the fastest available). The
 * chunk decoder hands Buffers in already, so this normally allocates nothing.
 */
function bufferView(buf: Uint8Array): Buffer {
  return Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
}

/**
 * UTF-16LE text of buf[off, off+bytes), cut at the first NUL code unit (values often carry
 * a terminator; the Windows renderer stops there).
 */
export function readUtf16(buf: Uint8Array, off: number, bytes: number): string {
  let end = off + (bytes & ~1);
  for (let i = off; i < end; i += 2) {
    if (buf[i] === 0 && buf[i + 1] === 0) {
      end = i;
      break;
    }
  }
  if (end === off) return '';
  return bufferView(buf).toString('utf16le', off, end);
}

export function readAnsi(buf: Uint8Array, off: number, bytes: number): string {
  let stop = off + bytes;
  for (let i = off; i < off + bytes; i++) {
    if (buf[i] === 0) {
      stop = i;
      break;
    }
  }
  return ansi.decode(buf.subarray(off, stop));
}

export function hexUpper(buf: Uint8Array, off: number, bytes: number): string {
  let s = '';
  for (let i = 0; i < bytes; i++) s += HEX_UPPER[buf[off + i] as number] as string;
  return s;
}

function hex32(v: number): string {
  const h = HEX_LOWER;
  return (h[v >>> 24] as string) + (h[(v >>> 16) & 0xff] as string) + (h[(v >>> 8) & 0xff] as string) + (h[v & 0xff] as string);
}

export function u64String(dv: DataView, off: number): string {
  const lo = dv.getUint32(off, true);
  const hi = dv.getUint32(off + 4, true);
  if (hi < 0x200000) return String(hi * 4294967296 + lo);
  return dv.getBigUint64(off, true).toString();
}

export function i64String(dv: DataView, off: number): string {
  const hi = dv.getInt32(off + 4, true);
  if (hi >= -0x200000 && hi < 0x200000) return String(hi * 4294967296 + dv.getUint32(off, true));
  return dv.getBigInt64(off, true).toString();
}

export function hex64(dv: DataView, off: number): string {
  return '0x' + hex32(dv.getUint32(off + 4, true)) + hex32(dv.getUint32(off, true));
}

export function guidString(buf: Uint8Array, off: number): string {
  // No helper closure: the bundler used in development wraps every closure creation.
  const h = HEX_UPPER;
  return (
    '{' + h[buf[off + 3] as number] + h[buf[off + 2] as number] + h[buf[off + 1] as number] + h[buf[off] as number] +
    '-' + h[buf[off + 5] as number] + h[buf[off + 4] as number] + '-' + h[buf[off + 7] as number] + h[buf[off + 6] as number] +
    '-' + h[buf[off + 8] as number] + h[buf[off + 9] as number] + '-' + h[buf[off + 10] as number] + h[buf[off + 11] as number] +
    h[buf[off + 12] as number] + h[buf[off + 13] as number] + h[buf[off + 14] as number] + h[buf[off + 15] as number] + '}'
  );
}

export function sidString(buf: Uint8Array, dv: DataView, off: number, bytes: number): string {
  if (bytes < 8) return '';
  const rev = buf[off] as number;
  let count = buf[off + 1] as number;
  // 48-bit big-endian identifier authority.
  const auth = dv.getUint16(off + 2, false) * 4294967296 + dv.getUint32(off + 4, false);
  let s = 'S-' + rev + '-' + auth;
  if (8 + count * 4 > bytes) count = Math.floor((bytes - 8) / 4);
  for (let i = 0; i < count; i++) s += '-' + dv.getUint32(off + 8 + i * 4, true);
  return s;
}

let ftSub = 0;

/**
 * Exact FILETIME split: ticks exceed 2^53, so dividing the double loses the 100 ns digits.
 * Returns whole ms since 1601 and leaves the 100 ns remainder (0..9999) in ftSub.
 */
function fileTimeSplit(dv: DataView, off: number): number {
  const lo = dv.getUint32(off, true);
  const hi = dv.getUint32(off + 4, true);
  const a = hi * 65536 + (lo >>> 16);
  const qa = Math.floor(a / 10000);
  const b = (a - qa * 10000) * 65536 + (lo & 0xffff);
  const qb = Math.floor(b / 10000);
  ftSub = b - qb * 10000;
  return qa * 65536 + qb;
}

/** FILETIME (100 ns ticks since 1601) → whole ms since the Unix epoch. */
export function fileTimeMs(dv: DataView, off: number): number {
  return fileTimeSplit(dv, off) - 11644473600000;
}

function pad2(n: number): string {
  return n < 10 ? '0' + n : String(n);
}

/** FILETIME as evtxexport prints it: 2019-08-14T14:06:44.495674800Z (100 ns precision). */
export function fileTimeString(dv: DataView, off: number): string {
  const ms = fileTimeSplit(dv, off);
  const sub = ftSub;
  const d = new Date(ms - 11644473600000);
  const y = d.getUTCFullYear();
  if (!Number.isFinite(y)) return '';
  const frac = String(d.getUTCMilliseconds() * 10000 + sub).padStart(7, '0');
  return (
    String(y).padStart(4, '0') + '-' + pad2(d.getUTCMonth() + 1) + '-' + pad2(d.getUTCDate()) + 'T' +
    pad2(d.getUTCHours()) + ':' + pad2(d.getUTCMinutes()) + ':' + pad2(d.getUTCSeconds()) + '.' + frac + '00Z'
  );
}

/** SYSTEMTIME (8 × uint16: year, month, weekday, day, hour, minute, second, ms). */
export function systemTimeString(dv: DataView, off: number): string {
  const y = dv.getUint16(off, true);
  const mo = dv.getUint16(off + 2, true);
  const d = dv.getUint16(off + 6, true);
  const h = dv.getUint16(off + 8, true);
  const mi = dv.getUint16(off + 10, true);
  const s = dv.getUint16(off + 12, true);
  const ms = dv.getUint16(off + 14, true);
  return (
    String(y).padStart(4, '0') + '-' + pad2(mo) + '-' + pad2(d) + 'T' + pad2(h) + ':' + pad2(mi) + ':' + pad2(s) +
    '.' + String(ms).padStart(3, '0') + 'Z'
  );
}

export function systemTimeMs(dv: DataView, off: number): number {
  return Date.UTC(
    dv.getUint16(off, true),
    dv.getUint16(off + 2, true) - 1,
    dv.getUint16(off + 6, true),
    dv.getUint16(off + 8, true),
    dv.getUint16(off + 10, true),
    dv.getUint16(off + 12, true),
    dv.getUint16(off + 14, true),
  );
}

/** Reals as evtxexport prints them: printf %e with a three-digit exponent (1.500000e+000). */
export function formatReal(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const s = v.toExponential(6);
  const e = s.indexOf('e');
  const sign = s[e + 1] as string;
  return s.slice(0, e + 1) + sign + s.slice(e + 2).padStart(3, '0');
}

/** Fixed element size of an array-able type, 0 when variable. */
export function elementSize(type: number): number {
  switch (type) {
    case VT.Int8:
    case VT.UInt8:
      return 1;
    case VT.Int16:
    case VT.UInt16:
      return 2;
    case VT.Int32:
    case VT.UInt32:
    case VT.Real32:
    case VT.Bool:
    case VT.HexInt32:
      return 4;
    case VT.Int64:
    case VT.UInt64:
    case VT.Real64:
    case VT.FileTime:
    case VT.HexInt64:
      return 8;
    case VT.Guid:
    case VT.SystemTime:
      return 16;
    default:
      return 0;
  }
}

/**
 * Render one scalar value. `size` is the value's byte size from the instance's value
 * descriptor. BinXml (0x21) values are handled by the caller (they are markup, not text).
 */
export function renderScalar(buf: Uint8Array, dv: DataView, off: number, size: number, type: number): string {
  switch (type) {
    case VT.Null:
      return '';
    case VT.String:
    case VT.EvtXml:
      return readUtf16(buf, off, size);
    case VT.AnsiString:
      return readAnsi(buf, off, size);
    case VT.Int8:
      return size >= 1 ? String(dv.getInt8(off)) : '';
    case VT.UInt8:
      return size >= 1 ? String(buf[off]) : '';
    case VT.Int16:
      return size >= 2 ? String(dv.getInt16(off, true)) : '';
    case VT.UInt16:
      return size >= 2 ? String(dv.getUint16(off, true)) : '';
    case VT.Int32:
      return size >= 4 ? String(dv.getInt32(off, true)) : '';
    case VT.UInt32:
      return size >= 4 ? String(dv.getUint32(off, true)) : '';
    case VT.Int64:
      return size >= 8 ? i64String(dv, off) : '';
    case VT.UInt64:
      return size >= 8 ? u64String(dv, off) : '';
    case VT.Real32:
      return size >= 4 ? formatReal(dv.getFloat32(off, true)) : '';
    case VT.Real64:
      return size >= 8 ? formatReal(dv.getFloat64(off, true)) : '';
    case VT.Bool:
      return size >= 4 ? (dv.getUint32(off, true) !== 0 ? 'true' : 'false') : size >= 1 ? (buf[off] !== 0 ? 'true' : 'false') : '';
    case VT.Binary:
      return hexUpper(buf, off, size);
    case VT.Guid:
      return size >= 16 ? guidString(buf, off) : '';
    case VT.SizeT:
    case VT.EvtHandle:
      // evtxexport prints size_t in decimal, whatever its width.
      if (size >= 8) return u64String(dv, off);
      if (size >= 4) return String(dv.getUint32(off, true));
      return '';
    case VT.FileTime:
      return size >= 8 ? fileTimeString(dv, off) : '';
    case VT.SystemTime:
      return size >= 16 ? systemTimeString(dv, off) : '';
    case VT.Sid:
      return sidString(buf, dv, off, size);
    case VT.HexInt32:
      return size >= 4 ? '0x' + hex32(dv.getUint32(off, true)) : '';
    case VT.HexInt64:
      return size >= 8 ? hex64(dv, off) : '';
    default:
      return hexUpper(buf, off, size);
  }
}

/** Render an array value (type | 0x80) as the list of its element strings. */
export function renderArray(buf: Uint8Array, dv: DataView, off: number, size: number, type: number): string[] {
  const base = type & 0x7f;
  const out: string[] = [];
  if (base === VT.String) {
    // NUL-separated UTF-16 strings.
    let start = off;
    const end = off + (size & ~1);
    for (let i = off; i < end; i += 2) {
      if (buf[i] === 0 && buf[i + 1] === 0) {
        out.push(bufferView(buf).toString('utf16le', start, i));
        start = i + 2;
      }
    }
    if (start < end) out.push(bufferView(buf).toString('utf16le', start, end));
    return out;
  }
  if (base === VT.AnsiString) {
    let start = off;
    const end = off + size;
    for (let i = off; i < end; i++) {
      if (buf[i] === 0) {
        out.push(ansi.decode(buf.subarray(start, i)));
        start = i + 1;
      }
    }
    if (start < end) out.push(ansi.decode(buf.subarray(start, end)));
    return out;
  }
  if (base === VT.Sid) {
    // Consecutive variable-length SIDs: 8 bytes + 4 per sub-authority.
    let p = off;
    while (p + 8 <= off + size) {
      const len = 8 + (buf[p + 1] as number) * 4;
      if (p + len > off + size) break;
      out.push(sidString(buf, dv, p, len));
      p += len;
    }
    return out;
  }
  let es = elementSize(base);
  if (base === VT.SizeT) es = size % 8 === 0 ? 8 : 4;
  if (es === 0) return [hexUpper(buf, off, size)];
  for (let p = off; p + es <= off + size; p += es) out.push(renderScalar(buf, dv, p, es, base));
  return out;
}
