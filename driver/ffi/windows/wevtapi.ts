/**
 * wevtapi bindings (Windows event log): subscriptions in the pull model (a signal event from
 * kernel32, batched EvtNext), queries of a channel or an .evtx file, render contexts (system
 * properties, or values selected by XPath), rendering to EVT_VARIANT values decoded with a
 * DataView (no koffi.decode per value), rendering to XML, bookmarks, and the error text of
 * EvtGetExtendedStatus / FormatMessageW.
 *
 * Every call here is synchronous: the Sysmon sensor runs them on its own worker thread, where
 * blocking is the point. Values are returned as the text the event's XML carries, rendered as
 * Vigil's EVTX parser renders substitution values (lib/evtx/values.ts), so an event read live
 * and the same event read from an .evtx file give the same strings.
 *
 * DLL names are parameters so a test can point the binding at a double; production uses the
 * system DLLs. koffi is loaded when `bindWevtapi` is called, not on import.
 */
import {
  fileTimeMs,
  fileTimeString,
  formatReal,
  guidString,
  hex64,
  hexUpper,
  i64String,
  readAnsi,
  readUtf16,
  sidString,
  systemTimeString,
  u64String,
} from '../../../lib/evtx/values.js';
import { windowsKoffi, type Koffi } from './koffi.js';
import type { Handle, WinResult } from './process.js';

export type { Handle, WinResult } from './process.js';

export const ERROR_ACCESS_DENIED = 5;
export const ERROR_INVALID_HANDLE = 6;
export const ERROR_INSUFFICIENT_BUFFER = 122;
export const ERROR_NO_MORE_ITEMS = 259;
export const ERROR_TIMEOUT = 1460;
export const RPC_S_INVALID_BOUND = 1734;
export const ERROR_EVT_CHANNEL_NOT_FOUND = 15007;

export const EvtSubscribeToFutureEvents = 1;
export const EvtSubscribeStartAtOldestRecord = 2;
export const EvtSubscribeStartAfterBookmark = 3;
export const EvtQueryChannelPath = 0x1;
export const EvtQueryFilePath = 0x2;
export const EvtQueryForwardDirection = 0x100;
export const EvtRenderContextValues = 0;
export const EvtRenderContextSystem = 1;
export const EvtRenderContextUser = 2;
export const EvtRenderEventValues = 0;
export const EvtRenderEventXml = 1;
export const EvtRenderBookmark = 2;

/** EVT_VARIANT_TYPE (the same numbers as the BinXml value types). */
export const EvtVarType = {
  Null: 0,
  String: 1,
  AnsiString: 2,
  SByte: 3,
  Byte: 4,
  Int16: 5,
  UInt16: 6,
  Int32: 7,
  UInt32: 8,
  Int64: 9,
  UInt64: 10,
  Single: 11,
  Double: 12,
  Boolean: 13,
  Binary: 14,
  Guid: 15,
  SizeT: 16,
  FileTime: 17,
  SysTime: 18,
  Sid: 19,
  HexInt32: 20,
  HexInt64: 21,
  EvtHandle: 32,
  EvtXml: 35,
  ArrayFlag: 0x80,
} as const;

/** EVT_SYSTEM_PROPERTY_ID order: the values of an EvtRenderContextSystem rendering. */
export const SYSTEM_PROPERTIES = [
  'ProviderName',
  'ProviderGuid',
  'EventID',
  'Qualifiers',
  'Level',
  'Task',
  'Opcode',
  'Keywords',
  'TimeCreated',
  'EventRecordId',
  'ActivityID',
  'RelatedActivityID',
  'ProcessID',
  'ThreadID',
  'Channel',
  'Computer',
  'UserID',
  'Version',
] as const;

/**
 * x64 layouts from the mingw-w64 headers (winevt.h, minwinbase.h, guiddef.h), checked against
 * the koffi definitions at bind time and against a mingw-compiled probe in the Wine test.
 */
