/**
 * The client of the Vigil kernel driver: CreateFileW on its device (overlapped), the control
 * IOCTLs (HELLO with the protocol version, policy, stats, canary, the test build's injection)
 * and a reader on a worker thread that keeps several READ IOCTLs pending and posts the raw
 * buffers back (driver-reader.ts). Layouts and codes come from driver/protocol (generated).
 *
 * koffi is loaded when `openDriver` is called, not on import.
 */
import { Worker } from 'node:worker_threads';
import * as P from '../../protocol/protocol.js';
import { decodeRecords, RecordDecodeError, SeqReorder, type DriverRecord } from '../../protocol/records.js';
import { windowsKoffi, type Koffi } from './koffi.js';

export const ERROR_IO_PENDING = 997;
export const ERROR_OPERATION_ABORTED = 995;
export const ERROR_REVISION_MISMATCH = 1306;
export const ERROR_INVALID_FUNCTION = 1;
export const ERROR_FILE_NOT_FOUND = 2;
export const ERROR_ACCESS_DENIED = 5;
export const ERROR_SHARING_VIOLATION = 32;
/** OVERLAPPED on x64: Internal 0, InternalHigh 8, Offset 16, OffsetHigh 20, hEvent 24. */
export const OVERLAPPED_SIZE = 32;
const OVERLAPPED_EVENT = 24;

type Fn = ((...args: unknown[]) => unknown) & { async: (...args: unknown[]) => void };

export type DriverCall<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: number; readonly call: string };

/** The outcome of connecting: the device, or why not (a protocol mismatch names both versions). */
export type Connect =
  | { readonly ok: true; readonly device: DriverDevice; readonly hello: P.HELLO_OUT }
  | { readonly ok: false; readonly reason: 'open'; readonly error: number; readonly message: string }
  | { readonly ok: false; readonly reason: 'protocol'; readonly driver: { major: number; minor: number }; readonly message: string };

export interface ReaderOptions {
  /** Reads kept pending at once. */
  readonly reads?: number;
  readonly bufferBytes?: number;
  /** Records in the driver's order (reads completed out of order are put back in order). */
  onRecords(records: DriverRecord[]): void;
  /** A gap older than this is given up and the held records delivered (default 2000 ms). */
  readonly reorderMs?: number;
  /** A read failed with something other than a cancellation: the reader stops. */
  onError(err: { error: number; call: string }): void;
}

export interface Reader {
  /** CancelIoEx on every pending read, then the worker ends; resolves with the cancelled count. */
  stop(): Promise<{ cancelled: number }>;
}

export interface DriverDevice {
  readonly handle: bigint;
  hello(major: number, minor: number): DriverCall<P.HELLO_OUT>;
  setPolicy(p: P.POLICY): DriverCall<void>;
  getPolicy(): DriverCall<P.POLICY>;
  stats(): DriverCall<P.STATS>;
  armCanary(nonce: bigint, pid: number): DriverCall<void>;
  /** Test build only (the release build answers ERROR_INVALID_FUNCTION): returns how many were queued. */
  inject(records: Uint8Array): DriverCall<number>;
  /** One raw IOCTL (tests: an unknown code, a read without negotiation). */
  ioctl(code: number, input: Uint8Array, outBytes: number): DriverCall<{ bytes: number; out: ArrayBuffer }>;
  startReader(opts: ReaderOptions): Reader;
  close(): void;
}

interface Kernel32 {
  koffi: Koffi;
  CreateFileW: Fn;
  DeviceIoControl: Fn;
  GetOverlappedResult: Fn;
  CreateEventW: Fn;
  CloseHandle: Fn;
  GetLastError: Fn;
}

let bound: Promise<Kernel32> | undefined;
/**
 * The driver allows one client per machine, so the process holds at most one connection: the
 * sensor opens it, and other parts of the agent (the enforcement responder) use the same one.
 */
let connected: DriverDevice | undefined;

/** The agent's open connection to the driver, if any. */
export function connectedDriver(): DriverDevice | undefined {
  return connected;
}

async function bindKernel32(): Promise<Kernel32> {
  const koffi = await windowsKoffi();
  const k32 = koffi.load('kernel32.dll');
  const f = (sig: string) => k32.func(sig) as Fn;
  return {
    koffi,
    CreateFileW: f('void * __stdcall CreateFileW(str16 name, uint32_t access, uint32_t share, void *sa, uint32_t disposition, uint32_t flags, void *template)'),
    DeviceIoControl: f('int __stdcall DeviceIoControl(void *h, uint32_t code, void *in, uint32_t inLen, void *out, uint32_t outLen, _Out_ uint32_t *returned, void *overlapped)'),
    GetOverlappedResult: f('int __stdcall GetOverlappedResult(void *h, void *overlapped, _Out_ uint32_t *bytes, int wait)'),
    CreateEventW: f('void * __stdcall CreateEventW(void *sa, int manual, int initial, void *name)'),
    CloseHandle: f('int __stdcall CloseHandle(void *h)'),
    GetLastError: f('uint32_t __stdcall GetLastError()'),
  };
}

