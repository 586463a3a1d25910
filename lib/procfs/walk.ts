/**
 * One walk of the running processes: pid, parent, start ticks, comm, image, command line,
 * cwd and uids, read once. Used to seed a process table at start; a process that exits during
 * the walk is left out, a file that cannot be read leaves its field unset.
 */
import { readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { parseCmdline, parseStat, parseStatusUids, PF_KTHREAD, type ProcStat } from './parse.js';

export interface ProcSnapshotEntry {
  readonly stat: ProcStat;
  readonly kthread: boolean;
  readonly image: string | undefined;
  readonly cmdline: string | undefined;
  readonly cwd: string | undefined;
  readonly uid: number | undefined;
  readonly euid: number | undefined;
}

async function optional<T>(op: () => Promise<T>): Promise<T | undefined> {
  try {
    return await op();
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    // Gone (exited during the walk) or not ours to read: the field stays unset.
    if (code === 'ENOENT' || code === 'ESRCH' || code === 'EACCES' || code === 'EPERM') return undefined;
    throw err;
  }
}

/** Every process under root (default /proc), oldest start first. */
export async function walkProcesses(root = '/proc'): Promise<ProcSnapshotEntry[]> {
  const names = await readdir(root);
  const out: ProcSnapshotEntry[] = [];
  for (const n of names) {
    if (!/^\d+$/.test(n)) continue;
    const dir = join(root, n);
    const statText = await optional(() => readFile(join(dir, 'stat'), 'utf8'));
    if (statText === undefined) continue;
    const stat = parseStat(statText, join(dir, 'stat'));
    const kthread = (stat.flags & PF_KTHREAD) !== 0;
    const [image, cmd, cwd, status] = await Promise.all([
      kthread ? undefined : optional(() => readlink(join(dir, 'exe'))),
      kthread ? undefined : optional(() => readFile(join(dir, 'cmdline'))),
      kthread ? undefined : optional(() => readlink(join(dir, 'cwd'))),
      optional(() => readFile(join(dir, 'status'), 'utf8')),
    ]);
    const uids = status === undefined ? undefined : parseStatusUids(status);
    out.push({
      stat,
      kthread,
      image,
      cmdline: cmd === undefined ? undefined : parseCmdline(cmd),
      cwd,
      uid: uids?.ruid,
      euid: uids?.euid,
    });
  }
  out.sort((a, b) => a.stat.startTicks - b.stat.startTicks || a.stat.pid - b.stat.pid);
  return out;
}
