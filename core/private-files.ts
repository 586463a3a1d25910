/**
 * The agent's data (alerts, evidence, status, plugin state) is for the agent's user only:
 * folders 0700, files 0600, whatever the umask of the process that embeds the agent.
 * Every file and folder the core, the CLI and the built-in plugins write goes through
 * this module, so that a new writer cannot forget the modes.
 */
import { chmodSync, closeSync, fchmodSync, fstatSync, mkdirSync, openSync, statSync, type Stats } from 'node:fs';
import { open as openAsync, type FileHandle } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { VigilError } from './errors/index.js';
import type { PrivateFiles } from './plugin/types.js';
import type { Logger } from './telemetry/logger.js';

/** Mode of every folder the agent keeps data in. */
export const PRIVATE_DIR_MODE = 0o700;
/** Mode of every file the agent writes data to. */
export const PRIVATE_FILE_MODE = 0o600;
/** The umask the agent runs with: nothing for group and others. */
export const PRIVATE_UMASK = 0o077;

/** Where the helpers report a path they had to tighten. */
export type PrivateFileLog = Pick<Logger, 'warn'>;

/** Flags of the opening helpers: append, or write from the start (truncating). */
export type PrivateOpenFlags = 'a' | 'w';

const win32 = process.platform === 'win32';
/** Paths already reported, so that a path re-tightened on every rotation warns once. */
const reported = new Set<string>();
let umaskLogged = false;

function octal(mode: number): string {
  return '0' + mode.toString(8).padStart(3, '0');
}

/**
 * Set the process umask so that nothing the process creates from now on (a plugin's own
 * files, SQLite's side files, a library's temp files) is readable by other users. Bits the
 * caller already masks stay masked. Process-wide, so it also applies to the program that
 * embeds the kernel; logged once per process.
 */
export function applyPrivateUmask(logger: Pick<Logger, 'info'>): void {
  if (win32) return;
  if (!isMainThread) {
    // Node refuses process.umask(mask) in worker threads; the helpers below still set modes.
    if (!umaskLogged) logger.info({ thread: 'worker' }, 'umask left as it is (worker thread); data files get their modes explicitly');
    umaskLogged = true;
    return;
  }
  const previous = process.umask(PRIVATE_UMASK);
  const mask = previous | PRIVATE_UMASK;
  if (mask !== PRIVATE_UMASK) process.umask(mask);
  if (!umaskLogged) logger.info({ umask: octal(mask), previous: octal(previous) }, 'umask set: files the agent creates are private to its user');
  umaskLogged = true;
}

/**
 * A folder of the agent's own (the data dir, a plugin's data dir): created 0700 with any
 * missing parents 0700; an existing folder open to group or others is tightened to 0700
 * (logged once). Returns the path.
 */
export function ensurePrivateDir(path: string, logger: PrivateFileLog): string {
  const created = createMissingDirs(path);
  if (!win32 && !created) {
    const st = statSync(path);
    tighten(path, st, (mode) => chmodSync(path, mode), logger);
  }
  return path;
}

/**
 * Open a data file, creating it 0600. An existing regular file open to group or others
 * is tightened to 0600 (logged once); devices and FIFOs (`/dev/stdout`, a pipe to a
 * collector) are written as they are. A missing parent folder is created 0700; an existing
 * one is left as it is (it may be shared, like /var/log). Returns the descriptor.
 */
