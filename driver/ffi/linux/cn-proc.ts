/**
 * The netlink proc connector's wire format (linux/netlink.h, linux/connector.h,
 * linux/cn_proc.h): byte offsets of `nlmsghdr`, `cn_msg` and `proc_event` with its unions,
 * the subscribe message, and a DataView decoder. No I/O and no koffi here, so the layouts are
 * checked against the C headers by a test (test/cn-proc.test.ts) and decoded in any thread.
 * All fields are host byte order (little-endian on the architectures Vigil runs on).
 */

export const NLMSGHDR = Object.freeze({ len: 0, type: 4, flags: 6, seq: 8, pid: 12, size: 16 });
/** `struct cn_msg` without its flexible `data[]` (at offset 20). */
export const CN_MSG = Object.freeze({ idx: 0, val: 4, seq: 8, ack: 12, len: 16, flags: 18, data: 20, size: 20 });
/** `struct proc_event` header: `what`, `cpu`, `timestamp_ns` (8-aligned), then the union. */
export const PROC_EVENT = Object.freeze({ what: 0, cpu: 4, timestamp_ns: 8, event_data: 16, size: 40 });
/** The members of `proc_event.event_data`, offsets from the union's start. */
export const EVENT_DATA = Object.freeze({
  ack: Object.freeze({ err: 0, size: 4 }),
  fork: Object.freeze({ parent_pid: 0, parent_tgid: 4, child_pid: 8, child_tgid: 12, size: 16 }),
  exec: Object.freeze({ process_pid: 0, process_tgid: 4, size: 8 }),
  id: Object.freeze({ process_pid: 0, process_tgid: 4, r: 8, e: 12, size: 16 }),
  sid: Object.freeze({ process_pid: 0, process_tgid: 4, size: 8 }),
  ptrace: Object.freeze({ process_pid: 0, process_tgid: 4, tracer_pid: 8, tracer_tgid: 12, size: 16 }),
  comm: Object.freeze({ process_pid: 0, process_tgid: 4, comm: 8, size: 24 }),
  coredump: Object.freeze({ process_pid: 0, process_tgid: 4, parent_pid: 8, parent_tgid: 12, size: 16 }),
  exit: Object.freeze({ process_pid: 0, process_tgid: 4, exit_code: 8, exit_signal: 12, parent_pid: 16, parent_tgid: 20, size: 24 }),
});

export const CN_IDX_PROC = 1;
export const CN_VAL_PROC = 1;
export const NLMSG_DONE = 3;
export const NLMSG_ERROR = 2;
export const PROC_CN_MCAST_LISTEN = 1;
export const PROC_CN_MCAST_IGNORE = 2;

/** `enum what` (read as u32: EXIT is 0x80000000). */
export const PROC_EVENT_WHAT = Object.freeze({
  none: 0,
  fork: 0x1,
  exec: 0x2,
  uid: 0x4,
  gid: 0x40,
  sid: 0x80,
  ptrace: 0x100,
  comm: 0x200,
  coredump: 0x40000000,
  exit: 0x80000000,
});

interface Base {
  readonly cpu: number;
  /** `ktime_get_ns()` at the event: CLOCK_MONOTONIC in ns. */
  readonly timestampNs: bigint;
  /** Thread id and thread group id (the process id) the event is about. */
  readonly pid: number;
  readonly tgid: number;
}

export type ProcEvent =
  | (Base & { readonly kind: 'fork'; readonly parentPid: number; readonly parentTgid: number })
  | (Base & { readonly kind: 'exec' })
  | (Base & { readonly kind: 'uid' | 'gid'; readonly real: number; readonly effective: number })
  | (Base & { readonly kind: 'sid' })
  /** tracerTgid 0: detach. */
  | (Base & { readonly kind: 'ptrace'; readonly tracerPid: number; readonly tracerTgid: number })
  | (Base & { readonly kind: 'comm'; readonly comm: string })
  | (Base & { readonly kind: 'coredump'; readonly parentPid: number; readonly parentTgid: number })
  /** exitCode: the wait status (`task->exit_code`: code << 8 | signal). */
  | (Base & { readonly kind: 'exit'; readonly exitCode: number; readonly exitSignal: number; readonly parentPid: number; readonly parentTgid: number })
  /** The kernel's answer to a subscribe message (err 0: accepted). */
  | (Base & { readonly kind: 'ack'; readonly err: number });

