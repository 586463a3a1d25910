/**
 * Who may have written a file the agent trusts (its config, rule packs and their shared lists,
 * Sigma rules). The rule is sshd's StrictModes and sudo's: the file and every folder above it,
 * up to `/`, are owned by root or by the agent's own user, and none of them is writable by
 * group or others. One exception, for folders above the file only: a folder owned by root with
 * the sticky bit (/tmp) is accepted, because in it only root and an entry's owner can rename
 * or remove that entry, and the file itself is checked for its owner. Links are resolved first:
 * what is checked is where the content really is.
 *
 * The core checks its config file with it; libraries and plugins reach the same functions
 * through the SDK, so there is one rule. Setting VIGIL_STRICT_FILE_MODES=0 in the environment
 * turns the checks off (labs, shared test machines); on Windows, where file modes do not
 * apply, nothing is checked.
 */
import { realpathSync, statSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';

/** The environment variable that turns the checks off when set to `0`, `false` or `off`. */
export const STRICT_FILE_MODES_ENV = 'VIGIL_STRICT_FILE_MODES';

const OPEN_TO_OTHERS = 0o022;
const STICKY = 0o1000;

/** True unless the environment turns the checks off, or the platform has no file modes. */
export function strictFileModes(): boolean {
  if (process.platform === 'win32') return false;
  const v = (process.env[STRICT_FILE_MODES_ENV] ?? '').trim().toLowerCase();
  return !(v === '0' || v === 'false' || v === 'off' || v === 'no');
}

function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}

/** The agent's user: the effective uid (what the kernel checks access against). */
function agentUid(): number {
  return process.geteuid?.() ?? process.getuid?.() ?? 0;
}

function ownerProblem(what: string, path: string, st: Stats, uid: number): string | undefined {
  if (st.uid === 0 || st.uid === uid) return undefined;
  return `${what} ${path} is owned by uid ${st.uid}, not by root or the agent's user (uid ${uid})`;
}

function writersProblem(what: string, path: string, st: Stats): string | undefined {
  if ((st.mode & OPEN_TO_OTHERS) === 0) return undefined;
  const who = (st.mode & 0o020) !== 0 && (st.mode & 0o002) !== 0 ? 'group and others' : (st.mode & 0o020) !== 0 ? 'group' : 'others';
  return `${what} ${path} is writable by ${who} (mode ${octal(st.mode)})`;
}

/** The folders above `real`, nearest first, up to `/`, each judged as a parent. */
function parentsProblem(real: string, uid: number): string | undefined {
  for (let dir = dirname(real); ; dir = dirname(dir)) {
    const st = statSync(dir);
    const problem = ownerProblem('folder', dir, st, uid) ?? (st.uid === 0 && (st.mode & STICKY) !== 0 ? undefined : writersProblem('folder', dir, st));
    if (problem !== undefined) return problem;
    if (dirname(dir) === dir) return undefined;
  }
}

function check(path: string, what: 'file' | 'folder'): string | undefined {
  if (!strictFileModes()) return undefined;
  const uid = agentUid();
  try {
    const real = realpathSync(path);
    const st = statSync(real);
    const shown = real === path ? path : `${path} (${real})`;
    return ownerProblem(what, shown, st, uid) ?? writersProblem(what, shown, st) ?? parentsProblem(real, uid);
  } catch (err) {
    // What cannot be checked is not trusted; the reason says why (a missing file, a folder without search permission).
    return `cannot check who may write ${path}: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/**
 * Why the agent must not trust the content of the file at `path`, or undefined when it may:
 * the file (links resolved) is owned by another user than root and the agent's user, or is
 * writable by group or others, or a folder above it is (a root-owned sticky folder such as
 * /tmp excepted). A path that cannot be checked (missing, unreadable) is a problem too.
 */
export function fileTrustProblem(path: string): string | undefined {
  return check(path, 'file');
}

/**
 * Why the agent must not trust a folder as a place to find content in, or undefined when it
 * may: as fileTrustProblem, and the folder itself may not be writable by others even with the
 * sticky bit (in /tmp anyone can create a new file). Used to decide how far up a rule pack
 * reaches.
 */
export function folderTrustProblem(path: string): string | undefined {
  return check(path, 'folder');
}
