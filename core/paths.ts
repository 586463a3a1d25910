import { existsSync, statSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

let cachedRoot: string | undefined;

/** The package root (the folder holding Vigil's package.json), from source or dist. */
export function projectRoot(): string {
  if (cachedRoot) return cachedRoot;
  const fromEnv = process.env['VIGIL_PROJECT_ROOT'];
  if (fromEnv) return (cachedRoot = resolve(fromEnv));
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'core'))) return (cachedRoot = dir);
    const up = dirname(dir);
    if (up === dir) throw new Error('Vigil package root not found above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

/** The shared datasets folder for tests and benchmarks (`../shared/datasets` beside the root). */
export function datasetsDir(): string {
  return process.env['VIGIL_DATASETS'] ? resolve(process.env['VIGIL_DATASETS']) : resolve(projectRoot(), '..', 'shared', 'datasets');
}

/** The embedded default config. */
export function defaultConfigPath(): string {
  return join(projectRoot(), 'config', 'default.yaml');
}

/**
 * The files named by `paths`: a file as given, a folder walked recursively (entries in name
 * order) for names ending in `ext` (case-insensitive). A path that cannot be read is passed to
 * `unreadable` (as given and resolved) and skipped; the rest are still listed. A file named
 * twice is listed once.
 */
export async function listFiles(paths: readonly string[], ext: string, unreadable: (given: string, resolved: string, err: Error) => void): Promise<string[]> {
  const out: string[] = [];
  const suffix = ext.toLowerCase();
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const ent of entries) {
      const p = join(dir, ent.name);
      if (ent.isDirectory()) await walk(p);
      else if (ent.isFile() && ent.name.toLowerCase().endsWith(suffix)) out.push(p);
    }
  };
  for (const given of paths) {
    const p = resolve(given);
    try {
      if ((await stat(p)).isDirectory()) await walk(p);
      else out.push(p);
    } catch (err) {
      unreadable(given, p, err instanceof Error ? err : new Error(String(err)));
    }
  }
  return [...new Set(out)];
}

/**
 * The file of a rule folder that holds the named lists and macros its rules share (a pack
 * with "lists", "macros" and no rules; rules/lists.json for the shipped pack).
 */
export const SHARED_RULE_DEFINITIONS = 'lists.json';

/**
 * Files called `name` above `paths`: in a given file's own folder, and in every folder above
 * a given file or folder, nearest first, each once. Rule loaders add the shared definitions
 * found this way, so that one rule file or one folder of a pack loads with the lists and
 * macros its pack shares, as it does with the whole pack given.
 */
export function filesNamedAbove(paths: readonly string[], name: string): string[] {
  const out = new Set<string>();
  for (const given of paths) {
    for (let dir = dirname(resolve(given)); ; dir = dirname(dir)) {
      const f = join(dir, name);
      if (statSync(f, { throwIfNoEntry: false })?.isFile() === true) out.add(f);
      if (dirname(dir) === dir) break;
    }
  }
  return [...out];
}
