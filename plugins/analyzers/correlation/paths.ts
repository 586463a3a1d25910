/**
 * Field paths for the correlation layer: process identity for `<group>.guid` and join keys
 * built from several paths. The getters are the rule engine's (lib/rules), so a path reads the
 * same value in both engines (`raw.<Name>` tried whole first, arrays walked mid-path).
 */
import { checkFieldPath, checkPathSyntax, compileGetter, type Getter } from '../../../lib/rules/index.js';

export type { Getter };

type Rec = Record<string, unknown>;

const PROCESS_GROUPS = new Set(['proc', 'parent', 'target']);

function isObj(v: unknown): v is Rec {
  return typeof v === 'object' && v !== null;
}

/** A getter for an event field path; throws lib/rules' FieldPathError for a bad path or group. */
export function eventGetter(path: string): Getter {
  checkFieldPath(path);
  return compileGetter(path);
}

/** A getter for a path into a detection (`detection.<path>` keys: rule.id …); throws FieldPathError. */
export function detectionGetter(path: string): Getter {
  checkPathSyntax(path);
  return compileGetter(path);
}

/** Identity of a process group: its guid, else `pid@start_time`; undefined when neither. */
export function processIdentity(p: unknown): string | undefined {
  if (!isObj(p)) return undefined;
  const g = p['guid'];
  if (typeof g === 'string' && g.length > 0) return g.toLowerCase();
  const pid = p['pid'];
  const st = p['start_time'];
  // A bare pid is refused on purpose: pids are reused, so joining on one could tie an
  // unrelated later process to an earlier one's partial match.
  if (typeof pid === 'number' && typeof st === 'number') return `${pid}@${st}`;
  return undefined;
}

/** True for `proc.guid`, `target.guid`, `parent.guid`: joined by process identity. */
export function isIdentityPath(path: string): boolean {
  const segs = path.split('.');
  return segs.length === 2 && segs[1] === 'guid' && PROCESS_GROUPS.has(segs[0] ?? '');
}

/** The value of one key component as a string, or undefined when absent / not a scalar. */
export function keyPart(v: unknown): string | undefined {
  if (typeof v === 'string') return v.length > 0 ? v.toLowerCase() : undefined;
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : undefined;
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return undefined;
}

/** A getter returning a key component for an event path (identity-aware for `<group>.guid`). */
export function compileKeyGetter(path: string): (e: object) => string | undefined {
  const get = eventGetter(path);
  if (isIdentityPath(path)) {
    const group = path.split('.')[0] ?? '';
    return (e) => processIdentity((e as Rec)[group]);
  }
  return (e) => keyPart(get(e));
}

/** Separator that cannot occur in a normal field value. */
export const KEY_SEP = '\u001f';