export const WEVT_LAYOUTS = {
  EVT_VARIANT: { size: 16, offsets: { Count: 8, Type: 12 } },
  SYSTEMTIME: { size: 16, offsets: { wDay: 6, wMilliseconds: 14 } },
  GUID: { size: 16, offsets: { Data4: 8 } },
} as const;

const VARIANT_SIZE = 16;
/** Strings up to this many UTF-16 units are interned by the reader; longer ones (command lines) rarely repeat. */
const INTERN_MAX_CHARS = 128;
/** Distinct strings a reader keeps; past it, new ones are decoded each time. */
const INTERN_MAX_STRINGS = 8192;
const WAIT_OBJECT_0 = 0;
const WAIT_TIMEOUT = 0x102;
const FORMAT_MESSAGE_FROM_SYSTEM = 0x1000;
const FORMAT_MESSAGE_IGNORE_INSERTS = 0x200;
/** First render buffer; grown (to the size asked for, at least doubled) by the two-call sizing. */
const INITIAL_RENDER_BYTES = 64 * 1024;
/** A rendering larger than this is refused rather than allocated. */
export const MAX_RENDER_BYTES = 16 * 1024 * 1024;

/** One rendered value: its text as the event XML carries it, a list for an array, null when absent. */
export type EvtValue = string | string[] | null;

/** A pointer of a rendered value that does not point into the render buffer (EvtRender never does that). */
export class VariantPointerError extends RangeError {
  override readonly name = 'VariantPointerError';
}

function hex8(v: number): string {
  return '0x' + (v >>> 0).toString(16).padStart(8, '0');
}

/**
 * Decode `count` EVT_VARIANTs at the start of `buf`, whose first byte is at native address
 * `base` (pointers in the values are absolute and point into the same buffer). Pure DataView
 * work: usable on any platform against a recorded buffer.
 */
export function decodeVariants(buf: Uint8Array, base: number, count: number): EvtValue[] {
  return readVariants(new VariantReader(buf, base), count);
}

/** The first `count` values where the reader stands. */
export function readVariants(r: VariantReader, count: number): EvtValue[] {
  const out: EvtValue[] = new Array<EvtValue>(count);
  for (let i = 0; i < count; i++) out[i] = r.value(i);
  return out;
}

/**
 * Random access to the EVT_VARIANTs of one render buffer: a value as text (`value`), or an
 * integer value as a number without going through text (`number`). Made once per buffer and
 * reused for every rendering into it (the views cost more than a small event's decoding);
 * `seek` moves to an array that does not start at the buffer's first byte.
 */
export class VariantReader {
  readonly dv: DataView;
  /** Byte offset of the EVT_VARIANT array in the buffer. */
  private start = 0;
  /** Short strings decoded before, by hash of their code units (checked in full on a hit). */
  private readonly strings = new Map<number, string>();
  /** GUIDs rendered before, by their four 32-bit words (compared in full on a hit). */
  private readonly guids = new Map<number, { a: number; b: number; c: number; d: number; s: string }>();
  /** Strings not kept because the intern table was full (the reader decodes them every time). */
  internRefused = 0;
  private readonly bytes: Buffer;
  // UTF-16 strings are scanned for their NUL a code unit at a time (payloads are 2-aligned).
  private readonly u16: Uint16Array | undefined;
  private readonly end: number;
  private readonly at: (off: number) => number;

  constructor(
    readonly buf: Uint8Array,
    readonly base: number,
  ) {
    const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.dv = dv;
    this.bytes = bufferOf(buf);
    this.u16 = (buf.byteOffset & 1) === 0 ? new Uint16Array(buf.buffer, buf.byteOffset, buf.byteLength >> 1) : undefined;
    const end = buf.byteLength;
    this.end = end;
    this.at = (off: number): number => {
      const p = dv.getUint32(off + 4, true) * 4294967296 + dv.getUint32(off, true) - base;
      if (p < 0 || p >= end) throw new VariantPointerError(`EVT_VARIANT at ${off}: pointer outside the render buffer`);
      return p;
    };
  }

