/** Where a rule pack keeps what its rules share, and how a loader finds it from any part of the pack. */
import { statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

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
