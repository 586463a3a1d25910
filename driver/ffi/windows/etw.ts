/**
 * advapi32 (ETW controller and consumer) + tdh bindings for a real-time trace session:
 * StartTraceW, ControlTraceW (STOP, QUERY), EnableTraceEx2, OpenTraceW, ProcessTrace,
 * CloseTrace, TdhGetEventInformation.
 *
 * The structs the calls read and write (EVENT_TRACE_PROPERTIES, EVENT_RECORD, TRACE_EVENT_INFO)
 * are plain buffers read and written with DataView at the offsets of LAYOUTS (the x64 mingw
 * headers); koffi definitions of the same structs are checked against that table at bind
 * time, and both against a mingw-compiled probe in the Wine test. EVENT_TRACE_LOGFILEW is a
 * koffi struct because it carries the two registered callbacks.
 *
 * ProcessTrace blocks until the trace is closed and calls the callbacks on the thread that
 * called it: call it synchronously from a worker thread, never on the agent's event loop.
 * DLL names are parameters so a test can point the binding at a double; production uses the
 * system DLLs. koffi is loaded when `bindEtw` is called, not on import.
 */
import { windowsKoffi, type Koffi } from './koffi.js';

export const ERROR_SUCCESS = 0;
export const ERROR_ACCESS_DENIED = 5;
export const ERROR_INVALID_PARAMETER = 87;
export const ERROR_INSUFFICIENT_BUFFER = 122;
export const ERROR_ALREADY_EXISTS = 183;
export const ERROR_MORE_DATA = 234;
export const ERROR_NOT_FOUND = 1168;
export const ERROR_CANCELLED = 1223;
export const ERROR_NO_SYSTEM_RESOURCES = 1450;
export const ERROR_WMI_INSTANCE_NOT_FOUND = 4201;
export const ERROR_CTX_CLOSE_PENDING = 7007;

export const EVENT_TRACE_REAL_TIME_MODE = 0x100;
export const PROCESS_TRACE_MODE_REAL_TIME = 0x100;
export const PROCESS_TRACE_MODE_EVENT_RECORD = 0x10000000;
export const EVENT_CONTROL_CODE_ENABLE_PROVIDER = 1;
export const EVENT_TRACE_CONTROL_QUERY = 0;
export const EVENT_TRACE_CONTROL_STOP = 1;
export const WNODE_FLAG_TRACED_GUID = 0x00020000;
/** EVENT_HEADER.Flags: the provider ran as a 32-bit process (pointers in UserData are 4 bytes). */
export const EVENT_HEADER_FLAG_32_BIT_HEADER = 0x20;
export const INVALID_PROCESSTRACE_HANDLE = 0xffffffffffffffffn;

/** Longest session name ETW accepts, in WCHARs (MAX_PATH-ish; names longer are refused). */
export const MAX_SESSION_NAME = 1024;

/** x64 layouts from the mingw-w64 headers (evntrace.h, evntcons.h, tdh.h); see the notes table. */
export const LAYOUTS = {
  EVENT_TRACE_PROPERTIES: {
    size: 120,
    offsets: {
      'Wnode.Guid': 24,
      'Wnode.ClientContext': 40,
      'Wnode.Flags': 44,
      BufferSize: 48,
      MinimumBuffers: 52,
      MaximumBuffers: 56,
      LogFileMode: 64,
      FlushTimer: 68,
      EventsLost: 88,
      RealTimeBuffersLost: 100,
      LogFileNameOffset: 112,
      LoggerNameOffset: 116,
    },
  },
  EVENT_TRACE_LOGFILEW: { size: 448, offsets: { LoggerName: 8, ProcessTraceMode: 28, BufferCallback: 400, EventRecordCallback: 424, Context: 440 } },
  EVENT_HEADER: { size: 80, offsets: { Flags: 4, ThreadId: 8, ProcessId: 12, TimeStamp: 16, ProviderId: 24, EventDescriptor: 40, ActivityId: 64 } },
  EVENT_RECORD: { size: 112, offsets: { ExtendedDataCount: 84, UserDataLength: 86, ExtendedData: 88, UserData: 96, UserContext: 104 } },
  TRACE_EVENT_INFO: {
    size: 136,
    offsets: { EventDescriptor: 32, ProviderNameOffset: 52, TaskNameOffset: 68, PropertyCount: 100, TopLevelPropertyCount: 104, EventPropertyInfoArray: 112 },
  },
  EVENT_PROPERTY_INFO: { size: 24, offsets: { NameOffset: 4, 'nonStructType.InType': 8, 'nonStructType.OutType': 10, count: 16, length: 18 } },
} as const;