export function openPrivateFileSync(path: string, flags: PrivateOpenFlags, logger: PrivateFileLog): number {
  ensurePrivateParent(path);
  if (win32) return openSync(path, flags, PRIVATE_FILE_MODE);
  let created = true;
  let fd: number;
  try {
    fd = openSync(path, flags + 'x', PRIVATE_FILE_MODE);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    created = false;
    fd = openSync(path, flags, PRIVATE_FILE_MODE);
  }
  try {
    // A new file is made exactly 0600 even under a stricter umask, so the agent can reopen it.
    if (created) fchmodSync(fd, PRIVATE_FILE_MODE);
    else tighten(path, fstatSync(fd), (mode) => fchmodSync(fd, mode), logger);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  return fd;
}

/** {@link openPrivateFileSync}, returning a FileHandle. */
export async function openPrivateFile(path: string, flags: PrivateOpenFlags, logger: PrivateFileLog): Promise<FileHandle> {
  ensurePrivateParent(path);
  if (win32) return openAsync(path, flags, PRIVATE_FILE_MODE);
  let created = true;
  let handle: FileHandle;
  try {
    handle = await openAsync(path, flags + 'x', PRIVATE_FILE_MODE);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    created = false;
    handle = await openAsync(path, flags, PRIVATE_FILE_MODE);
  }
  try {
    if (created) await handle.chmod(PRIVATE_FILE_MODE);
    else tighten(path, await handle.stat(), (mode) => fchmodSync(handle.fd, mode), logger);
  } catch (err) {
    await handle.close();
    throw err;
  }
  return handle;
}

/**
 * Creates the folders missing above a data file (or socket), each 0700; the folders that
 * exist are left as they are. Returns false when the file's folder already existed.
 */
export function ensurePrivateParent(file: string): boolean {
  return createMissingDirs(dirname(resolve(file)));
}

/** Create the file 0600 if it is missing, or tighten it (see {@link openPrivateFileSync}). */
export function ensurePrivateFile(path: string, logger: PrivateFileLog): string {
  closeSync(openPrivateFileSync(path, 'a', logger));
  return path;
}

/**
 * A data file or folder that something else created (SQLite's -wal and -shm, a rotated
 * output, a file left by an older version): tightened to 0600 / 0700 when it is open to
 * group or others (logged once). Returns false when there is nothing at the path.
 */
export function tightenPrivate(path: string, logger: PrivateFileLog): boolean {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) return false;
  if (!win32) tighten(path, st, (mode) => chmodSync(path, mode), logger);
  return true;
}

/** Creates what is missing of `path`, each new folder exactly 0700; false when it existed. */
function createMissingDirs(path: string): boolean {
  const abs = resolve(path);
  const first = mkdirSync(abs, { recursive: true, mode: PRIVATE_DIR_MODE });
  if (first === undefined) return false;
  if (win32) return true;
  // mkdir applied the umask; a stricter one would leave folders the agent cannot enter.
  for (let dir = abs; ; dir = dirname(dir)) {
    chmodSync(dir, PRIVATE_DIR_MODE);
    if (dir === first || dirname(dir) === dir) break;
  }
  return true;
}

function tighten(path: string, st: Stats, chmod: (mode: number) => void, logger: PrivateFileLog): void {
  // Only what the agent keeps data in: a device, FIFO or socket belongs to whoever set it up.
  if (!st.isFile() && !st.isDirectory()) return;
  const abs = resolve(path);
  const euid = process.geteuid?.();
  if (euid !== undefined && st.uid !== euid && !reported.has(`owner:${abs}`)) {
    reported.add(`owner:${abs}`);
    logger.warn(
      { path: abs, owner_uid: st.uid, agent_uid: euid },
      'data path is owned by another user, who can read it whatever its mode; chown it to the agent user or choose another path',
    );
  }
  const mode = st.mode & 0o7777;
  if ((mode & 0o077) === 0) return;
  const next = mode & PRIVATE_DIR_MODE;
  try {
    chmod(next);
  } catch (cause) {
    throw new VigilError(
      'VIGIL_ERR_DATA_NOT_PRIVATE',
      `${abs} is mode ${octal(mode)} and could not be made ${octal(next)}, so other users could read it; chown or chmod it, or choose another path`,
      { cause, details: { path: abs, mode: octal(mode) } },
    );
  }
  if (!reported.has(abs)) {
    reported.add(abs);
    logger.warn({ path: abs, from: octal(mode), to: octal(next) }, 'data path was open to other users; permissions tightened');
  }
}

/** The {@link PrivateFiles} of a plugin context: these helpers, reporting to the plugin's logger. */
export function privateFiles(logger: PrivateFileLog): PrivateFiles {
  return {
    dir: (path) => ensurePrivateDir(path, logger),
    file: (path) => ensurePrivateFile(path, logger),
    open: (path, flags) => openPrivateFile(path, flags, logger),
    tighten: (path) => tightenPrivate(path, logger),
  };
}