  seek(offset: number): this {
    this.start = offset;
    return this;
  }

  type(i: number): number {
    return this.dv.getUint32(this.start + i * VARIANT_SIZE + 12, true);
  }

  /** Value i as the event XML renders it; null when absent. */
  value(i: number): EvtValue {
    const { buf, dv, u16, end, at } = this;
    const off = this.start + i * VARIANT_SIZE;
    const type = dv.getUint32(off + 12, true);
    if (type === EvtVarType.String && u16 !== undefined) {
      const p = at(off);
      if ((p & 1) === 0) {
        const s0 = p >> 1;
        const last = end >> 1;
        let e = s0;
        let h = 0;
        for (; e < last; e++) {
          const c = u16[e] as number;
          if (c === 0) break;
          h = (Math.imul(h, 31) + c) | 0;
        }
        const len = e - s0;
        if (len === 0) return '';
        if (len > INTERN_MAX_CHARS) return this.bytes.toString('utf16le', p, e << 1);
        // Values repeat (images, users, hosts, rule names): one decoding per distinct string.
        const key = h ^ (len << 23);
        const hit = this.strings.get(key);
        if (hit !== undefined && hit.length === len) {
          let same = true;
          for (let k = 0; k < len; k++) {
            if (hit.charCodeAt(k) !== u16[s0 + k]) {
              same = false;
              break;
            }
          }
          if (same) return hit;
        }
        const str = this.bytes.toString('utf16le', p, e << 1);
        if (this.strings.size < INTERN_MAX_STRINGS) this.strings.set(key, str);
        else this.internRefused++;
        return str;
      }
    }
    if (type === EvtVarType.Guid) {
      const p = at(off);
      if (p + 16 <= end) {
        // GUIDs repeat too (the provider, process GUIDs): interned by their four words.
        const a = dv.getUint32(p, true);
        const b = dv.getUint32(p + 4, true);
        const c = dv.getUint32(p + 8, true);
        const d = dv.getUint32(p + 12, true);
        const key = (a ^ Math.imul(b, 0x9e3779b1) ^ Math.imul(c, 0x85ebca6b) ^ Math.imul(d, 0xc2b2ae35)) | 0;
        const hit = this.guids.get(key);
        if (hit !== undefined && hit.a === a && hit.b === b && hit.c === c && hit.d === d) return hit.s;
        const str = guidString(buf, p);
        if (hit !== undefined || this.guids.size < INTERN_MAX_STRINGS) this.guids.set(key, { a, b, c, d, s: str });
        else this.internRefused++;
        return str;
      }
    }
    const n = dv.getUint32(off + 8, true);
    if ((type & EvtVarType.ArrayFlag) !== 0) return type === EvtVarType.ArrayFlag ? null : decodeArray(buf, dv, at(off), n, type & 0x7f, at);
    return scalar(buf, dv, off, n, type, end, at);
  }

  /**
   * Value i as a number: integers read directly (the same number their text parses to), a
   * FILETIME as whole ms since the epoch (what its rendered text parses to), anything else
   * through its text; undefined when absent.
   */
  number(i: number): number | undefined {
    const dv = this.dv;
    const off = this.start + i * VARIANT_SIZE;
    switch (dv.getUint32(off + 12, true)) {
      case EvtVarType.Null:
        return undefined;
      case EvtVarType.Byte:
        return dv.getUint8(off);
      case EvtVarType.SByte:
        return dv.getInt8(off);
      case EvtVarType.UInt16:
        return dv.getUint16(off, true);
      case EvtVarType.Int16:
        return dv.getInt16(off, true);
      case EvtVarType.UInt32:
        return dv.getUint32(off, true);
      case EvtVarType.Int32:
        return dv.getInt32(off, true);
      case EvtVarType.FileTime:
        return fileTimeMs(dv, off);
      default: {
        const v = this.value(i);
        if (v === null) return undefined;
        const t = typeof v === 'string' ? v : v.join(', ');
        return t === '' ? NaN : Number(t);
      }
    }
  }
}

