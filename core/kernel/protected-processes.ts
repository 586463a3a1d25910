import { existsSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { posix } from 'node:path';

/**
 * What the response policy never suspends or kills, and how an image path is compared with
 * the protected list: paths are normalized first so that a ` (deleted)` suffix, a different
 * case on Windows, a `\\?\` prefix or a symbolic link does not escape it.
 */

/** Windows' critical processes, matched by file name whatever the folder. */
export const WINDOWS_CRITICAL_IMAGES: readonly string[] = ['System', 'smss.exe', 'csrss.exe', 'wininit.exe', 'services.exe', 'lsass.exe'];

/** Users that `low_privilege_only` treats as privileged (compared case-insensitively). */
export const PRIVILEGED_USERS: readonly string[] = ['root', 'SYSTEM', 'NT AUTHORITY\\SYSTEM', 'NT-AUTORITÄT\\SYSTEM', 'AUTORITE NT\\Système'];

const DELETED = ' (deleted)';

/** A path is treated as Windows' (case-insensitive, backslashes) when it looks like one or has no folder at all. */
function isWindowsForm(p: string): boolean {
  return p.includes('\\') || /^[a-z]:/i.test(p) || !p.includes('/');
}

export interface NormalizedImage {
  readonly path: string;
  readonly base: string;
  readonly windows: boolean;
}

/** Normalize an image path for comparison. */
export function normalizeImage(image: string): NormalizedImage {
  let p = image.trim();
  while (p.endsWith(DELETED)) p = p.slice(0, -DELETED.length);
  const windows = isWindowsForm(p);
  if (windows) {
    p = p.replace(/\//g, '\\');
    for (const prefix of ['\\\\?\\', '\\??\\', '\\\\.\\']) if (p.startsWith(prefix)) p = p.slice(prefix.length);
    p = p.replace(/\\{2,}/g, '\\').toLowerCase();
    const base = p.slice(p.lastIndexOf('\\') + 1);
    return { path: p, base, windows };
  }
  p = posix.normalize(p);
  return { path: p, base: posix.basename(p), windows };
}

/**
 * Whether `image` is named by a protected entry: an entry without a folder names a file
 * name anywhere; an entry with one names that path (or, starting with a separator, any
 * path ending in it). Case-insensitive when either side is a Windows path.
 */
export function imageMatches(image: string, entry: string): boolean {
  const img = normalizeImage(image);
  const ent = normalizeImage(entry);
  const fold = img.windows || ent.windows;
  const a = fold ? img.path.toLowerCase().replace(/\//g, '\\') : img.path;
  const b = fold ? ent.path.toLowerCase().replace(/\//g, '\\') : ent.path;
  const sep = fold ? '\\' : '/';
  if (!b.includes(sep) && !b.includes('/')) return (fold ? img.base.toLowerCase() : img.base) === b;
  if (a === b) return true;
  return b.startsWith(sep) && a.endsWith(b);
}

/** Configured entries with symbolic links resolved (both forms are kept), so a link and its target match alike. */
export function resolveProtectedImages(entries: readonly string[]): string[] {
  const out = new Set<string>();
  for (const e of entries) {
    out.add(e);
    if (e.startsWith('/') && existsSync(e)) out.add(realpathSync(e));
  }
  return [...out];
}

/** What /proc says about a live process, read at decision time. */
export interface LiveProcess {
  readonly ppid: number;
  /** PF_KTHREAD, or no executable at all (a kernel thread has none). */
  readonly kernelThread: boolean;
  /** Target of /proc/<pid>/exe; undefined when it cannot be read (another user's process). */
  readonly exe?: string;
  /** The real uid, or 0 when any of the real, effective, saved or filesystem uids is root. */
  readonly uid?: number;
}

const PF_KTHREAD = 0x00200000;

function code(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** /proc/<pid>/stat → ppid and flags; undefined when the process does not exist. */
function readStat(procRoot: string, pid: number): { ppid: number; flags: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`${procRoot}/${pid}/stat`, 'utf8');
  } catch (err) {
    if (code(err) === 'ENOENT' || code(err) === 'ESRCH') return undefined;
    throw err;
  }
  const rest = text.slice(text.lastIndexOf(')') + 1).trim().split(' ');
  const ppid = Number(rest[1]);
  const flags = Number(rest[6]);
  if (!Number.isSafeInteger(ppid) || !Number.isSafeInteger(flags)) return undefined;
  return { ppid, flags };
}

/** Facts about a live Linux process from procfs; undefined when it is gone. */
export function readLiveProcess(pid: number, procRoot = '/proc'): LiveProcess | undefined {
  const stat = readStat(procRoot, pid);
  if (!stat) return undefined;
  let exe: string | undefined;
  let noExe = false;
  try {
    exe = readlinkSync(`${procRoot}/${pid}/exe`);
  } catch (err) {
    // ENOENT: no executable (a kernel thread); EACCES: another user's process, unknown.
    if (code(err) === 'ENOENT') noExe = true;
    else if (code(err) !== 'EACCES' && code(err) !== 'EPERM') throw err;
  }
  let uid: number | undefined;
  try {
    // Real, effective, saved and filesystem uids: a setuid-root program has a non-zero real
    // uid and is still root, so root in any of them counts as root.
    const m = /^Uid:\s+(\d+)(?:\s+(\d+))?(?:\s+(\d+))?(?:\s+(\d+))?/m.exec(readFileSync(`${procRoot}/${pid}/status`, 'utf8'));
    if (m?.[1]) {
      const ids = m.slice(1).filter((v): v is string => v !== undefined).map(Number);
      uid = ids.includes(0) ? 0 : ids[0];
    }
  } catch (err) {
    if (code(err) !== 'ENOENT' && code(err) !== 'ESRCH') throw err;
  }
  return {
    ppid: stat.ppid,
    kernelThread: (stat.flags & PF_KTHREAD) !== 0 || noExe,
    ...(exe !== undefined ? { exe } : {}),
    ...(uid !== undefined ? { uid } : {}),
  };
}

/** The agent and every ancestor up to pid 1: walked from /proc/self on Linux, the parent elsewhere. */
export function agentLineage(procRoot = '/proc', platform: NodeJS.Platform = process.platform): Set<number> {
  const out = new Set<number>([process.pid]);
  if (platform !== 'linux') {
    out.add(process.ppid);
    return out;
  }
  let pid = process.pid;
  for (let i = 0; i < 4096 && pid > 0; i++) {
    out.add(pid);
    const stat = readStat(procRoot, pid);
    if (!stat) break;
    pid = stat.ppid;
  }
  return out;
}

/** pid 0, pid 1 (init), pid 2 (kthreadd) and kthreadd's children. */
export function isSystemPid(pid: number, ppid: number | undefined): boolean {
  return pid <= 2 || ppid === 2;
}