const GENERIC_READ = 0x80000000;
const GENERIC_WRITE = 0x40000000;
const OPEN_EXISTING = 3;
const FILE_FLAG_OVERLAPPED = 0x40000000;

function isInvalid(h: unknown): boolean {
  return h === null || h === undefined || h === 0n || h === -1n || h === 0xffffffffffffffffn;
}

/** Opens the device and negotiates the protocol; a driver of another major version is refused. */
export async function openDriver(path: string = P.DEVICE_WIN32, version: { major: number; minor: number } = { major: P.PROTOCOL_MAJOR, minor: P.PROTOCOL_MINOR }): Promise<Connect> {
  bound ??= bindKernel32();
  const k = await bound;
  const h = k.CreateFileW(path, (GENERIC_READ | GENERIC_WRITE) >>> 0, 0, null, OPEN_EXISTING, FILE_FLAG_OVERLAPPED, null);
  if (isInvalid(h)) {
    const error = k.GetLastError() as number;
    const why = error === ERROR_FILE_NOT_FOUND ? 'the driver is not loaded' : error === ERROR_ACCESS_DENIED ? 'the agent is not elevated' : error === ERROR_SHARING_VIOLATION ? 'another client holds the device (sharing violation)' : `error ${error}`;
    return { ok: false, reason: 'open', error, message: `cannot open ${path}: ${why}` };
  }
  const device = makeDevice(k, h as bigint);
  const hello = device.hello(version.major, version.minor);
  if (!hello.ok) {
    device.close();
    // Wine's driver host hands out a handle even when the driver refused the open; the
    // driver then refuses every request on it (access denied).
    const why = hello.error === ERROR_ACCESS_DENIED ? ': another client holds the device, or the agent is not elevated' : '';
    return { ok: false, reason: 'open', error: hello.error, message: `${path}: HELLO failed with error ${hello.error}${why}` };
  }
  if (hello.value.major !== version.major) {
    device.close();
    return {
      ok: false,
      reason: 'protocol',
      driver: { major: hello.value.major, minor: hello.value.minor },
      message: `the driver speaks protocol ${hello.value.major}.${hello.value.minor}, this agent ${version.major}.${version.minor}: install the driver of this agent's release`,
    };
  }
  connected = device;
  return { ok: true, device, hello: hello.value };
}

