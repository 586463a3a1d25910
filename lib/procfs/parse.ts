/**
 * Pure parsers for the procfs text formats. No I/O here so that every corner (a comm with
 * spaces and parentheses, a truncated stat line) is testable on strings.
 */

/** The fields of /proc/<pid>/stat the sensor uses. */
export interface ProcStat {
  pid: number;
  /** Task name (comm), at most 15 bytes in the kernel, may contain spaces and parentheses. */
  comm: string;
  /** One-letter state: R, S, D, Z, T, t, X, I … */
  state: string;
  ppid: number;
  /** Kernel task flags (field 9). */
  flags: number;
  /** Start time in clock ticks since boot (field 22). */
  startTicks: number;
}

/** PF_KTHREAD: the task is a kernel thread (no executable, no command line). */
export const PF_KTHREAD = 0x00200000;

export class ProcParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProcParseError';
  }
}

/**
 * Parse one /proc/<pid>/stat line. comm is bracketed by the first '(' and the LAST ')':
 * the name itself may contain ') (' so splitting on spaces from the start would shift
 * every later field.
 */
export function parseStat(text: string, where = 'stat'): ProcStat {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open <= 0 || close < open) throw new ProcParseError(`${where}: no "(comm)" in ${JSON.stringify(text.slice(0, 80))}`);
  const pid = Number(text.slice(0, open).trim());
  const comm = text.slice(open + 1, close);
  // rest[0] is field 3 (state); field N is rest[N - 3].
  const rest = text.slice(close + 1).trim().split(' ');
  const state = rest[0];
  const ppid = Number(rest[1]);
  const flags = Number(rest[6]);
  const startTicks = Number(rest[19]);
  if (!Number.isSafeInteger(pid) || pid < 0) throw new ProcParseError(`${where}: bad pid field`);
  if (state === undefined || state.length !== 1) throw new ProcParseError(`${where}: bad state field (3)`);
  if (!Number.isSafeInteger(ppid) || ppid < 0) throw new ProcParseError(`${where}: bad ppid field (4)`);
  if (!Number.isSafeInteger(flags) || flags < 0) throw new ProcParseError(`${where}: bad flags field (9)`);
  if (!Number.isSafeInteger(startTicks) || startTicks < 0) throw new ProcParseError(`${where}: bad starttime field (22)`);
  return { pid, comm, state, ppid, flags, startTicks };
}

/** Boot time in seconds since the epoch, from the `btime` line of /proc/stat. */
export function parseBootTime(text: string): number | undefined {
  const m = /^btime\s+(\d+)\s*$/m.exec(text);
  if (!m?.[1]) return undefined;
  const v = Number(m[1]);
  return Number.isSafeInteger(v) ? v : undefined;
}

/**
 * A wait(2) status (what the kernel records at exit: /proc/<pid>/stat's exit_code, the proc
 * connector's and the eBPF exit records') as a process.stop's raw fields: the exit code, the
 * status itself, and the terminating signal and core dump when there were.
 */
export function exitStatusRaw(status: number): Record<string, unknown> {
  const raw: Record<string, unknown> = { exit_code: (status >> 8) & 0xff, exit_status: status };
  if ((status & 0x7f) !== 0) raw['signal'] = status & 0x7f;
  if ((status & 0x80) !== 0) raw['core_dumped'] = true;
  return raw;
}

/** Real and effective uid from the `Uid:` line of /proc/<pid>/status. */
export function parseStatusUids(text: string): { ruid: number; euid: number } | undefined {
  const m = /^Uid:\s+(\d+)\s+(\d+)/m.exec(text);
  if (!m?.[1] || !m[2]) return undefined;
  return { ruid: Number(m[1]), euid: Number(m[2]) };
}

/** /proc/<pid>/cmdline: NUL-separated arguments, joined with single spaces. */
export function parseCmdline(buf: Buffer): string {
  let end = buf.length;
  while (end > 0 && buf[end - 1] === 0) end--;
  return buf.toString('utf8', 0, end).split('\0').join(' ');
}

/** uid → user name from /etc/passwd text; the first entry wins, as getpwuid does. */
export function parsePasswd(text: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const line of text.split('\n')) {
    if (line.length === 0 || line.startsWith('#')) continue;
    const parts = line.split(':');
    const name = parts[0];
    const uid = Number(parts[2]);
    if (!name || parts[2] === undefined || parts[2] === '' || !Number.isSafeInteger(uid)) continue;
    if (!out.has(uid)) out.set(uid, name);
  }
  return out;
}

/** Convert a start time in clock ticks since boot to ms since the epoch. */
export function ticksToEpochMs(startTicks: number, bootTimeSec: number, clockTicks: number): number {
  return bootTimeSec * 1000 + Math.round((startTicks * 1000) / clockTicks);
}
