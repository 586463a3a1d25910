/**
 * kernel32 + ntdll bindings for acting on processes: open a handle, read its identity
 * (real pid, creation time, image), terminate, wait, suspend / resume the whole process, and
 * walk processes and threads through a toolhelp snapshot.
 *
 * A handle pins one process object for its life, so what is checked through a handle is
 * what a later call on the same handle acts on, even if the pid is reused meanwhile.
 * Windows ignores the low two bits of a pid (OpenProcess(13102) opens 13100): callers
 * compare `processId(handle)` with the pid they meant.
 *
 * DLL names are parameters so a test can point the binding at a double; production uses the
 * system DLLs. koffi is loaded when `bindWinProcess` is called, not on import.
 */
import { windowsKoffi, type Koffi } from './koffi.js';

/** An opened kernel object; koffi hands pointers and handles over as BigInt. */
export type Handle = bigint;

/** A call's outcome: a value, or the Win32 error / NTSTATUS it failed with. */
export type WinResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: number; readonly call: string };

export const PROCESS_TERMINATE = 0x0001;
export const PROCESS_SUSPEND_RESUME = 0x0800;
export const PROCESS_QUERY_LIMITED_INFORMATION = 0x1000;
export const SYNCHRONIZE = 0x00100000;
export const THREAD_SUSPEND_RESUME = 0x0002;
export const THREAD_QUERY_LIMITED_INFORMATION = 0x0800;
/** What process actions open a target with: everything they do goes through this one handle. */
export const PROCESS_ACTION_ACCESS = PROCESS_TERMINATE | PROCESS_SUSPEND_RESUME | PROCESS_QUERY_LIMITED_INFORMATION | SYNCHRONIZE;

export const ERROR_ACCESS_DENIED = 5;
export const ERROR_INVALID_PARAMETER = 87;
export const ERROR_NO_MORE_FILES = 18;
export const STILL_ACTIVE = 259;
const WAIT_OBJECT_0 = 0;
const WAIT_TIMEOUT = 0x102;
const TH32CS_SNAPPROCESS = 0x2;
const TH32CS_SNAPTHREAD = 0x4;
const SUSPEND_FAILED = 0xffffffff;
/** FILETIME ticks (100 ns since 1601-01-01) at the Unix epoch. */
const EPOCH_FILETIME = 116444736000000000n;
/** Longest single wait on koffi's thread pool; a long wait is a series of these. */
const SLICE_MS = 200;
/** Longest image path Windows returns (UNICODE_STRING limit, in WCHARs). */
const MAX_IMAGE_CHARS = 32768;

/**
 * x64 layouts from the mingw-w64 headers (tlhelp32.h, minwinbase.h), checked against the
 * koffi definitions at bind time and against a mingw-compiled probe in the Wine test.
 */
export const LAYOUTS = {
  FILETIME: { size: 8, offsets: { dwHighDateTime: 4 } },
  PROCESSENTRY32W: { size: 568, offsets: { th32ProcessID: 8, th32DefaultHeapID: 16, cntThreads: 28, th32ParentProcessID: 32, pcPriClassBase: 36, szExeFile: 44 } },
  THREADENTRY32: { size: 28, offsets: { th32ThreadID: 8, th32OwnerProcessID: 12, dwFlags: 24 } },
} as const;

export interface ProcessEntry {
  readonly pid: number;
  readonly ppid: number;
  readonly threads: number;
  /** The executable's file name (no directory), as toolhelp reports it. */
  readonly exe: string;
}

export interface ThreadEntry {
  readonly tid: number;
  readonly pid: number;
}

export interface WinProcessApi {
  readonly currentProcessId: number;
  /** OpenProcess: a handle to whatever holds `pid` now (or a pid differing in its low two bits). */
  open(pid: number, access?: number): WinResult<Handle>;
  /** GetProcessId: the real pid of the process the handle names (0 on failure). */
  processId(h: Handle): number;
  /** GetProcessTimes: creation time in FILETIME ticks (100 ns since 1601). */
  creationTime(h: Handle): WinResult<bigint>;
  /** QueryFullProcessImageNameW (Win32 path form). */
  imagePath(h: Handle): WinResult<string>;
  terminate(h: Handle, exitCode: number): WinResult<void>;
  /** GetExitCodeProcess: STILL_ACTIVE (259) while it runs. */
  exitCode(h: Handle): WinResult<number>;
  /**
   * WaitForSingleObject on koffi's thread pool in slices (never on the event loop): true once
   * the process has exited within `timeoutMs`; an aborted `signal` ends it (false).
   */
  waitExit(h: Handle, timeoutMs: number, signal?: AbortSignal): Promise<boolean>;
  /** NtSuspendProcess / NtResumeProcess: the NTSTATUS is the error when negative. */
  suspend(h: Handle): WinResult<void>;
  resume(h: Handle): WinResult<void>;
  /** Every process in a toolhelp snapshot. */
  processes(): WinResult<ProcessEntry[]>;
  /** Every thread of `pid` in a toolhelp snapshot. */
  threads(pid: number): WinResult<ThreadEntry[]>;
  /**
   * A thread's suspend count, read without changing it: SuspendThread returns the previous
   * count and ResumeThread undoes the increment at once.
   */
  threadSuspendCount(tid: number): WinResult<number>;
  close(h: Handle): void;
}