function makeDevice(k: Kernel32, handle: bigint): DriverDevice {
  const { koffi } = k;
  // One overlapped + event for the synchronous control calls (the device is opened overlapped).
  const ov = koffi.alloc('uint8_t', OVERLAPPED_SIZE) as unknown;
  const ovView = new DataView(koffi.view(ov, OVERLAPPED_SIZE));
  const event = k.CreateEventW(null, 1, 0, null) as bigint;
  let closed = false;

  function ioctl(code: number, input: Uint8Array, outBytes: number): DriverCall<{ bytes: number; out: ArrayBuffer }> {
    const inMem = input.length > 0 ? (koffi.alloc('uint8_t', input.length) as unknown) : null;
    const outMem = outBytes > 0 ? (koffi.alloc('uint8_t', outBytes) as unknown) : null;
    try {
      if (inMem) new Uint8Array(koffi.view(inMem, input.length)).set(input);
      new Uint8Array(ovView.buffer).fill(0);
      ovView.setBigUint64(OVERLAPPED_EVENT, event, true);
      const n = [0];
      let ok = k.DeviceIoControl(handle, code, inMem, input.length, outMem, outBytes, n, ov) as number;
      if (!ok) {
        const err = k.GetLastError() as number;
        if (err !== ERROR_IO_PENDING) return { ok: false, error: err, call: `DeviceIoControl(${code.toString(16)})` };
        ok = k.GetOverlappedResult(handle, ov, n, 1) as number;
        if (!ok) return { ok: false, error: k.GetLastError() as number, call: `GetOverlappedResult(${code.toString(16)})` };
      } else {
        k.GetOverlappedResult(handle, ov, n, 0);
      }
      const bytes = n[0] ?? 0;
      const out = outMem ? koffi.view(outMem, outBytes).slice(0, bytes) : new ArrayBuffer(0);
      return { ok: true, value: { bytes, out } };
    } finally {
      if (inMem) koffi.free(inMem);
      if (outMem) koffi.free(outMem);
    }
  }

  const struct = <T>(code: number, size: number, decode: (v: DataView, o: number) => T): DriverCall<T> => {
    const r = ioctl(code, new Uint8Array(0), size);
    if (!r.ok) return r;
    if (r.value.bytes < size) return { ok: false, error: 0, call: `IOCTL ${code.toString(16)}: ${r.value.bytes} of ${size} bytes` };
    return { ok: true, value: decode(new DataView(r.value.out), 0) };
  };
  const encoded = <T>(size: number, encode: (v: DataView, o: number, x: T) => void, x: T): Uint8Array => {
    const b = new Uint8Array(size);
    encode(new DataView(b.buffer), 0, x);
    return b;
  };
  const unit = (r: DriverCall<unknown>): DriverCall<void> => (r.ok ? { ok: true, value: undefined } : r);

  const self: DriverDevice = {
    handle,
    hello(major, minor) {
      const r = ioctl(P.IOCTL.HELLO, encoded(P.LAYOUT.HELLO_IN.size, P.encodeHELLO_IN, { major, minor }), P.LAYOUT.HELLO_OUT.size);
      if (!r.ok) return r;
      return { ok: true, value: P.decodeHELLO_OUT(new DataView(r.value.out), 0) };
    },
    setPolicy: (p) => unit(ioctl(P.IOCTL.SET_POLICY, encoded(P.LAYOUT.POLICY.size, P.encodePOLICY, p), 0)),
    getPolicy: () => struct(P.IOCTL.GET_POLICY, P.LAYOUT.POLICY.size, P.decodePOLICY),
    stats: () => struct(P.IOCTL.GET_STATS, P.LAYOUT.STATS.size, P.decodeSTATS),
    armCanary: (nonce, pid) => unit(ioctl(P.IOCTL.ARM_CANARY, encoded(P.LAYOUT.CANARY_ARM.size, P.encodeCANARY_ARM, { nonce, pid, reserved: 0 }), 0)),
    inject(records) {
      const r = ioctl(P.IOCTL.TEST_INJECT, records, 0);
      return r.ok ? { ok: true, value: r.value.bytes } : r;
    },
    ioctl,
    startReader(opts) {
      const stop = new SharedArrayBuffer(4);
      const worker = new Worker(new URL('./driver-reader.js', import.meta.url), {
        workerData: { handle, reads: opts.reads ?? 4, bufferBytes: opts.bufferBytes ?? 64 * 1024, code: P.IOCTL.READ, stop },
      });
      const reorder = new SeqReorder();
      // A gap that does not fill (a read lost in the host) must not hold records forever.
      const guard = setInterval(() => {
        if (reorder.holding > 0 && Date.now() - heldSince > (opts.reorderMs ?? 2000)) opts.onRecords(reorder.flush());
      }, 250);
      guard.unref();
      let heldSince = 0;
      let stopped: Promise<{ cancelled: number }> | undefined;
      let resolveStop: ((v: { cancelled: number }) => void) | undefined;
      worker.on('message', (m: { t: 'buf'; buf: ArrayBuffer } | { t: 'error'; error: number; call: string } | { t: 'stopped'; cancelled: number }) => {
        if (m.t === 'buf') {
          let recs: DriverRecord[];
          try {
            recs = decodeRecords(new DataView(m.buf), m.buf.byteLength);
          } catch (err) {
            if (!(err instanceof RecordDecodeError)) throw err;
            opts.onError({ error: -1, call: `decoding a read: ${err.message}` });
            return;
          }
          const wasHolding = reorder.holding > 0;
          const out = reorder.push(recs);
          if (!wasHolding && reorder.holding > 0) heldSince = Date.now();
          if (out.length > 0) opts.onRecords(out);
        }
        else if (m.t === 'error') opts.onError({ error: m.error, call: m.call });
        else {
          clearInterval(guard);
          const rest = reorder.flush();
          if (rest.length > 0) opts.onRecords(rest);
          resolveStop?.({ cancelled: m.cancelled });
        }
      });
      worker.on('error', (err) => opts.onError({ error: -1, call: `reader worker: ${err.message}` }));
      return {
        stop() {
          stopped ??= new Promise<{ cancelled: number }>((resolve) => {
            // The worker ends by itself once its reads are cancelled and its memory freed.
            resolveStop = resolve;
            worker.once('exit', () => resolve({ cancelled: -1 }));
            Atomics.store(new Int32Array(stop), 0, 1);
          });
          return stopped;
        },
      };
    },
    close() {
      if (closed) return;
      closed = true;
      if (connected === self) connected = undefined;
      k.CloseHandle(handle);
      k.CloseHandle(event);
      koffi.free(ov);
    },
  };
  return self;
}
