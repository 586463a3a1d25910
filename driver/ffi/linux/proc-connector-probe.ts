/**
 * Can the netlink proc connector report processes here? Opens a socket, binds to the proc
 * group, subscribes, then runs a canary: a short child (`true` by default) whose exec or exit
 * must come back within a bound. The kernel ignores subscriptions from outside the initial
 * user / pid namespace without an error, and in another pid namespace the events name pids
 * the agent cannot see: in both cases the canary never comes back and the connector is
 * "deaf". The proc-connector sensor and the procfs fallback decide on this same probe.
 */
import { spawn } from 'node:child_process';
import { decodeDatagram } from './cn-proc.js';
import { bindNetlink, ECONNREFUSED, EPERM, EPROTONOSUPPORT, type NetlinkApi } from './netlink.js';

export interface ProcConnectorUnavailable {
  readonly kind: 'platform' | 'ffi' | 'socket' | 'privilege' | 'subscribe' | 'deaf';
  readonly reason: string;
}

export interface ProcConnectorProbeOptions {
  /** Longest wait for the canary's events (default 2000 ms). */
  readonly timeoutMs?: number;
  /** The canary command (default `true`, found on PATH). */
  readonly canary?: readonly [string, ...string[]];
}

export const DEFAULT_PROBE_TIMEOUT_MS = 2000;
const SLICE_MS = 100;

/** Open, bind and subscribe; the fd, or why not. Shared with the sensor's receive thread. */
export function openProcConnector(nl: NetlinkApi): { ok: true; fd: number } | { ok: false; why: ProcConnectorUnavailable } {
  const s = nl.openConnector();
  if (!s.ok) {
    const hint = s.errno === EPROTONOSUPPORT ? ': the kernel has no connector (CONFIG_CONNECTOR / CONFIG_PROC_EVENTS)' : '';
    return { ok: false, why: { kind: 'socket', reason: `socket(AF_NETLINK, NETLINK_CONNECTOR) failed (errno ${s.errno})${hint}` } };
  }
  const fd = s.value;
  const b = nl.bindProcGroup(fd);
  if (!b.ok) {
    nl.close(fd);
    if (b.errno === EPERM) {
      return {
        ok: false,
        why: { kind: 'privilege', reason: `binding to the proc connector group was refused (EPERM): it needs root (CAP_NET_ADMIN in the initial user namespace); this process is uid ${process.getuid?.() ?? '?'}` },
      };
    }
    return { ok: false, why: { kind: 'socket', reason: `bind to the proc connector group failed (errno ${b.errno})` } };
  }
  const sub = nl.subscribe(fd, true);
  if (!sub.ok) {
    nl.close(fd);
    const hint = sub.errno === ECONNREFUSED ? ': no proc connector answers in this network namespace (it lives in the initial one only)' : '';
    return { ok: false, why: { kind: 'subscribe', reason: `sending PROC_CN_MCAST_LISTEN failed (errno ${sub.errno})${hint}` } };
  }
  return { ok: true, fd };
}

/** Undefined when the connector reports the canary; otherwise why it cannot be used. */
export async function probeProcConnector(options: ProcConnectorProbeOptions = {}): Promise<ProcConnectorUnavailable | undefined> {
  if (process.platform !== 'linux') return { kind: 'platform', reason: `this is ${process.platform}, not Linux` };
  let nl: NetlinkApi;
  try {
    nl = await bindNetlink();
  } catch (err) {
    return { kind: 'ffi', reason: `the netlink binding cannot be loaded (koffi / libc.so.6): ${err instanceof Error ? err.message : String(err)}` };
  }
  const opened = openProcConnector(nl);
  if (!opened.ok) return opened.why;
  const fd = opened.fd;
  const timeoutMs = options.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
  try {
    return await listenForCanary(nl, fd, options.canary ?? ['true'], timeoutMs);
  } finally {
    nl.subscribe(fd, false);
    nl.close(fd);
  }
}

/**
 * Spawn the canary and read the socket (without blocking the event loop) until an exec or
 * exit of its pid arrives, or the deadline passes. Exported for the sensor's tests with a
 * socket that never receives.
 */
export async function listenForCanary(nl: NetlinkApi, fd: number, canary: readonly [string, ...string[]], timeoutMs: number): Promise<ProcConnectorUnavailable | undefined> {
  const child = spawn(canary[0], canary.slice(1), { stdio: 'ignore' });
  const spawned = new Promise<number | undefined>((resolve) => {
    child.once('spawn', () => resolve(child.pid));
    child.once('error', () => resolve(undefined));
  });
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const pid = await spawned;
  if (pid === undefined) return { kind: 'deaf', reason: `the canary ${canary[0]} could not be started, so the proc connector could not be tested` };
  const buf = new Uint8Array(8192);
  const view = new DataView(buf.buffer);
  const deadline = Date.now() + timeoutMs;
  let heard = false;
  while (!heard && Date.now() < deadline) {
    const p = await nl.pollAsync(fd, Math.max(0, Math.min(SLICE_MS, deadline - Date.now())));
    if (!p.ok || p.value === 0) continue;
    for (;;) {
      const r = nl.recv(fd, buf, true);
      // EAGAIN: read all; ENOBUFS: some were lost (a busy machine), keep reading.
      if (!r.ok) {
        if (r.errno === 105) continue;
        break;
      }
      try {
        for (const ev of decodeDatagram(view, r.value).events) {
          if ((ev.kind === 'exec' || ev.kind === 'exit') && ev.tgid === pid) heard = true;
        }
      } catch {
        // A datagram the decoder refuses says nothing about the canary; the deadline decides.
      }
    }
  }
  await exited;
  if (heard) return undefined;
  return {
    kind: 'deaf',
    reason:
      `the proc connector delivered no event for the agent's own canary process (pid ${pid}) within ${timeoutMs} ms: ` +
      'a subscription from outside the initial user / pid namespace is ignored by the kernel without an error, so the connector delivers nothing usable in this namespace',
  };
}
