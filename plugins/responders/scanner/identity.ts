/**
 * Who and what a scan is about, read on the main thread before a task is queued: the process
 * identity (guid, or pid@start_time as every Linux source writes it), whether the pid still
 * names that process, and the sha256 of its image — the scan cache's key.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ProcessInfo } from '../../../core/index.js';
import { parseBootTime, parseStat, processGuid, ticksToEpochMs } from '../../../lib/procfs/index.js';

/** The identity a scan result is keyed by: the guid, else pid@start_time, else pid alone (CLI). */
export function identityOf(p: Pick<ProcessInfo, 'pid' | 'guid' | 'start_time'>): string | undefined {
  if (typeof p.guid === 'string' && p.guid !== '') return p.guid;
  if (p.pid !== undefined && p.start_time !== undefined) return processGuid(p.pid, p.start_time);
  return undefined;
}

/** What /proc says about a live pid now. */
export interface LiveProc {
  readonly pid: number;
  readonly startTime: number;
  readonly comm: string;
}

export interface ProcClock {
  readonly bootTimeSec: number;
  readonly clockTicks: number;
}

/** btime of /proc/stat; undefined when /proc has none (then identities cannot be checked). */
export async function readProcClock(procRoot: string, clockTicks: number): Promise<ProcClock | undefined> {
  const bootTimeSec = parseBootTime(await readFile(join(procRoot, 'stat'), 'utf8'));
  return bootTimeSec === undefined ? undefined : { bootTimeSec, clockTicks };
}

/** The live process behind a pid, or undefined when there is none. */
export async function liveProcess(pid: number, clock: ProcClock, procRoot = '/proc'): Promise<LiveProc | undefined> {
  let text: string;
  try {
    text = await readFile(join(procRoot, String(pid), 'stat'), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ESRCH') return undefined;
    throw err;
  }
  const s = parseStat(text, `${procRoot}/${pid}/stat`);
  return { pid, startTime: ticksToEpochMs(s.startTicks, clock.bootTimeSec, clock.clockTicks), comm: s.comm };
}

/**
 * Whether the live process is the one the request names. Start times are compared within one
 * clock tick plus a millisecond of rounding; a pid@start guid is read for its start.
 */
export function sameProcess(target: Pick<ProcessInfo, 'guid' | 'start_time'>, live: LiveProc, clock: ProcClock): boolean {
  let start = target.start_time;
  if (start === undefined && typeof target.guid === 'string') {
    const m = /^(\d+)@(\d+)$/.exec(target.guid);
    if (m?.[2] !== undefined) start = Number(m[2]);
  }
  // A guid of another form (a Sysmon ProcessGuid) cannot be checked against /proc.
  if (start === undefined) return true;
  return Math.abs(start - live.startTime) <= 1000 / clock.clockTicks + 1;
}

/**
 * sha256 of files by (device, inode, size, mtime): an image is hashed once, not once per
 * scan. Bounded: at the cap the oldest entry is dropped (counted by the caller through `evicted`).
 */
export class ImageHashes {
  private readonly memo = new Map<string, string>();
  evicted = 0;

  constructor(private readonly maxEntries = 1024) {}

  async sha256(path: string, signal?: AbortSignal): Promise<string> {
    const st = await stat(path);
    const key = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
    const known = this.memo.get(key);
    if (known !== undefined) return known;
    const hash = createHash('sha256');
    // Streamed in 1 MiB pieces so a large image never blocks the event loop for long.
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20, ...(signal ? { signal } : {}) })) hash.update(chunk as Buffer);
    const digest = hash.digest('hex');
    this.memo.set(key, digest);
    if (this.memo.size > this.maxEntries) {
      const oldest = this.memo.keys().next().value;
      if (oldest !== undefined) this.memo.delete(oldest);
      this.evicted++;
    }
    return digest;
  }
}