/** FILETIME ticks → ms since the Unix epoch (floored). */
export function filetimeToEpochMs(ticks: bigint): number {
  return Number((ticks - EPOCH_FILETIME) / 10000n);
}

/** ms since the Unix epoch → FILETIME ticks. */
export function epochMsToFiletime(ms: number): bigint {
  return BigInt(Math.trunc(ms)) * 10000n + EPOCH_FILETIME;
}

export interface WinProcessDlls {
  readonly kernel32?: string;
  readonly ntdll?: string;
}

interface FileTime {
  dwLowDateTime: number;
  dwHighDateTime: number;
}
interface RawProcessEntry {
  dwSize: number;
  th32ProcessID: number;
  cntThreads: number;
  th32ParentProcessID: number;
  szExeFile: string;
}
interface RawThreadEntry {
  dwSize: number;
  th32ThreadID: number;
  th32OwnerProcessID: number;
}
type Fn = (...args: unknown[]) => unknown;
interface AsyncFn extends Fn {
  async(...args: unknown[]): void;
}

let types: { fileTime: unknown; processEntry: unknown; threadEntry: unknown } | undefined;

/** The struct types, defined once per process (koffi's type names are global) and checked against LAYOUTS. */
function defineTypes(koffi: Koffi): NonNullable<typeof types> {
  if (types) return types;
  const fileTime = koffi.struct('VIGIL_FILETIME', { dwLowDateTime: 'uint32_t', dwHighDateTime: 'uint32_t' });
  const processEntry = koffi.struct('VIGIL_PROCESSENTRY32W', {
    dwSize: 'uint32_t',
    cntUsage: 'uint32_t',
    th32ProcessID: 'uint32_t',
    th32DefaultHeapID: 'uintptr_t',
    th32ModuleID: 'uint32_t',
    cntThreads: 'uint32_t',
    th32ParentProcessID: 'uint32_t',
    pcPriClassBase: 'int32_t',
    dwFlags: 'uint32_t',
    szExeFile: koffi.array('char16_t', 260, 'String'),
  });
  const threadEntry = koffi.struct('VIGIL_THREADENTRY32', {
    dwSize: 'uint32_t',
    cntUsage: 'uint32_t',
    th32ThreadID: 'uint32_t',
    th32OwnerProcessID: 'uint32_t',
    tpBasePri: 'int32_t',
    tpDeltaPri: 'int32_t',
    dwFlags: 'uint32_t',
  });
  const problems = checkLayouts(koffi, { FILETIME: fileTime, PROCESSENTRY32W: processEntry, THREADENTRY32: threadEntry });
  if (problems.length > 0) throw new Error(`koffi struct layouts differ from the x64 headers: ${problems.join('; ')}`);
  types = { fileTime, processEntry, threadEntry };
  return types;
}

/** Each size and offset of LAYOUTS that the given koffi types do not match, as text. */
export function checkLayouts(koffi: Koffi, defined: Record<keyof typeof LAYOUTS, unknown>): string[] {
  const out: string[] = [];
  for (const [name, want] of Object.entries(LAYOUTS) as Array<[keyof typeof LAYOUTS, (typeof LAYOUTS)[keyof typeof LAYOUTS]]>) {
    const t = defined[name] as Parameters<Koffi['sizeof']>[0];
    if (koffi.sizeof(t) !== want.size) out.push(`sizeof ${name} = ${koffi.sizeof(t)}, expected ${want.size}`);
    for (const [field, off] of Object.entries(want.offsets)) {
      const got = koffi.offsetof(t, field);
      if (got !== off) out.push(`offsetof ${name}.${field} = ${got}, expected ${off}`);
    }
  }
  return out;
}