/** A Buffer over the same memory (its UTF-16 decoder is the fastest at hand). */
function bufferOf(buf: Uint8Array): Buffer {
  return Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
}

function scalar(buf: Uint8Array, dv: DataView, off: number, n: number, type: number, end: number, at: (off: number) => number): string | null {
  switch (type) {
    case EvtVarType.Null:
      return null;
    case EvtVarType.String:
    case EvtVarType.EvtXml: {
      const p = at(off);
      return readUtf16(buf, p, end - p);
    }
    case EvtVarType.AnsiString: {
      const p = at(off);
      return readAnsi(buf, p, end - p);
    }
    case EvtVarType.SByte:
      return String(dv.getInt8(off));
    case EvtVarType.Byte:
      return String(buf[off]);
    case EvtVarType.Int16:
      return String(dv.getInt16(off, true));
    case EvtVarType.UInt16:
      return String(dv.getUint16(off, true));
    case EvtVarType.Int32:
      return String(dv.getInt32(off, true));
    case EvtVarType.UInt32:
      return String(dv.getUint32(off, true));
    case EvtVarType.Int64:
      return i64String(dv, off);
    case EvtVarType.UInt64:
    case EvtVarType.SizeT:
    case EvtVarType.EvtHandle:
      return u64String(dv, off);
    case EvtVarType.Single:
      return formatReal(dv.getFloat32(off, true));
    case EvtVarType.Double:
      return formatReal(dv.getFloat64(off, true));
    case EvtVarType.Boolean:
      return dv.getInt32(off, true) !== 0 ? 'true' : 'false';
    case EvtVarType.Binary: {
      // Count is the byte length of a binary value.
      const p = at(off);
      return hexUpper(buf, p, Math.min(n, end - p));
    }
    case EvtVarType.Guid: {
      const p = at(off);
      return p + 16 <= end ? guidString(buf, p) : '';
    }
    case EvtVarType.FileTime:
      return fileTimeString(dv, off);
    case EvtVarType.SysTime: {
      const p = at(off);
      return p + 16 <= end ? systemTimeString(dv, p) : '';
    }
    case EvtVarType.Sid: {
      const p = at(off);
      return sidString(buf, dv, p, Math.min(8 + (buf[p + 1] ?? 0) * 4, end - p));
    }
    case EvtVarType.HexInt32:
      return hex8(dv.getUint32(off, true));
    case EvtVarType.HexInt64:
      return hex64(dv, off);
    default:
      // An unknown type: its 8 value bytes, as the EVTX reader renders unknown types.
      return hexUpper(buf, off, 8);
  }
}

const FIXED: Readonly<Record<number, number>> = {
  [EvtVarType.SByte]: 1,
  [EvtVarType.Byte]: 1,
  [EvtVarType.Int16]: 2,
  [EvtVarType.UInt16]: 2,
  [EvtVarType.Int32]: 4,
  [EvtVarType.UInt32]: 4,
  [EvtVarType.Single]: 4,
  [EvtVarType.Boolean]: 4,
  [EvtVarType.HexInt32]: 4,
  [EvtVarType.Int64]: 8,
  [EvtVarType.UInt64]: 8,
  [EvtVarType.Double]: 8,
  [EvtVarType.FileTime]: 8,
  [EvtVarType.HexInt64]: 8,
  [EvtVarType.SizeT]: 8,
  [EvtVarType.Guid]: 16,
  [EvtVarType.SysTime]: 16,
};