export class CnProcDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CnProcDecodeError';
  }
}

/** `nlmsghdr` + `cn_msg{CN_IDX_PROC, CN_VAL_PROC, len 4}` + the op (LISTEN or IGNORE). */
export function encodeMcastOp(op: number, portId: number): Uint8Array {
  const total = NLMSGHDR.size + CN_MSG.size + 4;
  const buf = new Uint8Array(total);
  const v = new DataView(buf.buffer);
  v.setUint32(NLMSGHDR.len, total, true);
  v.setUint16(NLMSGHDR.type, NLMSG_DONE, true);
  v.setUint16(NLMSGHDR.flags, 0, true);
  v.setUint32(NLMSGHDR.seq, 0, true);
  v.setUint32(NLMSGHDR.pid, portId >>> 0, true);
  const cn = NLMSGHDR.size;
  v.setUint32(cn + CN_MSG.idx, CN_IDX_PROC, true);
  v.setUint32(cn + CN_MSG.val, CN_VAL_PROC, true);
  v.setUint16(cn + CN_MSG.len, 4, true);
  v.setUint32(cn + CN_MSG.data, op, true);
  return buf;
}

const COMM_BYTES = 16;
const decoder = new TextDecoder();

/**
 * Decode the netlink messages in `view[0, length)`: normally one proc event per datagram.
 * Messages that are not the proc connector's (other idx/val, NLMSG_ERROR) are skipped and
 * counted in `skipped`; a truncated message throws.
 */
export function decodeDatagram(view: DataView, length: number): { events: ProcEvent[]; skipped: number } {
  const events: ProcEvent[] = [];
  let skipped = 0;
  let off = 0;
  while (off + NLMSGHDR.size <= length) {
    const len = view.getUint32(off + NLMSGHDR.len, true);
    if (len < NLMSGHDR.size || off + len > length) throw new CnProcDecodeError(`netlink message of ${len} bytes at ${off} overruns the ${length}-byte datagram`);
    const type = view.getUint16(off + NLMSGHDR.type, true);
    const cn = off + NLMSGHDR.size;
    if (type !== NLMSG_DONE || len < NLMSGHDR.size + CN_MSG.size) {
      skipped++;
    } else if (view.getUint32(cn + CN_MSG.idx, true) !== CN_IDX_PROC || view.getUint32(cn + CN_MSG.val, true) !== CN_VAL_PROC) {
      skipped++;
    } else {
      const dataLen = view.getUint16(cn + CN_MSG.len, true);
      if (NLMSGHDR.size + CN_MSG.size + dataLen > len) throw new CnProcDecodeError(`cn_msg data of ${dataLen} bytes overruns its ${len}-byte message`);
      const ev = decodeProcEvent(view, cn + CN_MSG.data, dataLen);
      if (ev === undefined) skipped++;
      else events.push(ev);
    }
    // NLMSG_ALIGN: messages are padded to 4 bytes.
    off += (len + 3) & ~3;
  }
  return { events, skipped };
}

