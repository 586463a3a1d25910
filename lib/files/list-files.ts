/**
 * The one way Vigil expands configured paths into files: rule packs, Sigma folders, replay
 * sources, test corpora and benchmarks all list their inputs here, so they agree on order,
 * links and what an unreadable path does.
 */
import type { Stats } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';

/** Which files found inside a folder are listed: a name ending, several, or a test of the name. */
export type FileFilter = string | readonly string[] | ((name: string) => boolean);

/** Called for a path that cannot be read: as given in `paths`, the path that failed, the error. */
export type UnreadablePath = (given: string, path: string, err: NodeJS.ErrnoException) => void;

export interface ListFilesOptions {
  /** A file found inside a folder that the filter leaves out (a given file is never left out). */
  excluded?: (path: string) => void;
  /** Checked before each given path and each folder entry; an abort ends the listing. */
  signal?: AbortSignal;
}

function matcher(filter: FileFilter): (name: string) => boolean {
  if (typeof filter === 'function') return filter;
  const endings = (typeof filter === 'string' ? [filter] : filter).map((e) => e.toLowerCase());
  return (name) => {
    const lower = name.toLowerCase();
    return endings.some((e) => lower.endsWith(e));
  };
}

function asErrno(err: unknown): NodeJS.ErrnoException {
  return err instanceof Error ? err : new Error(String(err));
}

/**
 * The files named by `paths`, resolved: a file as given (whatever its name), a folder walked
 * recursively in name order for the files `filter` accepts (a name ending is compared
 * case-insensitively). Links are followed, and a folder reached twice (a link back up the
 * tree) is walked once. A path that cannot be read is passed to `unreadable` and skipped; the
 * rest are still listed. Without `unreadable`, the first such path rejects the listing with its
 * error. A file named twice is listed once, where it came first.
 */
export async function listFiles(
  paths: readonly string[],
  filter: FileFilter,
  unreadable: UnreadablePath = (_given, _path, err) => {
    throw err;
  },
  options: ListFilesOptions = {},
): Promise<string[]> {
  const { excluded, signal } = options;
  const accept = matcher(filter);
  const out = new Set<string>();
  const walked = new Set<string>();

  const statOf = async (given: string, path: string): Promise<Stats | undefined> => {
    try {
      return await stat(path);
    } catch (err) {
      unreadable(given, path, asErrno(err));
      return undefined;
    }
  };

  const walk = async (given: string, dir: string): Promise<void> => {
    let names: string[];
    try {
      const real = await realpath(dir);
      if (walked.has(real)) return;
      walked.add(real);
      names = (await readdir(dir)).sort();
    } catch (err) {
      unreadable(given, dir, asErrno(err));
      return;
    }
    for (const name of names) {
      signal?.throwIfAborted();
      const path = join(dir, name);
      // A dangling link or an entry removed meanwhile is reported; the folder goes on.
      const info = await statOf(given, path);
      if (info === undefined) continue;
      if (info.isDirectory()) await walk(given, path);
      else if (!info.isFile()) continue;
      else if (accept(name)) out.add(path);
      else excluded?.(path);
    }
  };

  for (const given of paths) {
    signal?.throwIfAborted();
    const path = resolve(given);
    const info = await statOf(given, path);
    if (info === undefined) continue;
    if (info.isDirectory()) await walk(given, path);
    else out.add(path);
  }
  return [...out];
}