export type EtwStructName = keyof typeof LAYOUTS;

const P = LAYOUTS.EVENT_TRACE_PROPERTIES.offsets;

/** A call's outcome: a value, or the Win32 error it failed with. */
export type EtwResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: number; readonly call: string };

/** What ControlTraceW reports of a session. */
export interface SessionStats {
  readonly eventsLost: number;
  readonly realTimeBuffersLost: number;
}

export interface EnableOptions {
  /** TRACE_LEVEL_* (1 critical … 5 verbose). */
  readonly level: number;
  /** MatchAnyKeyword. */
  readonly keywords: bigint;
}

export interface StartOptions {
  /** Buffer size in KB. */
  readonly bufferKb: number;
  readonly minBuffers: number;
  readonly maxBuffers: number;
  /** Seconds between flushes of partly filled buffers to the consumer. */
  readonly flushSeconds: number;
}

export interface TraceCallbacks {
  /** Called for every event, on the thread inside ProcessTrace; `record` is valid only during the call. */
  onRecord(record: unknown): void;
  /** Called after each buffer is delivered; return false to end ProcessTrace. */
  onBuffer(): boolean;
}

export interface EtwApi {
  /** StartTraceW of a real-time session: its controller handle. */
  startTrace(name: string, options: StartOptions): EtwResult<bigint>;
  /** ControlTraceW STOP by name (handle 0) or by handle: the session's final counters. */
  stopTrace(name: string, handle?: bigint): EtwResult<SessionStats>;
  /** ControlTraceW QUERY by name. */
  queryTrace(name: string): EtwResult<SessionStats>;
  /** EnableTraceEx2(EVENT_CONTROL_CODE_ENABLE_PROVIDER): a Win32 error, 0 on success. */
  enableProvider(session: bigint, provider: string, options: EnableOptions): number;
  /** OpenTraceW of the real-time session with EVENT_RECORD callbacks (registered until `closeTrace`). */
  openTrace(name: string, callbacks: TraceCallbacks): EtwResult<bigint>;
  /** ProcessTrace: blocks this thread until the trace is closed or onBuffer returns false. */
  processTrace(handle: bigint): number;
  /** CloseTrace (ERROR_CTX_CLOSE_PENDING means success: buffers are still being handed over). */
  closeTrace(handle: bigint): number;
  /** The EVENT_RECORD (112 bytes) and its UserData, as views valid only during the callback. */
  recordViews(record: unknown): { record: DataView; userData: DataView };
  /** TdhGetEventInformation with the two-call sizing: the TRACE_EVENT_INFO bytes (a copy). */
  eventInformation(record: unknown): EtwResult<DataView>;
  /** Drop the callbacks of an opened trace; only once its ProcessTrace has returned. */
  releaseCallbacks(handle: bigint): void;
}

export interface EtwDlls {
  readonly advapi32?: string;
  readonly tdh?: string;
}

/** `{22FB2CD6-0E7B-422B-A0C7-2FAD1FD0E716}` or without braces → the 16 bytes of a GUID struct. */
export function guidBytes(guid: string): Uint8Array {
  const m = /^\{?([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})\}?$/i.exec(guid.trim());
  if (!m) throw new Error(`not a GUID: ${guid}`);
  const out = new Uint8Array(16);
  const v = new DataView(out.buffer);
  v.setUint32(0, parseInt(m[1]!, 16), true);
  v.setUint16(4, parseInt(m[2]!, 16), true);
  v.setUint16(6, parseInt(m[3]!, 16), true);
  const tail = m[4]! + m[5]!;
  for (let i = 0; i < 8; i++) out[8 + i] = parseInt(tail.slice(i * 2, i * 2 + 2), 16);
  return out;
}

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0').toUpperCase());

