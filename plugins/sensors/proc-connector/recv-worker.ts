/**
 * The receive thread: owns the proc connector socket, waits in poll() with a timeout (so a
 * stop is seen within one timeout), reads every datagram at once and decodes it with a
 * DataView. An exec is enriched here, straight after its event, from /proc (stat, exe,
 * cmdline, cwd, status): the kernel's event carries pids only, and every microsecond of
 * delay lets a short process exit first. Batches are posted to the main thread; the main
 * thread asks the loop to stop (or to hold its reads, for the loss test) through a shared
 * Int32Array, since a message could not be read while this thread waits in poll.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { decodeDatagram, type ProcEvent } from '../../../driver/ffi/linux/cn-proc.js';
import { bindNetlink, EAGAIN, EINTR, ENOBUFS, type NetlinkApi } from '../../../driver/ffi/linux/netlink.js';
import { openProcConnector } from '../../../driver/ffi/linux/proc-connector-probe.js';
import { parseCmdline, parseStat, parseStatusUids } from '../../../lib/procfs/index.js';
import type { ProcConnErrorCode } from './errors.js';

export interface RecvWorkerData {
  readonly procRoot: string;
  readonly receiveBufferBytes: number;
  readonly pollTimeoutMs: number;
  readonly maxBatch: number;
  /** Int32Array over it: [0] = 1 ends the loop; [1] = 1 holds reads (the socket fills). */
  readonly control: SharedArrayBuffer;
}

/** What /proc showed right after an exec (fields unset when the process was already gone). */
export interface ExecDetails {
  startTicks?: number;
  ppid?: number;
  comm?: string;
  image?: string;
  cmdline?: string;
  cwd?: string;
  ruid?: number;
  euid?: number;
}

/** A decoded event, with what /proc said at once: exec details, or a fork child's start ticks. */
export interface ReceivedEvent {
  readonly ev: ProcEvent;
  readonly details?: ExecDetails;
  readonly startTicks?: number;
}

export type RecvMessage =
  | { t: 'ready'; receiveBuffer: number }
  | { t: 'error'; code: ProcConnErrorCode; message: string; errno: number }
  | { t: 'events'; events: ReceivedEvent[] }
  /** `overflows` ENOBUFS since the last message: the kernel dropped events, how many is unknown. */
  | { t: 'loss'; overflows: number }
  | { t: 'stats'; datagrams: number; skipped: number; threads: number; decodeErrors: number; lastDecodeError: string }
  | { t: 'closed' };

class Failure extends Error {
  constructor(
    readonly code: ProcConnErrorCode,
    message: string,
    readonly errno: number,
  ) {
    super(message);
  }
}

const STATS_EVERY_MS = 500;

function post(msg: RecvMessage): void {
  parentPort?.postMessage(msg);
}

function attempt<T>(op: () => T): T | undefined {
  try {
    return op();
  } catch {
    // Gone (ENOENT / ESRCH) or not readable: the field stays unset, the main thread says so.
    return undefined;
  }
}

function statTicks(root: string, pid: number): number | undefined {
  const text = attempt(() => readFileSync(join(root, String(pid), 'stat'), 'utf8'));
  if (text === undefined) return undefined;
  return attempt(() => parseStat(text).startTicks);
}

function execDetails(root: string, pid: number): ExecDetails {
  const dir = join(root, String(pid));
  const out: ExecDetails = {};
  // cmdline first: it is what a short process loses soonest and what rules need most.
  const cmd = attempt(() => readFileSync(join(dir, 'cmdline')));
  // Gone: every other read would fail too (and a failed read costs an exception), so stop.
  if (cmd === undefined) return out;
  // Empty: a zombie (exited, not reaped): no exe or cwd any more, stat still says who it was.
  const alive = cmd.length > 0;
  if (alive) {
    out.cmdline = parseCmdline(cmd);
    const image = attempt(() => readlinkSync(join(dir, 'exe')));
    if (image !== undefined) out.image = image;
    const cwd = attempt(() => readlinkSync(join(dir, 'cwd')));
    if (cwd !== undefined) out.cwd = cwd;
  }
  const statText = attempt(() => readFileSync(join(dir, 'stat'), 'utf8'));
  const stat = statText === undefined ? undefined : attempt(() => parseStat(statText));
  if (stat !== undefined) {
    out.startTicks = stat.startTicks;
    out.ppid = stat.ppid;
    out.comm = stat.comm;
  }
  if (!alive) return out;
  const status = attempt(() => readFileSync(join(dir, 'status'), 'utf8'));
  const uids = status === undefined ? undefined : parseStatusUids(status);
  if (uids !== undefined) {
    out.ruid = uids.ruid;
    out.euid = uids.euid;
  }
  return out;
}

