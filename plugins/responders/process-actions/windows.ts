import type { ActionRequest } from '../../../core/index.js';
import {
  ERROR_ACCESS_DENIED,
  ERROR_INVALID_PARAMETER,
  PROCESS_ACTION_ACCESS,
  PROCESS_QUERY_LIMITED_INFORMATION,
  SYNCHRONIZE,
  filetimeToEpochMs,
  type Handle,
  type ProcessEntry,
  type WinProcessApi,
  type WinResult,
} from '../../../driver/ffi/windows/process.js';
import { HeldProcessBackend, NO_IDENTITY, expectedStart, type Outcomes } from './actions.js';

/** The exit code a killed process is given (what `taskkill /f` uses). */
export const KILL_EXIT_CODE = 1;
/** How often thread suspend counts are read while waiting for a suspension or a resume to show. */
const STATE_POLL_MS = 5;

/** Windows' critical processes (image file names, lower case): never suspended or killed. */
export const CRITICAL_IMAGES: ReadonlySet<string> = new Set(['system', 'smss.exe', 'csrss.exe', 'wininit.exe', 'services.exe', 'lsass.exe']);

export interface WindowsActionEnv {
  readonly api: WinProcessApi;
  /** The agent and its ancestors. */
  readonly lineage: ReadonlySet<number>;
  readonly confirmTimeoutMs: number;
  readonly maxTreeProcesses: number;
  /** Aborted on stop: waits end early and report failure. */
  readonly signal: AbortSignal;
}

/** A process as verified through its handle. */
interface Held {
  readonly pid: number;
  readonly handle: Handle;
  /** Creation time, FILETIME ticks. */
  readonly created: bigint;
  readonly image: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `Z:\a\B.exe`, `\\?\z:/a/b.exe` → `z:\a\b.exe`: Windows paths compare case-insensitively. */
export function normalizeImage(path: string): string {
  return path
    .replace(/^\\\\\?\\/, '')
    .replaceAll('/', '\\')
    .toLowerCase();
}

function baseName(path: string): string {
  const n = normalizeImage(path);
  return n.slice(n.lastIndexOf('\\') + 1);
}

function winError(r: { error: number; call: string }): string {
  return `${r.call} failed: Win32 error ${r.error}${r.error === ERROR_ACCESS_DENIED ? ' (access denied: the agent must run elevated, and protected processes refuse even administrators)' : ''}`;
}

/**
 * The agent and its ancestors, from a toolhelp snapshot: parent pids are followed only while
 * the parent was created before the child (a parent that exited may have left its pid to a
 * newer, unrelated process).
 */
export function windowsLineage(api: WinProcessApi): Set<number> {
  const out = new Set<number>([api.currentProcessId]);
  const list = api.processes();
  if (!list.ok) return out;
  const parent = new Map(list.value.map((p) => [p.pid, p.ppid]));
  const created = (pid: number): bigint | undefined => {
    const h = api.open(pid, PROCESS_QUERY_LIMITED_INFORMATION);
    if (!h.ok) return undefined;
    try {
      const t = api.creationTime(h.value);
      return t.ok ? t.value : undefined;
    } finally {
      api.close(h.value);
    }
  };
  let pid = api.currentProcessId;
  let childCreated = created(pid);
  for (let i = 0; i < 4096; i++) {
    const ppid = parent.get(pid);
    if (ppid === undefined || ppid === 0 || out.has(ppid)) break;
    const t = created(ppid);
    if (t !== undefined && childCreated !== undefined && t > childCreated) break;
    out.add(ppid);
    pid = ppid;
    childCreated = t;
  }
  return out;
}

/**
 * Kill, kill a tree, suspend and resume a Windows process named by pid + start time. A
 * handle is opened FIRST; its real pid, creation time and image are checked through that
 * handle, and TerminateProcess / NtSuspendProcess act on the same handle, so a pid reused
 * in between is never touched. Success only once confirmed: the handle signalled (exit), or
 * every thread's suspend count seen ≥ 1 (suspended) / 0 (resumed).
 */
export class WindowsProcessActions extends HeldProcessBackend<Held, ProcessEntry> {
  constructor(private readonly env: WindowsActionEnv) {
    super();
  }

  private protectedReason(pid: number, image: string | undefined): string | undefined {
    if (this.env.lineage.has(pid)) return `pid ${pid} is the agent or one of its ancestors`;
    if (pid === 0 || pid === 4) return `pid ${pid} is the System Idle Process or System`;
    if (image !== undefined && CRITICAL_IMAGES.has(baseName(image))) return `pid ${pid} is a critical Windows process (${baseName(image)})`;
    return undefined;
  }