/** The GUID struct at `offset` as canonical upper-case text without braces. */
export function guidText(v: DataView, offset: number): string {
  const d1 = v.getUint32(offset, true).toString(16).padStart(8, '0');
  const d2 = v.getUint16(offset + 4, true).toString(16).padStart(4, '0');
  const d3 = v.getUint16(offset + 6, true).toString(16).padStart(4, '0');
  let d4 = '';
  for (let i = 0; i < 8; i++) {
    if (i === 2) d4 += '-';
    d4 += HEX[v.getUint8(offset + 8 + i)]!;
  }
  return `${d1}-${d2}-${d3}-`.toUpperCase() + d4;
}

/** An EVENT_TRACE_PROPERTIES buffer with room for the logger name after the struct. */
export function traceProperties(name: string, options?: StartOptions): Buffer {
  if (name.length === 0 || name.length >= MAX_SESSION_NAME) throw new Error(`ETW session name must have 1 to ${MAX_SESSION_NAME - 1} characters`);
  const size = LAYOUTS.EVENT_TRACE_PROPERTIES.size + (MAX_SESSION_NAME + 1) * 2;
  const buf = Buffer.alloc(size);
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  v.setUint32(0, size, true);
  v.setUint32(P['Wnode.Flags'], WNODE_FLAG_TRACED_GUID, true);
  // 1 = query performance counter timestamps (the consumer still sees FILETIMEs).
  v.setUint32(P['Wnode.ClientContext'], 1, true);
  v.setUint32(P.LoggerNameOffset, LAYOUTS.EVENT_TRACE_PROPERTIES.size, true);
  if (options) {
    v.setUint32(P.BufferSize, options.bufferKb, true);
    v.setUint32(P.MinimumBuffers, options.minBuffers, true);
    v.setUint32(P.MaximumBuffers, options.maxBuffers, true);
    v.setUint32(P.LogFileMode, EVENT_TRACE_REAL_TIME_MODE, true);
    v.setUint32(P.FlushTimer, options.flushSeconds, true);
  }
  return buf;
}

function sessionStats(buf: Buffer): SessionStats {
  return { eventsLost: buf.readUInt32LE(P.EventsLost), realTimeBuffersLost: buf.readUInt32LE(P.RealTimeBuffersLost) };
}

type Fn = (...args: unknown[]) => unknown;
interface Types {
  properties: unknown;
  logfile: unknown;
  header: unknown;
  record: unknown;
  info: unknown;
  property: unknown;
  recordCallback: unknown;
  bufferCallback: unknown;
}
let types: Types | undefined;