/** One `proc_event` at `at` of `len` bytes; undefined for a kind Vigil does not know. */
export function decodeProcEvent(view: DataView, at: number, len: number): ProcEvent | undefined {
  if (len < PROC_EVENT.event_data) throw new CnProcDecodeError(`proc_event of ${len} bytes is shorter than its header`);
  const what = view.getUint32(at + PROC_EVENT.what, true);
  const cpu = view.getUint32(at + PROC_EVENT.cpu, true);
  const timestampNs = view.getBigUint64(at + PROC_EVENT.timestamp_ns, true);
  const d = at + PROC_EVENT.event_data;
  const need = (size: number): void => {
    if (len < PROC_EVENT.event_data + size) throw new CnProcDecodeError(`proc_event 0x${what.toString(16)} of ${len} bytes lacks its ${size}-byte body`);
  };
  const u32 = (o: number): number => view.getUint32(d + o, true);
  const i32 = (o: number): number => view.getInt32(d + o, true);
  switch (what) {
    case PROC_EVENT_WHAT.none: {
      need(EVENT_DATA.ack.size);
      return { kind: 'ack', cpu, timestampNs, pid: 0, tgid: 0, err: u32(EVENT_DATA.ack.err) };
    }
    case PROC_EVENT_WHAT.fork: {
      const f = EVENT_DATA.fork;
      need(f.size);
      return { kind: 'fork', cpu, timestampNs, pid: i32(f.child_pid), tgid: i32(f.child_tgid), parentPid: i32(f.parent_pid), parentTgid: i32(f.parent_tgid) };
    }
    case PROC_EVENT_WHAT.exec: {
      const e = EVENT_DATA.exec;
      need(e.size);
      return { kind: 'exec', cpu, timestampNs, pid: i32(e.process_pid), tgid: i32(e.process_tgid) };
    }
    case PROC_EVENT_WHAT.uid:
    case PROC_EVENT_WHAT.gid: {
      const e = EVENT_DATA.id;
      need(e.size);
      return { kind: what === PROC_EVENT_WHAT.uid ? 'uid' : 'gid', cpu, timestampNs, pid: i32(e.process_pid), tgid: i32(e.process_tgid), real: u32(e.r), effective: u32(e.e) };
    }
    case PROC_EVENT_WHAT.sid: {
      const e = EVENT_DATA.sid;
      need(e.size);
      return { kind: 'sid', cpu, timestampNs, pid: i32(e.process_pid), tgid: i32(e.process_tgid) };
    }
    case PROC_EVENT_WHAT.ptrace: {
      const e = EVENT_DATA.ptrace;
      need(e.size);
      return { kind: 'ptrace', cpu, timestampNs, pid: i32(e.process_pid), tgid: i32(e.process_tgid), tracerPid: i32(e.tracer_pid), tracerTgid: i32(e.tracer_tgid) };
    }
    case PROC_EVENT_WHAT.comm: {
      const e = EVENT_DATA.comm;
      need(e.size);
      const bytes = new Uint8Array(view.buffer, view.byteOffset + d + e.comm, COMM_BYTES);
      const nul = bytes.indexOf(0);
      return { kind: 'comm', cpu, timestampNs, pid: i32(e.process_pid), tgid: i32(e.process_tgid), comm: decoder.decode(bytes.subarray(0, nul < 0 ? COMM_BYTES : nul)) };
    }
    case PROC_EVENT_WHAT.coredump: {
      const e = EVENT_DATA.coredump;
      need(e.size);
      return { kind: 'coredump', cpu, timestampNs, pid: i32(e.process_pid), tgid: i32(e.process_tgid), parentPid: i32(e.parent_pid), parentTgid: i32(e.parent_tgid) };
    }
    case PROC_EVENT_WHAT.exit: {
      const e = EVENT_DATA.exit;
      // Kernels before 4.18 have no parent fields (16 bytes): accept them with parent 0.
      need(16);
      const hasParent = len >= PROC_EVENT.event_data + e.size;
      return {
        kind: 'exit',
        cpu,
        timestampNs,
        pid: i32(e.process_pid),
        tgid: i32(e.process_tgid),
        exitCode: u32(e.exit_code),
        exitSignal: u32(e.exit_signal),
        parentPid: hasParent ? i32(e.parent_pid) : 0,
        parentTgid: hasParent ? i32(e.parent_tgid) : 0,
      };
    }
    default:
      return undefined;
  }
}