  protected async outcome(req: ActionRequest): Promise<Outcomes> {
    const pid = req.target?.pid;
    const expected = expectedStart(req.target);
    if (pid === undefined || !Number.isSafeInteger(pid) || pid < 0 || pid > 0xffffffff || expected === undefined) return NO_IDENTITY;
    // OpenProcess ignores a pid's low two bits: 13102 would open 13100. No real Windows pid
    // has them set, so such a request cannot name a process and is refused outright.
    if (pid % 4 !== 0) return { outcome: 'no_identity', reason: `pid ${pid} is not a Windows process id (not a multiple of 4; Windows would open pid ${pid & ~3}); refused` };
    const early = this.protectedReason(pid, undefined);
    if (early) return { outcome: 'protected', reason: `protected process: ${early}` };
    const access = req.dry_run ? PROCESS_QUERY_LIMITED_INFORMATION | SYNCHRONIZE : PROCESS_ACTION_ACCESS;
    const opened = this.env.api.open(pid, access);
    if (!opened.ok) {
      if (opened.error === ERROR_INVALID_PARAMETER) return { outcome: 'not_found', reason: `${req.dry_run ? 'monitor: ' : ''}pid ${pid} does not exist` };
      return { outcome: 'failed', reason: `OpenProcess(${pid}) ${winError(opened)}`, details: { win32_error: opened.error } };
    }
    const handle = opened.value;
    try {
      const checked = await this.verify(pid, handle, expected, req.target?.image);
      if ('outcome' in checked) return req.dry_run ? { ...checked, reason: `monitor: ${checked.reason}` } : checked;
      if (req.dry_run) return { outcome: 'would_have', reason: `would have: ${req.action} pid ${pid} (${baseName(checked.image)})` };
      return await this.act(req.action, checked);
    } finally {
      this.env.api.close(handle);
    }
  }

  /** Identity through the open handle: real pid, still running, creation time, image, not protected. */
  private async verify(pid: number, handle: Handle, expectedMs: number, expectedImage: string | undefined): Promise<Held | Outcomes> {
    const { api } = this.env;
    const real = api.processId(handle);
    if (real !== pid) return { outcome: 'identity_mismatch', reason: `OpenProcess(${pid}) reached pid ${real}; not touched`, details: { opened_pid: real } };
    if (await api.waitExit(handle, 0)) return { outcome: 'not_found', reason: `pid ${pid} has exited` };
    const created = api.creationTime(handle);
    if (!created.ok) return { outcome: 'failed', reason: `pid ${pid}: ${winError(created)}` };
    const liveMs = filetimeToEpochMs(created.value);
    // FILETIME has 100 ns ticks; a start time in ms may have been rounded rather than floored.
    if (Math.abs(liveMs - expectedMs) > 1) {
      return {
        outcome: 'identity_mismatch',
        reason: `pid ${pid} now names another process (created ${new Date(liveMs).toISOString()}, expected ${new Date(expectedMs).toISOString()}); not touched`,
        details: { live_start_time: liveMs, expected_start_time: expectedMs },
      };
    }
    const image = api.imagePath(handle);
    if (!image.ok) return { outcome: 'failed', reason: `pid ${pid}: ${winError(image)}` };
    if (expectedImage !== undefined && normalizeImage(expectedImage) !== normalizeImage(image.value)) {
      return { outcome: 'identity_mismatch', reason: `pid ${pid} runs ${image.value}, not ${expectedImage}; not touched`, details: { live_image: image.value, expected_image: expectedImage } };
    }
    const guarded = this.protectedReason(pid, image.value);
    if (guarded) return { outcome: 'protected', reason: `protected process: ${guarded}` };
    return { pid, handle, created: created.value, image: image.value };
  }

  private startMs(h: Held): number {
    return filetimeToEpochMs(h.created);
  }

  protected async kill(h: Held): Promise<Outcomes> {
    const { api } = this.env;
    const t = api.terminate(h.handle, KILL_EXIT_CODE);
    if (!t.ok) {
      // TerminateProcess on a process already exiting fails with access denied.
      if (await api.waitExit(h.handle, 0)) return { outcome: 'not_found', reason: `pid ${h.pid} exited before TerminateProcess` };
      return { outcome: 'failed', reason: `TerminateProcess(pid ${h.pid}) ${winError(t)}`, details: { win32_error: t.error } };
    }
    if (await api.waitExit(h.handle, this.env.confirmTimeoutMs, this.env.signal)) {
      const code = api.exitCode(h.handle);
      return {
        outcome: 'done',
        reason: `killed pid ${h.pid} (${baseName(h.image)}); exit confirmed`,
        details: { pid: h.pid, start_time: this.startMs(h), ...(code.ok ? { exit_code: code.value } : {}) },
      };
    }
    const why = this.env.signal.aborted ? 'before the responder was stopped' : `within ${this.env.confirmTimeoutMs} ms`;
    return { outcome: 'failed', reason: `TerminateProcess(pid ${h.pid}) returned but its exit was not seen ${why}` };
  }

  /** Every thread's suspend count, through toolhelp + OpenThread; threads that exit meanwhile are left out. */
  private suspendCounts(pid: number): WinResult<number[]> {
    const threads = this.env.api.threads(pid);
    if (!threads.ok) return threads;
    const counts: number[] = [];
    for (const t of threads.value) {
      const c = this.env.api.threadSuspendCount(t.tid);
      if (c.ok) counts.push(c.value);
      else if (c.error !== ERROR_INVALID_PARAMETER) return c;
    }
    return { ok: true, value: counts };
  }