/** An array value: strings, SIDs and ANSI strings are arrays of pointers, the rest packed elements. */
function decodeArray(buf: Uint8Array, dv: DataView, p: number, n: number, base: number, at: (off: number) => number): string[] {
  const out: string[] = [];
  const end = buf.byteLength;
  if (base === EvtVarType.String || base === EvtVarType.AnsiString || base === EvtVarType.Sid) {
    for (let i = 0; i < n && p + i * 8 + 8 <= end; i++) {
      const q = at(p + i * 8);
      if (base === EvtVarType.String) out.push(readUtf16(buf, q, end - q));
      else if (base === EvtVarType.AnsiString) out.push(readAnsi(buf, q, end - q));
      else out.push(sidString(buf, dv, q, Math.min(8 + (buf[q + 1] ?? 0) * 4, end - q)));
    }
    return out;
  }
  const size = FIXED[base] ?? 0;
  if (size === 0) return [hexUpper(buf, p, Math.min(n, end - p))];
  const tmp = new Uint8Array(16);
  const tdv = new DataView(tmp.buffer);
  for (let i = 0; i < n && p + (i + 1) * size <= end; i++) {
    const e = p + i * size;
    if (base === EvtVarType.Guid) out.push(guidString(buf, e));
    else if (base === EvtVarType.SysTime) out.push(systemTimeString(dv, e));
    else {
      // A packed element read as an inline variant value (its low bytes, zero-extended).
      tmp.fill(0);
      tmp.set(buf.subarray(e, e + size));
      const s = scalar(tmp, tdv, 0, 0, base, 16, () => 0);
      out.push(s ?? '');
    }
  }
  return out;
}

export interface WevtapiDlls {
  readonly wevtapi?: string;
  readonly kernel32?: string;
}

export interface WevtapiOptions {
  /** The render buffer's first size (tests shrink it to exercise the two-call sizing). */
  readonly initialRenderBytes?: number;
}

export interface WevtapiApi {
  /** CreateEventW: a manual-reset event, initially signaled, for EvtSubscribe's pull model. */
  createSignal(): WinResult<Handle>;
  /** WaitForSingleObject on the calling thread: true when signaled within `ms`. */
  waitSignal(h: Handle, ms: number): boolean;
  resetSignal(h: Handle): void;
  closeHandle(h: Handle): void;
  /** EvtSubscribe (no callback: the pull model); `bookmark` only with EvtSubscribeStartAfterBookmark. */
  subscribe(channel: string, query: string | null, signal: Handle, flags: number, bookmark?: Handle): WinResult<Handle>;
  /** EvtQuery of a channel (EvtQueryChannelPath) or an .evtx file (EvtQueryFilePath). */
  query(path: string, query: string | null, flags: number): WinResult<Handle>;
  /** EvtNext: up to `count` event handles (fails with ERROR_NO_MORE_ITEMS when none are left). */
  next(resultSet: Handle, count: number, timeoutMs: number): WinResult<Handle[]>;
  /** EvtCreateRenderContext: XPaths with EvtRenderContextValues, none for System / User. */
  createRenderContext(paths: readonly string[], flags: number): WinResult<Handle>;
  /** EvtRender values (two-call buffer sizing), decoded from the EVT_VARIANT array. */
  renderValues(context: Handle, event: Handle): WinResult<EvtValue[]>;
  /**
   * EvtRender values, handed to `decode` while the render buffer holds them (for a caller that
   * reads the EVT_VARIANTs itself, e.g. with a VariantReader); its result is returned.
   */
  renderWith<T>(context: Handle, event: Handle, decode: (reader: VariantReader, count: number) => T): WinResult<T>;
  /** EvtRender XML of an event (the fallback rendering). */
  renderXml(event: Handle): WinResult<string>;
  /** EvtCreateBookmark, empty or from the XML a bookmark rendered to. */
  createBookmark(xml?: string): WinResult<Handle>;
  updateBookmark(bookmark: Handle, event: Handle): WinResult<void>;
  renderBookmark(bookmark: Handle): WinResult<string>;
  /** EvtClose (events, result sets, subscriptions, contexts, bookmarks). */
  close(h: Handle): void;
  /** Strings the render buffer's reader did not intern because its table was full (cumulative). */
  internRefused(): number;
  /** EvtGetExtendedStatus: the event log's own text about the last failure ('' when none). */
  extendedStatus(): string;
  /** FormatMessageW (system message table) for a Win32 error; '' when Windows has no text. */
  formatError(code: number): string;
}

type Fn = (...args: unknown[]) => unknown;

