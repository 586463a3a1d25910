/**
 * What a kernel-fed process sensor reads once at start to date and name processes as procfs
 * does: the boot time and USER_HZ (a start time in ticks since boot becomes epoch ms, the same
 * value procfs derives, so guids agree across sources) and the passwd file (uid → user name).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger, PluginCounters } from '../../core/index.js';
import { DEFAULT_CLOCK_TICKS, readClockTicks } from './clock-ticks.js';
import { parseBootTime } from './parse.js';
import type { UserNames } from './user-names.js';

export interface ProcessClock {
  /** Boot time, epoch seconds (`btime` of <proc_root>/stat). */
  bootSec: number;
  /** USER_HZ (`getconf CLK_TCK`), 100 when it cannot be read. */
  clockTicks: number;
}

/** Reads the boot time and USER_HZ; `who` prefixes the error when <procRoot>/stat has no btime. */
export async function readProcessClock(procRoot: string, signal: AbortSignal, who: string): Promise<ProcessClock> {
  const statPath = join(procRoot, 'stat');
  const bootSec = parseBootTime(await readFile(statPath, 'utf8'));
  if (bootSec === undefined) throw new Error(`${who}: ${statPath} has no "btime" line; cannot date process starts`);
  const clockTicks = (await readClockTicks(signal)) ?? DEFAULT_CLOCK_TICKS;
  return { bootSec, clockTicks };
}

/**
 * Loads the passwd file; true when it loaded. Without it the sensor still reports uids and
 * only `user` stays unset, so a failure is counted (`start` error `passwd:<code>`) and warned.
 */
export async function loadUserNames(users: UserNames, ctx: { counters: PluginCounters; logger: Logger }, who: string): Promise<boolean> {
  try {
    await users.load();
    return true;
  } catch (err) {
    ctx.counters.error('start', `passwd:${(err as { code?: string }).code ?? 'unknown'}`);
    ctx.logger.warn({ err }, `${who}: cannot read the passwd file; user names stay unresolved`);
    return false;
  }
}
