/**
 * Process file descriptors (Linux ≥ 5.3): `pidfd_open` and `pidfd_send_signal` through
 * glibc's `syscall`, and `poll` on the pidfd to learn that the process has exited. A pidfd
 * names one process for its whole life: once it is open and the process is verified to be
 * the one meant, a signal sent through it cannot reach a later process that reuses the pid.
 *
 * Like every binding, koffi is loaded when `bindPidfd` is called, not on import.
 */

/** Generic syscall numbers (include/uapi/asm-generic/unistd.h), the same on x86-64 and aarch64. */
export const SYSCALLS: Readonly<Record<string, { readonly pidfd_open: number; readonly pidfd_send_signal: number }>> = {
  x64: { pidfd_open: 434, pidfd_send_signal: 424 },
  arm64: { pidfd_open: 434, pidfd_send_signal: 424 },
};

/** A syscall's outcome: a value, or the errno it failed with. */
export type SysResult = { readonly ok: true; readonly value: number } | { readonly ok: false; readonly errno: number };

export interface PidfdApi {
  /** `pidfd_open(pid, 0)`: a descriptor for the process that holds `pid` now. */
  open(pid: number): SysResult;
  /** `pidfd_send_signal(fd, signal, NULL, 0)`. */
  sendSignal(fd: number, signal: number): SysResult;
  /**
   * Whether the process has exited within `timeoutMs` (the pidfd turns readable on exit).
   * The wait runs on libuv's thread pool in slices, never on the event loop; an aborted
   * `signal` ends it (false) at the next slice.
   */
  waitExit(fd: number, timeoutMs: number, signal?: AbortSignal): Promise<boolean>;
  close(fd: number): void;
}

type Syscall = (nr: number, ...args: unknown[]) => number;
interface PollFd {
  fd: number;
  events: number;
  revents: number;
}
interface PollFn {
  (fds: PollFd, n: number, timeout: number): number;
  async(fds: PollFd, n: number, timeout: number, cb: (err: unknown, res: number) => void): void;
}

const POLLIN = 0x0001;
/** Longest single poll on the thread pool; a long wait is a series of these. */
const SLICE_MS = 200;

const bound = new Map<string, Promise<PidfdApi>>();

/**
 * Bind the pidfd calls (once per process: koffi's type names are global); rejects (with the
 * reason) on an architecture without known numbers or when koffi / libc cannot be loaded.
 */
export function bindPidfd(arch: string = process.arch): Promise<PidfdApi> {
  let p = bound.get(arch);
  if (!p) {
    p = bind(arch);
    bound.set(arch, p);
    // A failed bind is not kept: the next caller gets a fresh attempt (and the reason again).
    p.catch(() => bound.delete(arch));
  }
  return p;
}

async function bind(arch: string): Promise<PidfdApi> {
  const nr = SYSCALLS[arch];
  if (!nr) throw new Error(`pidfd syscall numbers are not known for architecture ${arch} (known: ${Object.keys(SYSCALLS).join(', ')})`);
  const { default: koffi } = await import('koffi');
  const lib = koffi.load('libc.so.6');
  const syscall = lib.func('long syscall(long number, ...)') as Syscall;
  koffi.struct('vigil_pollfd', { fd: 'int', events: 'short', revents: 'short' });
  const poll = lib.func('int poll(_Inout_ vigil_pollfd *fds, unsigned long nfds, int timeout)') as PollFn;
  const close = lib.func('int close(int fd)') as (fd: number) => number;
  const result = (v: number): SysResult => (v < 0 ? { ok: false, errno: koffi.errno() } : { ok: true, value: v });

  const pollOnce = (fd: number, timeout: number): Promise<boolean> =>
    new Promise((resolve, reject) => {
      const p: PollFd = { fd, events: POLLIN, revents: 0 };
      poll.async(p, 1, timeout, (err, res) => {
        if (err) reject(err instanceof Error ? err : new Error(String(err)));
        else if (res < 0) reject(new Error(`poll on pidfd ${fd} failed`));
        else resolve(res > 0 && (p.revents & POLLIN) !== 0);
      });
    });

  return {
    open: (pid) => result(syscall(nr.pidfd_open, 'int', pid, 'unsigned int', 0)),
    sendSignal: (fd, signal) => result(syscall(nr.pidfd_send_signal, 'int', fd, 'int', signal, 'void *', null, 'unsigned int', 0)),
    async waitExit(fd, timeoutMs, signal) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const left = deadline - Date.now();
        if (await pollOnce(fd, Math.max(0, Math.min(SLICE_MS, left)))) return true;
        if (left <= 0 || signal?.aborted === true) return false;
      }
    },
    close: (fd) => void close(fd),
  };
}