/** The struct types, defined once per process (koffi's type names are global) and checked against LAYOUTS. */
function defineTypes(koffi: Koffi): Types {
  if (types) return types;
  const u8 = (n: number) => koffi.array('uint8_t', n);
  const properties = koffi.struct('VIGIL_EVENT_TRACE_PROPERTIES', {
    Wnode_BufferSize: 'uint32_t',
    Wnode_ProviderId: 'uint32_t',
    Wnode_HistoricalContext: 'uint64_t',
    Wnode_TimeStamp: 'int64_t',
    Wnode_Guid: u8(16),
    Wnode_ClientContext: 'uint32_t',
    Wnode_Flags: 'uint32_t',
    BufferSize: 'uint32_t',
    MinimumBuffers: 'uint32_t',
    MaximumBuffers: 'uint32_t',
    MaximumFileSize: 'uint32_t',
    LogFileMode: 'uint32_t',
    FlushTimer: 'uint32_t',
    EnableFlags: 'uint32_t',
    AgeLimit: 'int32_t',
    NumberOfBuffers: 'uint32_t',
    FreeBuffers: 'uint32_t',
    EventsLost: 'uint32_t',
    BuffersWritten: 'uint32_t',
    LogBuffersLost: 'uint32_t',
    RealTimeBuffersLost: 'uint32_t',
    LoggerThreadId: 'void *',
    LogFileNameOffset: 'uint32_t',
    LoggerNameOffset: 'uint32_t',
  });
  const recordCallback = koffi.proto('void __stdcall VigilEventRecordCallback(void *record)');
  const bufferCallback = koffi.proto('uint32_t __stdcall VigilEventTraceBufferCallback(void *logfile)');
  const logfile = koffi.struct('VIGIL_EVENT_TRACE_LOGFILEW', {
    LogFileName: 'void *',
    LoggerName: 'const char16_t *',
    CurrentTime: 'int64_t',
    BuffersRead: 'uint32_t',
    ProcessTraceMode: 'uint32_t',
    CurrentEvent: u8(88), // EVENT_TRACE: unused with EVENT_RECORD callbacks
    LogfileHeader: u8(280), // TRACE_LOGFILE_HEADER: filled by OpenTraceW, unused here
    BufferCallback: koffi.pointer(bufferCallback),
    BufferSize: 'uint32_t',
    Filled: 'uint32_t',
    EventsLost: 'uint32_t',
    EventRecordCallback: koffi.pointer(recordCallback),
    IsKernelTrace: 'uint32_t',
    Context: 'void *',
  });
  const header = koffi.struct('VIGIL_EVENT_HEADER', {
    Size: 'uint16_t',
    HeaderType: 'uint16_t',
    Flags: 'uint16_t',
    EventProperty: 'uint16_t',
    ThreadId: 'uint32_t',
    ProcessId: 'uint32_t',
    TimeStamp: 'int64_t',
    ProviderId: u8(16),
    EventDescriptor: u8(16),
    ProcessorTime: 'uint64_t',
    ActivityId: u8(16),
  });
  const record = koffi.struct('VIGIL_EVENT_RECORD', {
    EventHeader: header,
    BufferContext: 'uint32_t',
    ExtendedDataCount: 'uint16_t',
    UserDataLength: 'uint16_t',
    ExtendedData: 'void *',
    UserData: 'void *',
    UserContext: 'void *',
  });
  const info = koffi.struct('VIGIL_TRACE_EVENT_INFO', {
    ProviderGuid: u8(16),
    EventGuid: u8(16),
    EventDescriptor: u8(16),
    DecodingSource: 'uint32_t',
    ProviderNameOffset: 'uint32_t',
    LevelNameOffset: 'uint32_t',
    ChannelNameOffset: 'uint32_t',
    KeywordsNameOffset: 'uint32_t',
    TaskNameOffset: 'uint32_t',
    OpcodeNameOffset: 'uint32_t',
    EventMessageOffset: 'uint32_t',
    ProviderMessageOffset: 'uint32_t',
    BinaryXMLOffset: 'uint32_t',
    BinaryXMLSize: 'uint32_t',
    EventNameOffset: 'uint32_t',
    EventAttributesOffset: 'uint32_t',
    PropertyCount: 'uint32_t',
    TopLevelPropertyCount: 'uint32_t',
    Flags: 'uint32_t',
    // EVENT_PROPERTY_INFO[ANYSIZE_ARRAY]: 4-byte aligned members, one element counted in the size.
    EventPropertyInfoArray: koffi.array('uint32_t', 6),
  });
  const property = koffi.struct('VIGIL_EVENT_PROPERTY_INFO', {
    Flags: 'uint32_t',
    NameOffset: 'uint32_t',
    nonStructType_InType: 'uint16_t',
    nonStructType_OutType: 'uint16_t',
    nonStructType_MapNameOffset: 'uint32_t',
    count: 'uint16_t',
    length: 'uint16_t',
    Reserved: 'uint32_t',
  });
  const t: Types = { properties, logfile, header, record, info, property, recordCallback, bufferCallback };
  const problems = checkLayouts(koffi, structTypesOf(t));
  if (problems.length > 0) throw new Error(`koffi ETW struct layouts differ from the x64 headers: ${problems.join('; ')}`);
  types = t;
  return t;
}

function structTypesOf(t: Types): Record<EtwStructName, unknown> {
  return {
    EVENT_TRACE_PROPERTIES: t.properties,
    EVENT_TRACE_LOGFILEW: t.logfile,
    EVENT_HEADER: t.header,
    EVENT_RECORD: t.record,
    TRACE_EVENT_INFO: t.info,
    EVENT_PROPERTY_INFO: t.property,
  };
}

