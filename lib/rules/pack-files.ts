/** Where a rule pack keeps what its rules share, and how a loader finds it from any part of the pack. */
import { statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { folderTrustProblem } from '../files/index.js';

/**
 * The file of a rule folder that holds the named lists and macros its rules share (a pack
 * with "lists", "macros" and no rules; rules/lists.json for the shipped pack). It also marks
 * the root of its pack: the folder that holds it.
 */
export const SHARED_RULE_DEFINITIONS = 'lists.json';

function isFile(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isFile() === true;
}

function isDir(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isDirectory() === true;
}

/**
 * The root of the rule pack that `given` (a rule file or a folder) belongs to, and its shared
 * definitions: the nearest folder, from the given folder (for a file: its folder) upward, that
 * holds a `lists.json`. The walk goes up only through folders the agent trusts as places to
 * find content in (owned by root or the agent's user, not writable by group or others, sticky
 * or not: lib/files folderTrustProblem): at the first other folder it stops, and the path has
 * no pack root. Undefined when there is none: the given path is read on its own.
 */
export function packRootOf(given: string): { root: string; shared: string } | undefined {
  const path = resolve(given);
  for (let dir = isDir(path) ? path : dirname(path); ; dir = dirname(dir)) {
    if (folderTrustProblem(dir) !== undefined) return undefined;
    const shared = join(dir, SHARED_RULE_DEFINITIONS);
    if (isFile(shared)) return { root: dir, shared };
    if (dirname(dir) === dir) return undefined;
  }
}

/**
 * The shared definitions the given rule files and folders load with: the `lists.json` of each
 * one's pack root (packRootOf), each once, in the order of the paths. A `lists.json` inside a
 * given folder is among the folder's files and is returned here too when that folder is its
 * root; callers leave out what they list anyway. Nothing above a pack root is read, so one rule
 * file or one folder of a pack loads with the lists and macros its pack shares, as it does with
 * the whole pack given, and no `lists.json` elsewhere takes part.
 */
export function sharedDefinitionsOf(paths: readonly string[]): string[] {
  const out = new Set<string>();
  for (const given of paths) {
    const pack = packRootOf(given);
    if (pack !== undefined) out.add(pack.shared);
  }
  return [...out];
}
