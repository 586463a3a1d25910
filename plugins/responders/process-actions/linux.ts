import { constants } from 'node:os';
import type { ActionRequest } from '../../../core/index.js';
import type { PidfdApi } from '../../../driver/ffi/linux/pidfd.js';
import { HeldProcessBackend, NO_IDENTITY, expectedStart, type Outcomes } from './actions.js';
import { PF_KTHREAD, listStats, readStat, ticksToEpochMs, type Stat } from './procfs.js';

const SIGKILL = 9;
const SIGCONT = 18;
const SIGSTOP = 19;
const ESRCH = 3;

/** How often /proc/<pid>/stat is read while waiting for a stop or a continue. */
const STATE_POLL_MS = 5;

const ERRNO_NAMES = new Map<number, string>(Object.entries(constants.errno).map(([name, n]) => [n, name]));

/** `ESRCH`, `EPERM` …, or the number. */
export function errnoName(n: number): string {
  return ERRNO_NAMES.get(n) ?? `errno ${n}`;
}

export interface ActionEnv {
  readonly pidfd: PidfdApi;
  readonly bootTimeSec: number;
  readonly clockTicks: number;
  /** The agent and its ancestors. */
  readonly lineage: ReadonlySet<number>;
  readonly confirmTimeoutMs: number;
  readonly maxTreeProcesses: number;
  readonly procRoot?: string;
  /** Aborted on stop: waits end early and report failure. */
  readonly signal: AbortSignal;
}

/** A process as verified through its pidfd: the pid, its start ticks and the open descriptor. */
interface Held {
  readonly pid: number;
  readonly stat: Stat;
  readonly fd: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Kill, kill a tree, suspend and resume a process named by pid + start time, through a
 * pidfd. The identity is checked AFTER the pidfd is open and before any signal: the pidfd
 * pins one process, so a pid reused in between is never signalled. Success is reported
 * only once the exit (pidfd readable) or the stop / continue (/proc state) is seen.
 */
export class ProcessActions extends HeldProcessBackend<Held, Stat> {
  constructor(private readonly env: ActionEnv) {
    super();
  }

  private startMs(s: Stat): number {
    return ticksToEpochMs(s.startTicks, this.env.bootTimeSec, this.env.clockTicks);
  }

  /** Same process: start times within one clock tick (the resolution of procfs). */
  private sameStart(s: Stat, expected: number): boolean {
    return Math.abs(this.startMs(s) - expected) <= 1000 / this.env.clockTicks;
  }

  private protectedReason(pid: number, s: Stat | undefined): string | undefined {
    if (this.env.lineage.has(pid)) return `pid ${pid} is the agent or one of its ancestors`;
    if (pid <= 2 || s?.ppid === 2) return `pid ${pid} is init or a kernel thread`;
    if (s && (s.flags & PF_KTHREAD) !== 0) return `pid ${pid} is a kernel thread`;
    return undefined;
  }

  protected async outcome(req: ActionRequest): Promise<Outcomes> {
    const pid = req.target?.pid;
    const expected = expectedStart(req.target);
    if (pid === undefined || !Number.isSafeInteger(pid) || pid <= 0 || expected === undefined) {
      return NO_IDENTITY;
    }
    const early = this.protectedReason(pid, undefined);
    if (early) return { outcome: 'protected', reason: `protected process: ${early}` };
    if (req.dry_run) return this.simulate(req.action, pid, expected);

    const opened = this.env.pidfd.open(pid);
    if (!opened.ok) {
      if (opened.errno === ESRCH) return { outcome: 'not_found', reason: `pid ${pid} does not exist` };
      return { outcome: 'failed', reason: `pidfd_open(${pid}) failed: ${errnoName(opened.errno)}`, details: { errno: errnoName(opened.errno) } };
    }
    const fd = opened.value;
    try {
      // Read only now that the pidfd pins the process: if this stat is the one meant, the
      // descriptor is too.
      const stat = await readStat(pid, this.env.procRoot);
      if (!stat || stat.state === 'Z' || stat.state === 'X') return { outcome: 'not_found', reason: `pid ${pid} has exited` };
      if (!this.sameStart(stat, expected)) {
        return {
          outcome: 'identity_mismatch',
          reason: `pid ${pid} now names another process (started ${new Date(this.startMs(stat)).toISOString()}, expected ${new Date(expected).toISOString()}); not signalled`,
          details: { live_start_time: this.startMs(stat), expected_start_time: expected },
        };
      }
      const guarded = this.protectedReason(pid, stat);
      if (guarded) return { outcome: 'protected', reason: `protected process: ${guarded}` };
      const held: Held = { pid, stat, fd };
      return await this.act(req.action, held);
    } finally {
      this.env.pidfd.close(fd);
    }
  }