/** The koffi definitions of LAYOUTS' structs (for the layout test); binds nothing. */
export async function windowsStructTypes(): Promise<Record<keyof typeof LAYOUTS, unknown>> {
  const t = defineTypes(await windowsKoffi());
  return { FILETIME: t.fileTime, PROCESSENTRY32W: t.processEntry, THREADENTRY32: t.threadEntry };
}

const bound = new Map<string, Promise<WinProcessApi>>();

/** Bind the process calls once per DLL pair; rejects (with the reason) when koffi or a DLL cannot be loaded. */
export function bindWinProcess(dlls: WinProcessDlls = {}): Promise<WinProcessApi> {
  const k32 = dlls.kernel32 ?? 'kernel32.dll';
  const nt = dlls.ntdll ?? 'ntdll.dll';
  const key = `${k32}|${nt}`;
  let p = bound.get(key);
  if (!p) {
    p = bind(k32, nt);
    bound.set(key, p);
    // A failed bind is not kept: the next caller gets a fresh attempt (and the reason again).
    p.catch(() => bound.delete(key));
  }
  return p;
}

function isInvalid(h: unknown): boolean {
  return h === null || h === undefined || h === 0n || h === -1n || h === 0xffffffffffffffffn;
}

async function bind(kernel32Name: string, ntdllName: string): Promise<WinProcessApi> {
  const koffi = await windowsKoffi();
  defineTypes(koffi);
  const k32 = koffi.load(kernel32Name);
  const nt = koffi.load(ntdllName);
  const f = (lib: ReturnType<Koffi['load']>, sig: string) => lib.func(sig) as Fn;

  const GetLastError = f(k32, 'uint32_t __stdcall GetLastError()');
  const GetCurrentProcessId = f(k32, 'uint32_t __stdcall GetCurrentProcessId()');
  const OpenProcess = f(k32, 'void * __stdcall OpenProcess(uint32_t access, int inherit, uint32_t pid)');
  const OpenThread = f(k32, 'void * __stdcall OpenThread(uint32_t access, int inherit, uint32_t tid)');
  const GetProcessId = f(k32, 'uint32_t __stdcall GetProcessId(void *h)');
  const GetProcessTimes = f(
    k32,
    'int __stdcall GetProcessTimes(void *h, _Out_ VIGIL_FILETIME *creation, _Out_ VIGIL_FILETIME *exit, _Out_ VIGIL_FILETIME *kernel, _Out_ VIGIL_FILETIME *user)',
  );
  const QueryFullProcessImageNameW = f(k32, 'int __stdcall QueryFullProcessImageNameW(void *h, uint32_t flags, _Out_ uint16_t *name, _Inout_ uint32_t *size)');
  const TerminateProcess = f(k32, 'int __stdcall TerminateProcess(void *h, uint32_t code)');
  const GetExitCodeProcess = f(k32, 'int __stdcall GetExitCodeProcess(void *h, _Out_ uint32_t *code)');
  const WaitForSingleObject = f(k32, 'uint32_t __stdcall WaitForSingleObject(void *h, uint32_t ms)') as AsyncFn;
  const CloseHandle = f(k32, 'int __stdcall CloseHandle(void *h)');
  const SuspendThread = f(k32, 'uint32_t __stdcall SuspendThread(void *h)');
  const ResumeThread = f(k32, 'uint32_t __stdcall ResumeThread(void *h)');
  const CreateToolhelp32Snapshot = f(k32, 'void * __stdcall CreateToolhelp32Snapshot(uint32_t flags, uint32_t pid)');
  const Process32FirstW = f(k32, 'int __stdcall Process32FirstW(void *snap, _Inout_ VIGIL_PROCESSENTRY32W *entry)');
  const Process32NextW = f(k32, 'int __stdcall Process32NextW(void *snap, _Inout_ VIGIL_PROCESSENTRY32W *entry)');
  const Thread32First = f(k32, 'int __stdcall Thread32First(void *snap, _Inout_ VIGIL_THREADENTRY32 *entry)');
  const Thread32Next = f(k32, 'int __stdcall Thread32Next(void *snap, _Inout_ VIGIL_THREADENTRY32 *entry)');
  const NtSuspendProcess = f(nt, 'int32_t __stdcall NtSuspendProcess(void *h)');
  const NtResumeProcess = f(nt, 'int32_t __stdcall NtResumeProcess(void *h)');

  // GetLastError is read by the very next call into kernel32, before any other foreign call.
  const fail = <T>(call: string): WinResult<T> => ({ ok: false, error: GetLastError() as number, call });
  const status = (call: string, s: number): WinResult<void> => (s >= 0 ? { ok: true, value: undefined } : { ok: false, error: s >>> 0, call });

  const waitOnce = (h: Handle, ms: number): Promise<number> =>
    new Promise((resolve, reject) => {
      WaitForSingleObject.async(h, ms, (err: unknown, res: number) => {
        if (err) reject(err instanceof Error ? err : new Error(String(err)));
        else resolve(res);
      });
    });

  function snapshot<E extends { dwSize: number }, R>(flags: number, size: number, first: Fn, next: Fn, keep: (e: E) => R | undefined): WinResult<R[]> {
    const snap = CreateToolhelp32Snapshot(flags, 0);
    if (isInvalid(snap)) return fail('CreateToolhelp32Snapshot');
    try {
      const out: R[] = [];
      const e = { dwSize: size } as E;
      let more = first(snap, e) as number;
      while (more) {
        const r = keep(e);
        if (r !== undefined) out.push(r);
        e.dwSize = size;
        more = next(snap, e) as number;
      }
      const err = GetLastError() as number;
      if (err !== ERROR_NO_MORE_FILES && err !== 0) return { ok: false, error: err, call: 'toolhelp walk' };
      return { ok: true, value: out };
    } finally {
      CloseHandle(snap);
    }
  }

  return {
    currentProcessId: GetCurrentProcessId() as number,
    open(pid, access = PROCESS_ACTION_ACCESS) {
      const h = OpenProcess(access, 0, pid);
      return isInvalid(h) ? fail('OpenProcess') : { ok: true, value: h as Handle };
    },
    processId: (h) => GetProcessId(h) as number,
    creationTime(h) {
      const c: Partial<FileTime> = {};
      if (!GetProcessTimes(h, c, {}, {}, {})) return fail('GetProcessTimes');
      return { ok: true, value: (BigInt(c.dwHighDateTime ?? 0) << 32n) | BigInt(c.dwLowDateTime ?? 0) };
    },
    imagePath(h) {
      const buf = Buffer.alloc(MAX_IMAGE_CHARS * 2);
      const size = [MAX_IMAGE_CHARS];
      if (!QueryFullProcessImageNameW(h, 0, buf, size)) return fail('QueryFullProcessImageNameW');
      return { ok: true, value: buf.toString('utf16le', 0, (size[0] ?? 0) * 2) };
    },
    terminate: (h, code) => (TerminateProcess(h, code) ? { ok: true, value: undefined } : fail('TerminateProcess')),
    exitCode(h) {
      const code = [0];
      if (!GetExitCodeProcess(h, code)) return fail('GetExitCodeProcess');
      return { ok: true, value: code[0] ?? 0 };
    },
    async waitExit(h, timeoutMs, signal) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const left = deadline - Date.now();
        const r = await waitOnce(h, Math.max(0, Math.min(SLICE_MS, left)));
        if (r === WAIT_OBJECT_0) return true;
        if (r !== WAIT_TIMEOUT) throw new Error(`WaitForSingleObject returned ${r} (error ${GetLastError() as number})`);
        if (left <= 0 || signal?.aborted === true) return false;
      }
    },
    suspend: (h) => status('NtSuspendProcess', NtSuspendProcess(h) as number),
    resume: (h) => status('NtResumeProcess', NtResumeProcess(h) as number),
    processes: () =>
      snapshot<RawProcessEntry, ProcessEntry>(TH32CS_SNAPPROCESS, LAYOUTS.PROCESSENTRY32W.size, Process32FirstW, Process32NextW, (e) => ({
        pid: e.th32ProcessID,
        ppid: e.th32ParentProcessID,
        threads: e.cntThreads,
        exe: e.szExeFile,
      })),
    threads: (pid) =>
      snapshot<RawThreadEntry, ThreadEntry>(TH32CS_SNAPTHREAD, LAYOUTS.THREADENTRY32.size, Thread32First, Thread32Next, (e) =>
        e.th32OwnerProcessID === pid ? { tid: e.th32ThreadID, pid: e.th32OwnerProcessID } : undefined,
      ),
    threadSuspendCount(tid) {
      const h = OpenThread(THREAD_SUSPEND_RESUME | THREAD_QUERY_LIMITED_INFORMATION, 0, tid);
      if (isInvalid(h)) return fail('OpenThread');
      try {
        const prev = SuspendThread(h) as number;
        if (prev === SUSPEND_FAILED) return fail('SuspendThread');
        ResumeThread(h);
        return { ok: true, value: prev };
      } finally {
        CloseHandle(h);
      }
    },
    close: (h) => void CloseHandle(h),
  };
}
