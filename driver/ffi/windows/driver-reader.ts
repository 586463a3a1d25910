/**
 * Worker thread of the driver client: keeps `reads` READ IOCTLs pending on the device (each
 * with its own OVERLAPPED, event and buffer in native memory, stable while pending), waits for
 * any of them synchronously (WaitForMultipleObjects; this thread does nothing else), posts each
 * completed buffer to the main thread and re-issues the read. On 'stop' it cancels its reads
 * with CancelIoEx, waits until each has completed (ERROR_OPERATION_ABORTED) and reports how
 * many were cancelled: no read is left pointing at freed memory.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { windowsKoffi } from './koffi.js';

type Fn = (...args: unknown[]) => unknown;
const ERROR_IO_PENDING = 997;
const ERROR_OPERATION_ABORTED = 995;
const WAIT_TIMEOUT = 0x102;
const OVERLAPPED_SIZE = 32;
/** Longest wait between looks at the stop flag. */
const SLICE_MS = 100;

const { handle, reads, bufferBytes, code, stop } = workerData as { handle: bigint; reads: number; bufferBytes: number; code: number; stop: SharedArrayBuffer };
const port = parentPort;
if (!port) throw new Error('driver-reader runs as a worker');
// The loop below never yields to this thread's event loop, so the stop request is a shared
// flag, not a message.
const stopFlag = new Int32Array(stop);
const stopping = (): boolean => Atomics.load(stopFlag, 0) !== 0;

const koffi = await windowsKoffi();
const k32 = koffi.load('kernel32.dll');
const DeviceIoControl = k32.func('int __stdcall DeviceIoControl(void *h, uint32_t code, void *in, uint32_t inLen, void *out, uint32_t outLen, _Out_ uint32_t *returned, void *overlapped)') as Fn;
const GetOverlappedResult = k32.func('int __stdcall GetOverlappedResult(void *h, void *overlapped, _Out_ uint32_t *bytes, int wait)') as Fn;
const CreateEventW = k32.func('void * __stdcall CreateEventW(void *sa, int manual, int initial, void *name)') as Fn;
const ResetEvent = k32.func('int __stdcall ResetEvent(void *h)') as Fn;
const WaitForMultipleObjects = k32.func('uint32_t __stdcall WaitForMultipleObjects(uint32_t n, void **handles, int all, uint32_t ms)') as Fn;
const WaitForSingleObject = k32.func('uint32_t __stdcall WaitForSingleObject(void *h, uint32_t ms)') as Fn;
const CancelIoEx = k32.func('int __stdcall CancelIoEx(void *h, void *overlapped)') as Fn;
const CloseHandle = k32.func('int __stdcall CloseHandle(void *h)') as Fn;
const GetLastError = k32.func('uint32_t __stdcall GetLastError()') as Fn;

interface Slot {
  ov: unknown;
  buf: unknown;
  event: bigint;
  pending: boolean;
}
const slots: Slot[] = Array.from({ length: reads }, () => {
  const ov = koffi.alloc('uint8_t', OVERLAPPED_SIZE) as unknown;
  return { ov, buf: koffi.alloc('uint8_t', bufferBytes) as unknown, event: CreateEventW(null, 1, 0, null) as bigint, pending: false };
});

function complete(s: Slot, bytes: number): void {
  s.pending = false;
  port?.postMessage({ t: 'buf', buf: koffi.view(s.buf, bufferBytes).slice(0, bytes) });
}

/** Issues the read; a read the driver completes at once is delivered at once (and re-issued). */
function issue(s: Slot): boolean {
  for (;;) {
    const v = new DataView(koffi.view(s.ov, OVERLAPPED_SIZE));
    new Uint8Array(v.buffer).fill(0);
    v.setBigUint64(24, s.event, true);
    ResetEvent(s.event);
    const n = [0];
    const ok = DeviceIoControl(handle, code, null, 0, s.buf, bufferBytes, n, s.ov) as number;
    if (ok) {
      complete(s, n[0] ?? 0);
      if (stopping()) return true;
      continue;
    }
    const err = GetLastError() as number;
    if (err === ERROR_IO_PENDING) {
      s.pending = true;
      return true;
    }
    port?.postMessage({ t: 'error', error: err, call: 'DeviceIoControl(READ)' });
    return false;
  }
}

let failed = false;
for (const s of slots) if (!issue(s)) failed = true;
const events = slots.map((s) => s.event);
while (!stopping() && !failed) {
  const r = WaitForMultipleObjects(events.length, events, 0, SLICE_MS) as number;
  if (r === WAIT_TIMEOUT) continue;
  if (!slots[r]) {
    port.postMessage({ t: 'error', error: GetLastError() as number, call: `WaitForMultipleObjects returned ${r}` });
    break;
  }
  // Several reads may have completed: deliver them in the driver's order (the sequence number
  // of each buffer's first record), not in slot order, then re-issue them.
  const done: { s: Slot; bytes: number; seq: bigint }[] = [];
  for (const s of slots) {
    if (!s.pending || (WaitForSingleObject(s.event, 0) as number) !== 0) continue;
    const n = [0];
    if (GetOverlappedResult(handle, s.ov, n, 0)) {
      const bytes = n[0] ?? 0;
      done.push({ s, bytes, seq: bytes >= 16 ? new DataView(koffi.view(s.buf, 16)).getBigUint64(8, true) : 0n });
    } else {
      s.pending = false;
      port.postMessage({ t: 'error', error: GetLastError() as number, call: 'GetOverlappedResult(READ)' });
      failed = true;
    }
  }
  done.sort((a, b) => (a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0));
  for (const d of done) complete(d.s, d.bytes);
  for (const d of done) if (!failed && !stopping() && !issue(d.s)) failed = true;
}

let cancelled = 0;
for (const s of slots) {
  if (!s.pending) continue;
  CancelIoEx(handle, s.ov);
  const n = [0];
  // Wait for the cancellation (or a completion that won the race) before freeing the memory.
  if (GetOverlappedResult(handle, s.ov, n, 1)) complete(s, n[0] ?? 0);
  else if ((GetLastError() as number) === ERROR_OPERATION_ABORTED) cancelled++;
  s.pending = false;
}
for (const s of slots) {
  CloseHandle(s.event);
  koffi.free(s.ov);
  koffi.free(s.buf);
}
port.postMessage({ t: 'stopped', cancelled });
