/**
 * Netlink sockets for the kernel's proc connector (NETLINK_CONNECTOR, group CN_IDX_PROC)
 * through glibc: socket, bind, send of the subscribe message, poll, recv, SO_RCVBUF(FORCE)
 * and close. The wire format is in cn-proc.ts (no koffi there). Every call returns a value or
 * the errno it failed with; none blocks unless asked to (`poll` with a timeout, which callers
 * make only on a worker thread or through `pollAsync` on libuv's thread pool).
 *
 * Like every binding, koffi is loaded when `bindNetlink` is called, not on import.
 */
import { encodeMcastOp, CN_IDX_PROC } from './cn-proc.js';

export const AF_NETLINK = 16;
export const SOCK_DGRAM = 2;
export const SOCK_CLOEXEC = 0o2000000;
export const NETLINK_CONNECTOR = 11;
export const SOL_SOCKET = 1;
export const SO_RCVBUF = 8;
export const SO_RCVBUFFORCE = 33;
export const MSG_DONTWAIT = 0x40;
export const POLLIN = 0x1;
export const EPERM = 1;
export const EINTR = 4;
export const EAGAIN = 11;
export const ECONNREFUSED = 111;
export const ENOBUFS = 105;
export const EPROTONOSUPPORT = 93;

/** A call's outcome: a value, or the errno it failed with. */
export type NlResult = { readonly ok: true; readonly value: number } | { readonly ok: false; readonly errno: number };

export interface NetlinkApi {
  /** `socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_CONNECTOR)`. */
  openConnector(): NlResult;
  /** Bind to the proc connector's multicast group (port id chosen by the kernel); needs CAP_NET_ADMIN. */
  bindProcGroup(fd: number): NlResult;
  /** Send PROC_CN_MCAST_LISTEN (`listen` true) or PROC_CN_MCAST_IGNORE. */
  subscribe(fd: number, listen: boolean): NlResult;
  /** SO_RCVBUFFORCE (root: past net.core.rmem_max) or SO_RCVBUF; the kernel doubles the value. */
  setReceiveBuffer(fd: number, bytes: number, force: boolean): NlResult;
  /** The receive buffer size in effect (getsockopt SO_RCVBUF). */
  receiveBuffer(fd: number): NlResult;
  /** `poll` for POLLIN: value 1 when readable, 0 on timeout. Blocks the calling thread up to `timeoutMs`. */
  poll(fd: number, timeoutMs: number): NlResult;
  /** The same on libuv's thread pool: the event loop does not wait. */
  pollAsync(fd: number, timeoutMs: number): Promise<NlResult>;
  /** `recv` into `buf` (one datagram); `dontWait` adds MSG_DONTWAIT (EAGAIN when empty). ENOBUFS: events were lost. */
  recv(fd: number, buf: Uint8Array, dontWait: boolean): NlResult;
  close(fd: number): void;
}

type Fn = (...args: unknown[]) => number;
interface AsyncFn extends Fn {
  async(...args: unknown[]): void;
}

const bound = new Map<string, Promise<NetlinkApi>>();

/** Bind the calls (once per thread); rejects with the reason when koffi or libc cannot be loaded. */
export function bindNetlink(): Promise<NetlinkApi> {
  let p = bound.get('libc');
  if (!p) {
    p = bind();
    bound.set('libc', p);
    p.catch(() => bound.delete('libc'));
  }
  return p;
}