let defined: { variant: unknown; systemTime: unknown; guid: unknown } | undefined;

/** The struct types, defined once per thread (koffi's type names are global) and checked against WEVT_LAYOUTS. */
function defineTypes(koffi: Koffi): NonNullable<typeof defined> {
  if (defined) return defined;
  const variant = koffi.struct('VIGIL_EVT_VARIANT', { Value: 'uint64_t', Count: 'uint32_t', Type: 'uint32_t' });
  const systemTime = koffi.struct('VIGIL_SYSTEMTIME', {
    wYear: 'uint16_t',
    wMonth: 'uint16_t',
    wDayOfWeek: 'uint16_t',
    wDay: 'uint16_t',
    wHour: 'uint16_t',
    wMinute: 'uint16_t',
    wSecond: 'uint16_t',
    wMilliseconds: 'uint16_t',
  });
  const guid = koffi.struct('VIGIL_GUID', { Data1: 'uint32_t', Data2: 'uint16_t', Data3: 'uint16_t', Data4: koffi.array('uint8_t', 8) });
  const problems = checkWevtLayouts(koffi, { EVT_VARIANT: variant, SYSTEMTIME: systemTime, GUID: guid });
  if (problems.length > 0) throw new Error(`koffi struct layouts differ from the x64 headers: ${problems.join('; ')}`);
  defined = { variant, systemTime, guid };
  return defined;
}

/** Each size and offset of WEVT_LAYOUTS that the given koffi types do not match, as text. */
export function checkWevtLayouts(koffi: Koffi, types: Record<keyof typeof WEVT_LAYOUTS, unknown>): string[] {
  const out: string[] = [];
  for (const [name, want] of Object.entries(WEVT_LAYOUTS) as Array<[keyof typeof WEVT_LAYOUTS, (typeof WEVT_LAYOUTS)[keyof typeof WEVT_LAYOUTS]]>) {
    const t = types[name] as Parameters<Koffi['sizeof']>[0];
    if (koffi.sizeof(t) !== want.size) out.push(`sizeof ${name} = ${koffi.sizeof(t)}, expected ${want.size}`);
    for (const [field, off] of Object.entries(want.offsets)) {
      const got = koffi.offsetof(t, field);
      if (got !== off) out.push(`offsetof ${name}.${field} = ${got}, expected ${off}`);
    }
  }
  return out;
}

/** The koffi definitions of WEVT_LAYOUTS' structs (for the layout test); binds nothing. */
export async function wevtStructTypes(): Promise<Record<keyof typeof WEVT_LAYOUTS, unknown>> {
  const t = defineTypes(await windowsKoffi());
  return { EVT_VARIANT: t.variant, SYSTEMTIME: t.systemTime, GUID: t.guid };
}

function isNull(h: unknown): boolean {
  return h === null || h === undefined || h === 0n || h === 0;
}