  /** Monitor: read-only, say what would have happened. */
  private async simulate(action: string, pid: number, expected: number): Promise<Outcomes> {
    const stat = await readStat(pid, this.env.procRoot);
    if (!stat || stat.state === 'Z') return { outcome: 'not_found', reason: `monitor: pid ${pid} does not exist; nothing would have been done` };
    if (!this.sameStart(stat, expected)) return { outcome: 'identity_mismatch', reason: `monitor: pid ${pid} now names another process; it would not have been signalled` };
    const guarded = this.protectedReason(pid, stat);
    if (guarded) return { outcome: 'protected', reason: `protected process: ${guarded}` };
    return { outcome: 'would_have', reason: `would have: ${action} pid ${pid} (${stat.comm})` };
  }

  private signal(h: Held, sig: number, name: string): Outcomes | undefined {
    const r = this.env.pidfd.sendSignal(h.fd, sig);
    if (r.ok) return undefined;
    if (r.errno === ESRCH) return { outcome: 'not_found', reason: `pid ${h.pid} exited before ${name}` };
    return { outcome: 'failed', reason: `pidfd_send_signal(${name}) to pid ${h.pid} failed: ${errnoName(r.errno)}`, details: { errno: errnoName(r.errno) } };
  }

  protected async kill(h: Held): Promise<Outcomes> {
    const refused = this.signal(h, SIGKILL, 'SIGKILL');
    if (refused) return refused;
    if (await this.env.pidfd.waitExit(h.fd, this.env.confirmTimeoutMs, this.env.signal)) {
      return { outcome: 'done', reason: `killed pid ${h.pid} (${h.stat.comm}); exit confirmed`, details: { pid: h.pid, start_time: this.startMs(h.stat) } };
    }
    const why = this.env.signal.aborted ? 'before the responder was stopped' : `within ${this.env.confirmTimeoutMs} ms`;
    return { outcome: 'failed', reason: `SIGKILL sent to pid ${h.pid} but its exit was not seen ${why}` };
  }

  /** Wait until the process's /proc state satisfies `want` (still the same process), or the timeout. */
  private async waitState(h: Held, want: (state: string) => boolean): Promise<'ok' | 'gone' | 'timeout'> {
    const deadline = Date.now() + this.env.confirmTimeoutMs;
    for (;;) {
      const s = await readStat(h.pid, this.env.procRoot);
      if (!s || s.startTicks !== h.stat.startTicks || s.state === 'Z' || s.state === 'X') return 'gone';
      if (want(s.state)) return 'ok';
      if (Date.now() >= deadline || this.env.signal.aborted) return 'timeout';
      await sleep(STATE_POLL_MS);
    }
  }

  protected async suspend(h: Held): Promise<Outcomes> {
    const refused = this.signal(h, SIGSTOP, 'SIGSTOP');
    if (refused) return refused;
    const seen = await this.waitState(h, (st) => st === 'T' || st === 't');
    if (seen === 'ok') return { outcome: 'done', reason: `suspended pid ${h.pid} (${h.stat.comm}); stop confirmed`, details: { pid: h.pid, start_time: this.startMs(h.stat) } };
    if (seen === 'gone') return { outcome: 'not_found', reason: `pid ${h.pid} exited while being suspended` };
    return { outcome: 'failed', reason: `SIGSTOP sent to pid ${h.pid} but it was not seen stopped within ${this.env.confirmTimeoutMs} ms` };
  }

  protected async resume(h: Held): Promise<Outcomes> {
    const refused = this.signal(h, SIGCONT, 'SIGCONT');
    if (refused) return refused;
    const seen = await this.waitState(h, (st) => st !== 'T' && st !== 't');
    if (seen === 'ok') return { outcome: 'done', reason: `resumed pid ${h.pid} (${h.stat.comm}); running again`, details: { pid: h.pid, start_time: this.startMs(h.stat) } };
    if (seen === 'gone') return { outcome: 'not_found', reason: `pid ${h.pid} exited while being resumed` };
    return { outcome: 'failed', reason: `SIGCONT sent to pid ${h.pid} but it was still stopped after ${this.env.confirmTimeoutMs} ms` };
  }

  protected startOf(h: Held): number {
    return this.startMs(h.stat);
  }

  protected treeLimit(): number {
    return this.env.maxTreeProcesses;
  }

  /** Found by ppid in /proc once their parent is stopped. */
  protected async childrenOf(parent: Held): Promise<Stat[]> {
    return (await listStats(this.env.procRoot)).filter((s) => s.ppid === parent.pid && s.state !== 'Z');
  }

  /** Each child through its own pidfd, checked (same start, same parent) after it is open. */
  protected async holdChild(c: Stat, parent: Held, opened: Held[]): Promise<Held | string> {
    const guarded = this.protectedReason(c.pid, c);
    if (guarded) return guarded;
    const fd = this.env.pidfd.open(c.pid);
    if (!fd.ok) return fd.errno === ESRCH ? 'exited' : `pidfd_open: ${errnoName(fd.errno)}`;
    const h: Held = { pid: c.pid, stat: c, fd: fd.value };
    opened.push(h);
    const now = await readStat(c.pid, this.env.procRoot);
    if (!now || now.startTicks !== c.startTicks || now.ppid !== parent.pid) return 'exited or replaced while the tree was walked';
    return h;
  }

  protected release(h: Held): void {
    this.env.pidfd.close(h.fd);
  }
}