async function bind(): Promise<NetlinkApi> {
  const { default: koffi } = await import('koffi');
  const lib = koffi.load('libc.so.6');
  const socket = lib.func('int socket(int domain, int type, int protocol)') as Fn;
  const bindFn = lib.func('int bind(int fd, const void *addr, uint32_t len)') as Fn;
  const send = lib.func('intptr_t send(int fd, const void *buf, size_t len, int flags)') as Fn;
  const recv = lib.func('intptr_t recv(int fd, void *buf, size_t len, int flags)') as Fn;
  const setsockopt = lib.func('int setsockopt(int fd, int level, int name, const void *val, uint32_t len)') as Fn;
  const getsockopt = lib.func('int getsockopt(int fd, int level, int name, void *val, void *len)') as Fn;
  const getsockname = lib.func('int getsockname(int fd, void *addr, void *len)') as Fn;
  // struct pollfd as 8 raw bytes (int fd; short events; short revents): no named koffi type,
  // so this binding can be made in several threads and beside others.
  const poll = lib.func('int poll(void *fds, unsigned long nfds, int timeout)') as AsyncFn;
  const close = lib.func('int close(int fd)') as Fn;
  const result = (v: number | bigint): NlResult => {
    const n = Number(v);
    return n < 0 ? { ok: false, errno: koffi.errno() } : { ok: true, value: n };
  };
  const pollFd = (fd: number): Uint8Array => {
    const b = new Uint8Array(8);
    const v = new DataView(b.buffer);
    v.setInt32(0, fd, true);
    v.setInt16(4, POLLIN, true);
    return b;
  };
  const readable = (b: Uint8Array, n: number): number => (n > 0 && (new DataView(b.buffer).getInt16(6, true) & POLLIN) !== 0 ? 1 : 0);

  return {
    openConnector: () => result(socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_CONNECTOR)),
    bindProcGroup: (fd) => {
      // struct sockaddr_nl { u16 nl_family; u16 pad; u32 nl_pid; u32 nl_groups; }
      const sa = new Uint8Array(12);
      const v = new DataView(sa.buffer);
      v.setUint16(0, AF_NETLINK, true);
      v.setUint32(4, 0, true);
      v.setUint32(8, CN_IDX_PROC, true);
      return result(bindFn(fd, sa, sa.length));
    },
    subscribe: (fd, listen) => {
      // The kernel addressed us by the port id it assigned at bind.
      const sa = new Uint8Array(12);
      const len = new Uint8Array(4);
      new DataView(len.buffer).setUint32(0, 12, true);
      const r = getsockname(fd, sa, len);
      if (r < 0) return result(r);
      const port = new DataView(sa.buffer).getUint32(4, true);
      const msg = encodeMcastOp(listen ? 1 : 2, port);
      return result(send(fd, msg, msg.length, 0));
    },
    setReceiveBuffer: (fd, bytes, force) => {
      const val = new Uint8Array(4);
      new DataView(val.buffer).setInt32(0, bytes, true);
      return result(setsockopt(fd, SOL_SOCKET, force ? SO_RCVBUFFORCE : SO_RCVBUF, val, 4));
    },
    receiveBuffer: (fd) => {
      const val = new Uint8Array(4);
      const len = new Uint8Array(4);
      new DataView(len.buffer).setUint32(0, 4, true);
      const r = getsockopt(fd, SOL_SOCKET, SO_RCVBUF, val, len);
      return r < 0 ? result(r) : { ok: true, value: new DataView(val.buffer).getInt32(0, true) };
    },
    poll: (fd, timeoutMs) => {
      const b = pollFd(fd);
      const r = poll(b, 1, timeoutMs);
      return r < 0 ? result(r) : { ok: true, value: readable(b, r) };
    },
    pollAsync: (fd, timeoutMs) =>
      new Promise((resolve, reject) => {
        const b = pollFd(fd);
        poll.async(b, 1, timeoutMs, (err: unknown, r: number) => {
          if (err) reject(err instanceof Error ? err : new Error(String(err)));
          // errno of a call on the pool thread is not ours to read here: report EINTR-like 0.
          else resolve(r < 0 ? { ok: false, errno: EINTR } : { ok: true, value: readable(b, r) });
        });
      }),
    recv: (fd, buf, dontWait) => result(recv(fd, buf, buf.length, dontWait ? MSG_DONTWAIT : 0)),
    close: (fd) => void close(fd),
  };
}