/** The koffi name of a LAYOUTS field: nested members are flattened (`Wnode.Guid` → `Wnode_Guid`). */
export function koffiField(field: string): string {
  return field.replaceAll('.', '_');
}

/** Each size and offset of LAYOUTS that the given koffi types do not match, as text. */
export function checkLayouts(koffi: Koffi, defined: Record<EtwStructName, unknown>): string[] {
  const out: string[] = [];
  for (const [name, want] of Object.entries(LAYOUTS) as Array<[EtwStructName, (typeof LAYOUTS)[EtwStructName]]>) {
    const t = defined[name] as Parameters<Koffi['sizeof']>[0];
    if (koffi.sizeof(t) !== want.size) out.push(`sizeof ${name} = ${koffi.sizeof(t)}, expected ${want.size}`);
    for (const [field, off] of Object.entries(want.offsets)) {
      const got = koffi.offsetof(t, koffiField(field));
      if (got !== off) out.push(`offsetof ${name}.${field} = ${got}, expected ${off}`);
    }
  }
  return out;
}

/** The koffi definitions of LAYOUTS' structs (for the layout test); binds nothing. */
export async function etwStructTypes(): Promise<Record<EtwStructName, unknown>> {
  return structTypesOf(defineTypes(await windowsKoffi()));
}

const bound = new Map<string, Promise<EtwApi>>();

/** Bind the ETW calls once per DLL pair; rejects (with the reason) when koffi or a DLL cannot be loaded. */
export function bindEtw(dlls: EtwDlls = {}): Promise<EtwApi> {
  const adv = dlls.advapi32 ?? 'advapi32.dll';
  const tdh = dlls.tdh ?? 'tdh.dll';
  const key = `${adv}|${tdh}`;
  let p = bound.get(key);
  if (!p) {
    p = bind(adv, tdh);
    bound.set(key, p);
    // A failed bind is not kept: the next caller gets a fresh attempt (and the reason again).
    p.catch(() => bound.delete(key));
  }
  return p;
}