  /** Poll suspend counts until `want` holds for every thread, the process exits, or the timeout. */
  private async waitThreads(h: Held, want: (count: number) => boolean): Promise<{ seen: 'ok' | 'gone' | 'timeout'; counts: number[] } | { seen: 'error'; reason: string }> {
    const deadline = Date.now() + this.env.confirmTimeoutMs;
    for (;;) {
      if (await this.env.api.waitExit(h.handle, 0)) return { seen: 'gone', counts: [] };
      const counts = this.suspendCounts(h.pid);
      if (!counts.ok) return { seen: 'error', reason: winError(counts) };
      if (counts.value.length > 0 && counts.value.every(want)) return { seen: 'ok', counts: counts.value };
      if (Date.now() >= deadline || this.env.signal.aborted) return { seen: 'timeout', counts: counts.value };
      await sleep(STATE_POLL_MS);
    }
  }

  protected async suspend(h: Held): Promise<Outcomes> {
    const s = this.env.api.suspend(h.handle);
    if (!s.ok) return { outcome: 'failed', reason: `NtSuspendProcess(pid ${h.pid}) failed: NTSTATUS 0x${s.error.toString(16)}`, details: { ntstatus: s.error } };
    const w = await this.waitThreads(h, (c) => c >= 1);
    if (w.seen === 'ok') return { outcome: 'done', reason: `suspended pid ${h.pid} (${baseName(h.image)}); all ${w.counts.length} threads seen suspended`, details: { pid: h.pid, start_time: this.startMs(h), threads: w.counts.length } };
    if (w.seen === 'gone') return { outcome: 'not_found', reason: `pid ${h.pid} exited while being suspended` };
    if (w.seen === 'error') return { outcome: 'failed', reason: `NtSuspendProcess(pid ${h.pid}) returned but its threads could not be checked: ${w.reason}` };
    return { outcome: 'failed', reason: `NtSuspendProcess(pid ${h.pid}) returned but not every thread was seen suspended within ${this.env.confirmTimeoutMs} ms (counts ${w.counts.join(',')})` };
  }

  protected async resume(h: Held): Promise<Outcomes> {
    const s = this.env.api.resume(h.handle);
    if (!s.ok) return { outcome: 'failed', reason: `NtResumeProcess(pid ${h.pid}) failed: NTSTATUS 0x${s.error.toString(16)}`, details: { ntstatus: s.error } };
    const w = await this.waitThreads(h, (c) => c === 0);
    if (w.seen === 'ok') return { outcome: 'done', reason: `resumed pid ${h.pid} (${baseName(h.image)}); all ${w.counts.length} threads running again`, details: { pid: h.pid, start_time: this.startMs(h), threads: w.counts.length } };
    if (w.seen === 'gone') return { outcome: 'not_found', reason: `pid ${h.pid} exited while being resumed` };
    if (w.seen === 'error') return { outcome: 'failed', reason: `NtResumeProcess(pid ${h.pid}) returned but its threads could not be checked: ${w.reason}` };
    // A process suspended more than once (by someone else too) needs as many resumes.
    return { outcome: 'failed', reason: `NtResumeProcess(pid ${h.pid}) returned but threads are still suspended after ${this.env.confirmTimeoutMs} ms (counts ${w.counts.join(',')}: suspended more than once)` };
  }

  protected startOf(h: Held): number {
    return this.startMs(h);
  }

  protected treeLimit(): number {
    return this.env.maxTreeProcesses;
  }

  /** By parent pid from a toolhelp snapshot taken once the parent is suspended. */
  protected async childrenOf(parent: Held): Promise<readonly ProcessEntry[] | { failed: string }> {
    const list = this.env.api.processes();
    if (!list.ok) return { failed: `process snapshot ${winError(list)}` };
    return list.value.filter((p) => p.ppid === parent.pid && p.pid !== parent.pid);
  }

  /**
   * Each child through its own handle, checked like the root. A process whose parent pid
   * matches but that was created BEFORE the parent is the child of an earlier holder of that
   * pid, not of this tree, and is left alone.
   */
  protected async holdChild(c: ProcessEntry, parent: Held, opened: Held[]): Promise<Held | string> {
    const { api } = this.env;
    const early = this.protectedReason(c.pid, c.exe);
    if (early) return early;
    const o = api.open(c.pid, PROCESS_ACTION_ACCESS);
    if (!o.ok) return o.error === ERROR_INVALID_PARAMETER ? 'exited' : `OpenProcess: ${winError(o)}`;
    const t = api.creationTime(o.value);
    const img = api.imagePath(o.value);
    if (!t.ok || !img.ok || api.processId(o.value) !== c.pid) {
      api.close(o.value);
      return 'exited or unreadable while the tree was walked';
    }
    const h: Held = { pid: c.pid, handle: o.value, created: t.value, image: img.value };
    opened.push(h);
    if (t.value < parent.created) return `created before pid ${parent.pid}: the child of an earlier process with that pid`;
    const guarded = this.protectedReason(c.pid, img.value);
    if (guarded) return guarded;
    return h;
  }

  protected release(h: Held): void {
    this.env.api.close(h.handle);
  }
}