/** Bind wevtapi + kernel32 (on the calling thread); rejects with the reason when koffi or a DLL cannot be loaded. */
export async function bindWevtapi(dlls: WevtapiDlls = {}, options: WevtapiOptions = {}): Promise<WevtapiApi> {
  const koffi = await windowsKoffi();
  defineTypes(koffi);
  const wevt = koffi.load(dlls.wevtapi ?? 'wevtapi.dll');
  const k32 = koffi.load(dlls.kernel32 ?? 'kernel32.dll');
  const f = (lib: ReturnType<Koffi['load']>, sig: string) => lib.func(sig) as Fn;

  const GetLastError = f(k32, 'uint32_t __stdcall GetLastError()');
  const CreateEventW = f(k32, 'void * __stdcall CreateEventW(void *attrs, int manual, int initial, const char16_t *name)');
  const WaitForSingleObject = f(k32, 'uint32_t __stdcall WaitForSingleObject(void *h, uint32_t ms)');
  const ResetEvent = f(k32, 'int __stdcall ResetEvent(void *h)');
  const CloseHandle = f(k32, 'int __stdcall CloseHandle(void *h)');
  const FormatMessageW = f(k32, 'uint32_t __stdcall FormatMessageW(uint32_t flags, void *src, uint32_t id, uint32_t lang, _Out_ uint16_t *buf, uint32_t size, void *args)');
  const EvtSubscribe = f(
    wevt,
    'void * __stdcall EvtSubscribe(void *session, void *signal, const char16_t *channel, const char16_t *query, void *bookmark, void *context, void *callback, uint32_t flags)',
  );
  const EvtQuery = f(wevt, 'void * __stdcall EvtQuery(void *session, const char16_t *path, const char16_t *query, uint32_t flags)');
  const EvtNext = f(wevt, 'int __stdcall EvtNext(void *rs, uint32_t count, void *events, uint32_t timeout, uint32_t flags, _Out_ uint32_t *returned)');
  const EvtCreateRenderContext = f(wevt, 'void * __stdcall EvtCreateRenderContext(uint32_t count, const char16_t **paths, uint32_t flags)');
  const EvtRender = f(wevt, 'int __stdcall EvtRender(void *context, void *fragment, uint32_t flags, uint32_t size, void *buffer, _Out_ uint32_t *used, _Out_ uint32_t *props)');
  const EvtCreateBookmark = f(wevt, 'void * __stdcall EvtCreateBookmark(const char16_t *xml)');
  const EvtUpdateBookmark = f(wevt, 'int __stdcall EvtUpdateBookmark(void *bookmark, void *event)');
  const EvtClose = f(wevt, 'int __stdcall EvtClose(void *h)');
  const EvtGetExtendedStatus = f(wevt, 'uint32_t __stdcall EvtGetExtendedStatus(uint32_t size, _Out_ uint16_t *buf, _Out_ uint32_t *used)');

  // GetLastError is read by the very next foreign call after the one that failed.
  const fail = <T>(call: string): WinResult<T> => ({ ok: false, error: GetLastError() as number, call });

  // Native memory, reused: EvtRender writes pointers into it that must stay valid while decoded.
  let renderSize = 0;
  let renderPtr: unknown = null;
  let renderBase = 0;
  let renderBytes = Buffer.alloc(0);
  let reader = new VariantReader(renderBytes, 0);
  let refusedBefore = 0;
  const growRender = (need: number): void => {
    if (need <= renderSize) return;
    if (renderPtr !== null) koffi.free(renderPtr);
    renderSize = renderSize === 0 ? need : Math.max(need, renderSize * 2);
    renderPtr = koffi.alloc('uint8_t', renderSize);
    renderBase = Number(koffi.address(renderPtr));
    renderBytes = Buffer.from(koffi.view(renderPtr, renderSize));
    refusedBefore += reader.internRefused;
    reader = new VariantReader(renderBytes, renderBase);
  };
  growRender(Math.max(16, options.initialRenderBytes ?? INITIAL_RENDER_BYTES));
  let eventsSize = 0;
  let eventsPtr: unknown = null;
  let eventsView = new BigUint64Array(0);

  /** EvtRender into the shared buffer, growing it on ERROR_INSUFFICIENT_BUFFER; the byte count used. */
  const render = (context: Handle | null, fragment: Handle, flags: number, call: string): WinResult<{ used: number; props: number }> => {
    for (let attempt = 0; attempt < 3; attempt++) {
      const used = [0];
      const props = [0];
      if (EvtRender(context, fragment, flags, renderSize, renderPtr, used, props)) return { ok: true, value: { used: used[0] ?? 0, props: props[0] ?? 0 } };
      const err = GetLastError() as number;
      if (err !== ERROR_INSUFFICIENT_BUFFER) return { ok: false, error: err, call };
      const need = used[0] ?? 0;
      if (need > MAX_RENDER_BYTES) return { ok: false, error: err, call: `${call} needs ${need} bytes, over ${MAX_RENDER_BYTES}` };
      growRender(need);
    }
    return { ok: false, error: ERROR_INSUFFICIENT_BUFFER, call };
  };
  const utf16 = (bytes: number): string => renderBytes.toString('utf16le', 0, bytes).replace(/\0+$/, '');

  return {
    createSignal() {
      const h = CreateEventW(null, 1, 1, null);
      return isNull(h) ? fail('CreateEventW') : { ok: true, value: h as Handle };
    },
    waitSignal(h, ms) {
      const r = WaitForSingleObject(h, ms) as number;
      if (r === WAIT_OBJECT_0) return true;
      if (r === WAIT_TIMEOUT) return false;
      throw new Error(`WaitForSingleObject returned ${r} (error ${GetLastError() as number})`);
    },
    resetSignal: (h) => void ResetEvent(h),
    closeHandle: (h) => void CloseHandle(h),
    subscribe(channel, query, signal, flags, bookmark) {
      const h = EvtSubscribe(null, signal, channel, query, bookmark ?? null, null, null, flags);
      return isNull(h) ? fail('EvtSubscribe') : { ok: true, value: h as Handle };
    },
    query(path, query, flags) {
      const h = EvtQuery(null, path, query, flags);
      return isNull(h) ? fail('EvtQuery') : { ok: true, value: h as Handle };
    },
    next(resultSet, count, timeoutMs) {
      if (count > eventsSize) {
        if (eventsPtr !== null) koffi.free(eventsPtr);
        eventsSize = count;
        eventsPtr = koffi.alloc('uint64_t', count);
        eventsView = new BigUint64Array(koffi.view(eventsPtr, count * 8));
      }
      const returned = [0];
      if (!EvtNext(resultSet, count, eventsPtr, timeoutMs, 0, returned)) return fail('EvtNext');
      const n = returned[0] ?? 0;
      const out: Handle[] = new Array<Handle>(n);
      for (let i = 0; i < n; i++) out[i] = eventsView[i] as bigint;
      return { ok: true, value: out };
    },
    createRenderContext(paths, flags) {
      const h = EvtCreateRenderContext(paths.length, paths.length > 0 ? [...paths] : null, flags);
      return isNull(h) ? fail('EvtCreateRenderContext') : { ok: true, value: h as Handle };
    },
    renderValues(context, event) {
      const r = render(context, event, EvtRenderEventValues, 'EvtRender(values)');
      if (!r.ok) return r;
      return { ok: true, value: readVariants(reader.seek(0), r.value.props) };
    },
    renderWith(context, event, decode) {
      const r = render(context, event, EvtRenderEventValues, 'EvtRender(values)');
      if (!r.ok) return r;
      return { ok: true, value: decode(reader.seek(0), r.value.props) };
    },
    renderXml(event) {
      const r = render(null, event, EvtRenderEventXml, 'EvtRender(xml)');
      return r.ok ? { ok: true, value: utf16(r.value.used) } : r;
    },
    createBookmark(xml) {
      const h = EvtCreateBookmark(xml ?? null);
      return isNull(h) ? fail('EvtCreateBookmark') : { ok: true, value: h as Handle };
    },
    updateBookmark(bookmark, event) {
      return EvtUpdateBookmark(bookmark, event) ? { ok: true, value: undefined } : fail('EvtUpdateBookmark');
    },
    renderBookmark(bookmark) {
      const r = render(null, bookmark, EvtRenderBookmark, 'EvtRender(bookmark)');
      return r.ok ? { ok: true, value: utf16(r.value.used) } : r;
    },
    close: (h) => void EvtClose(h),
    internRefused: () => refusedBefore + reader.internRefused,
    extendedStatus() {
      const buf = Buffer.alloc(2048);
      const used = [0];
      if ((EvtGetExtendedStatus(1024, buf, used) as number) !== 0) return '';
      return buf.toString('utf16le', 0, Math.max(0, (used[0] ?? 1) - 1) * 2).trim();
    },
    formatError(code) {
      const buf = Buffer.alloc(2048);
      const n = FormatMessageW(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, null, code, 0, buf, 1024, null) as number;
      return buf.toString('utf16le', 0, n * 2).trim();
    },
  };
}