function run(nl: NetlinkApi, data: RecvWorkerData): void {
  const control = new Int32Array(data.control);
  const opened = openProcConnector(nl);
  if (!opened.ok) {
    const code: ProcConnErrorCode =
      opened.why.kind === 'privilege' ? 'VIGIL_ERR_PROCCONN_PRIVILEGE' : opened.why.kind === 'subscribe' ? 'VIGIL_ERR_PROCCONN_SUBSCRIBE' : 'VIGIL_ERR_PROCCONN_SOCKET';
    throw new Failure(code, opened.why.reason, 0);
  }
  const fd = opened.fd;
  try {
    // FORCE passes net.core.rmem_max as root; without the privilege, the plain option is capped.
    if (!nl.setReceiveBuffer(fd, data.receiveBufferBytes, true).ok) nl.setReceiveBuffer(fd, data.receiveBufferBytes, false);
    const rb = nl.receiveBuffer(fd);
    post({ t: 'ready', receiveBuffer: rb.ok ? rb.value : 0 });

    const buf = new Uint8Array(8192);
    const view = new DataView(buf.buffer);
    let batch: ReceivedEvent[] = [];
    let overflows = 0;
    let datagrams = 0;
    let skipped = 0;
    let threads = 0;
    let decodeErrors = 0;
    let lastDecodeError = '';
    let lastStats = 0;
    const flush = (): void => {
      if (overflows > 0) {
        post({ t: 'loss', overflows });
        overflows = 0;
      }
      if (batch.length === 0) return;
      post({ t: 'events', events: batch });
      batch = [];
    };
    const take = (ev: ProcEvent): void => {
      switch (ev.kind) {
        case 'exec':
          batch.push({ ev, details: execDetails(data.procRoot, ev.tgid) });
          return;
        case 'fork': {
          // A new thread is not a new process.
          if (ev.pid !== ev.tgid) {
            threads++;
            return;
          }
          const ticks = statTicks(data.procRoot, ev.pid);
          batch.push(ticks === undefined ? { ev } : { ev, startTicks: ticks });
          return;
        }
        case 'ptrace':
        case 'ack':
          batch.push({ ev });
          return;
        default:
          // exit, uid, gid, sid, comm, coredump: about the process only when its leader says so.
          if (ev.pid !== ev.tgid) {
            threads++;
            return;
          }
          batch.push({ ev });
      }
    };
    while (Atomics.load(control, 0) === 0) {
      if (Atomics.load(control, 1) === 1) {
        // Holding reads: the kernel keeps queueing until the socket's buffer is full.
        Atomics.wait(control, 1, 1, data.pollTimeoutMs);
        continue;
      }
      const p = nl.poll(fd, data.pollTimeoutMs);
      if (!p.ok) {
        if (p.errno === EINTR) continue;
        throw new Failure('VIGIL_ERR_PROCCONN_RECV', `poll on the proc connector socket failed (errno ${p.errno})`, p.errno);
      }
      while (p.value === 1 && Atomics.load(control, 0) === 0) {
        const r = nl.recv(fd, buf, true);
        if (!r.ok) {
          if (r.errno === EAGAIN || r.errno === EINTR) break;
          if (r.errno === ENOBUFS) {
            overflows++;
            continue;
          }
          throw new Failure('VIGIL_ERR_PROCCONN_RECV', `recv on the proc connector socket failed (errno ${r.errno})`, r.errno);
        }
        datagrams++;
        try {
          const d = decodeDatagram(view, r.value);
          skipped += d.skipped;
          for (const ev of d.events) take(ev);
        } catch (err) {
          decodeErrors++;
          lastDecodeError = err instanceof Error ? err.message : String(err);
        }
        if (batch.length >= data.maxBatch) flush();
      }
      flush();
      const now = Date.now();
      if (now - lastStats >= STATS_EVERY_MS) {
        lastStats = now;
        post({ t: 'stats', datagrams, skipped, threads, decodeErrors, lastDecodeError });
      }
    }
    flush();
    post({ t: 'stats', datagrams, skipped, threads, decodeErrors, lastDecodeError });
  } finally {
    nl.subscribe(fd, false);
    nl.close(fd);
  }
}

async function main(): Promise<void> {
  const data = workerData as RecvWorkerData;
  let nl: NetlinkApi;
  try {
    nl = await bindNetlink();
  } catch (err) {
    post({ t: 'error', code: 'VIGIL_ERR_PROCCONN_FFI', message: `cannot bind the netlink calls: ${err instanceof Error ? err.message : String(err)}`, errno: 0 });
    return;
  }
  try {
    run(nl, data);
  } catch (err) {
    if (err instanceof Failure) post({ t: 'error', code: err.code, message: err.message, errno: err.errno });
    else throw err;
  }
  post({ t: 'closed' });
}

await main();
