import { execFile } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';

/**
 * The little of /proc the actions need: a process's identity (start time in clock ticks
 * since boot, field 22 of /proc/<pid>/stat, the same identity the procfs sensor stamps),
 * its state, parent and flags, and the children of a process.
 */

export interface Stat {
  readonly pid: number;
  readonly comm: string;
  readonly state: string;
  readonly ppid: number;
  readonly flags: number;
  readonly startTicks: number;
}

/** PF_KTHREAD: a kernel thread. */
export const PF_KTHREAD = 0x00200000;

function errnoCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** Parse a stat line; comm runs from the first '(' to the LAST ')'. Undefined when malformed. */
export function parseStat(text: string): Stat | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open <= 0 || close < open) return undefined;
  const rest = text.slice(close + 1).trim().split(' ');
  const pid = Number(text.slice(0, open).trim());
  const state = rest[0] ?? '';
  const ppid = Number(rest[1]);
  const flags = Number(rest[6]);
  const startTicks = Number(rest[19]);
  if (![pid, ppid, flags, startTicks].every((v) => Number.isSafeInteger(v) && v >= 0) || state.length !== 1) return undefined;
  return { pid, comm: text.slice(open + 1, close), state, ppid, flags, startTicks };
}

/** /proc/<pid>/stat, or undefined when the process is gone. Other read errors are thrown. */
export async function readStat(pid: number, root = '/proc'): Promise<Stat | undefined> {
  let text: string;
  try {
    text = await readFile(`${root}/${pid}/stat`, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ESRCH') return undefined;
    throw err;
  }
  return parseStat(text);
}

/** Boot time (s since the epoch) from /proc/stat. */
export async function readBootTime(root = '/proc'): Promise<number | undefined> {
  const m = /^btime\s+(\d+)\s*$/m.exec(await readFile(`${root}/stat`, 'utf8'));
  return m?.[1] ? Number(m[1]) : undefined;
}

/** `getconf CLK_TCK`; undefined when it cannot be run (the caller falls back to 100 and says so). */
export function readClockTicks(signal: AbortSignal): Promise<number | undefined> {
  return new Promise((resolve) => {
    execFile('getconf', ['CLK_TCK'], { timeout: 2000, signal }, (err, stdout) => {
      const v = err ? NaN : Number(stdout.trim());
      resolve(Number.isSafeInteger(v) && v > 0 ? v : undefined);
    });
  });
}

/** Start ticks → ms since the epoch, exactly as the procfs sensor computes `start_time`. */
export function ticksToEpochMs(startTicks: number, bootTimeSec: number, clockTicks: number): number {
  return bootTimeSec * 1000 + Math.round((startTicks * 1000) / clockTicks);
}

/** Every process's stat, for finding children by ppid. Processes that vanish while listed are left out. */
export async function listStats(root = '/proc'): Promise<Stat[]> {
  const out: Stat[] = [];
  for (const name of await readdir(root)) {
    if (!/^\d+$/.test(name)) continue;
    const s = await readStat(Number(name), root);
    if (s) out.push(s);
  }
  return out;
}

/** The agent and every ancestor, walked from this process through the ppid chain. */
export async function agentLineage(root = '/proc'): Promise<Set<number>> {
  const out = new Set<number>([process.pid]);
  let pid = process.pid;
  for (let i = 0; i < 4096 && pid > 0; i++) {
    out.add(pid);
    const s = await readStat(pid, root);
    if (!s) break;
    pid = s.ppid;
  }
  return out;
}