async function bind(advapiName: string, tdhName: string): Promise<EtwApi> {
  const koffi = await windowsKoffi();
  const t = defineTypes(koffi);
  const adv = koffi.load(advapiName);
  const tdh = tdhName === advapiName ? adv : koffi.load(tdhName);
  const f = (lib: ReturnType<Koffi['load']>, sig: string) => lib.func(sig) as Fn;

  const StartTraceW = f(adv, 'uint32_t __stdcall StartTraceW(void *handle, const char16_t *name, void *props)');
  const ControlTraceW = f(adv, 'uint32_t __stdcall ControlTraceW(uint64_t handle, const char16_t *name, void *props, uint32_t code)');
  const EnableTraceEx2 = f(
    adv,
    'uint32_t __stdcall EnableTraceEx2(uint64_t handle, void *provider, uint32_t control, uint8_t level, uint64_t any, uint64_t all, uint32_t timeout, void *params)',
  );
  const OpenTraceW = f(adv, 'uint64_t __stdcall OpenTraceW(VIGIL_EVENT_TRACE_LOGFILEW *logfile)');
  const ProcessTrace = f(adv, 'uint32_t __stdcall ProcessTrace(void *handles, uint32_t count, void *start, void *end)');
  const CloseTrace = f(adv, 'uint32_t __stdcall CloseTrace(uint64_t handle)');
  const GetLastError = f(koffi.load('kernel32.dll'), 'uint32_t __stdcall GetLastError()');
  const TdhGetEventInformation = f(tdh, 'uint32_t __stdcall TdhGetEventInformation(void *event, uint32_t count, void *context, void *info, void *size)');

  const registered = new Map<bigint, bigint[]>();
  const recordSize = LAYOUTS.EVENT_RECORD.size;
  const R = LAYOUTS.EVENT_RECORD.offsets;
  const control = (name: string, handle: bigint, code: number, call: string): EtwResult<SessionStats> => {
    const props = traceProperties(name);
    const rc = ControlTraceW(handle, handle === 0n ? name : null, props, code) as number;
    return rc === ERROR_SUCCESS || rc === ERROR_MORE_DATA ? { ok: true, value: sessionStats(props) } : { ok: false, error: rc, call };
  };
  // TRACE_EVENT_INFO sizes vary by event; one growing scratch buffer serves every first call.
  let scratch = Buffer.alloc(4096);

  return {
    startTrace(name, options) {
      const handle = Buffer.alloc(8);
      const rc = StartTraceW(handle, name, traceProperties(name, options)) as number;
      return rc === ERROR_SUCCESS ? { ok: true, value: handle.readBigUInt64LE(0) } : { ok: false, error: rc, call: 'StartTraceW' };
    },
    stopTrace: (name, handle = 0n) => control(name, handle, EVENT_TRACE_CONTROL_STOP, 'ControlTraceW(STOP)'),
    queryTrace: (name) => control(name, 0n, EVENT_TRACE_CONTROL_QUERY, 'ControlTraceW(QUERY)'),
    enableProvider(session, provider, options) {
      return EnableTraceEx2(session, Buffer.from(guidBytes(provider)), EVENT_CONTROL_CODE_ENABLE_PROVIDER, options.level, options.keywords, 0n, 0, null) as number;
    },
    openTrace(name, callbacks) {
      const onRecord = koffi.register((record: unknown) => callbacks.onRecord(record), koffi.pointer(t.recordCallback as ReturnType<Koffi['proto']>));
      const onBuffer = koffi.register((_logfile: unknown) => (callbacks.onBuffer() ? 1 : 0), koffi.pointer(t.bufferCallback as ReturnType<Koffi['proto']>));
      const h = OpenTraceW({
        LogFileName: null,
        LoggerName: name,
        CurrentTime: 0,
        BuffersRead: 0,
        ProcessTraceMode: PROCESS_TRACE_MODE_REAL_TIME | PROCESS_TRACE_MODE_EVENT_RECORD,
        BufferCallback: onBuffer,
        BufferSize: 0,
        Filled: 0,
        EventsLost: 0,
        EventRecordCallback: onRecord,
        IsKernelTrace: 0,
        Context: null,
      });
      const handle = BigInt(h as number | bigint);
      if (handle === INVALID_PROCESSTRACE_HANDLE) {
        const error = GetLastError() as number;
        koffi.unregister(onRecord);
        koffi.unregister(onBuffer);
        return { ok: false, error, call: 'OpenTraceW' };
      }
      registered.set(handle, [onRecord, onBuffer]);
      return { ok: true, value: handle };
    },
    processTrace(handle) {
      const handles = Buffer.alloc(8);
      handles.writeBigUInt64LE(handle);
      return ProcessTrace(handles, 1, null, null) as number;
    },
    closeTrace(handle) {
      // The callbacks stay registered until ProcessTrace can no longer call them
      // (releaseCallbacks, by the thread that ran ProcessTrace, after it returned).
      return CloseTrace(handle) as number;
    },
    recordViews(record) {
      const rec = new DataView(koffi.view(record, recordSize));
      const len = rec.getUint16(R.UserDataLength, true);
      const user = len === 0 ? new DataView(new ArrayBuffer(0)) : new DataView(koffi.view(koffi.decode(record, R.UserData, 'void *'), len));
      return { record: rec, userData: user };
    },
    eventInformation(record) {
      const size = Buffer.alloc(4);
      size.writeUInt32LE(scratch.length);
      let rc = TdhGetEventInformation(record, 0, null, scratch, size) as number;
      if (rc === ERROR_INSUFFICIENT_BUFFER) {
        scratch = Buffer.alloc(Math.max(size.readUInt32LE(0), scratch.length * 2));
        size.writeUInt32LE(scratch.length);
        rc = TdhGetEventInformation(record, 0, null, scratch, size) as number;
      }
      if (rc !== ERROR_SUCCESS) return { ok: false, error: rc, call: 'TdhGetEventInformation' };
      const copy = new Uint8Array(scratch.subarray(0, size.readUInt32LE(0)));
      return { ok: true, value: new DataView(copy.buffer) };
    },
    releaseCallbacks(handle) {
      for (const cb of registered.get(handle) ?? []) koffi.unregister(cb);
      registered.delete(handle);
    },
  };
}
