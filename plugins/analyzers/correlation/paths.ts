/**
 * Field paths for the correlation layer: getters into an event, process identity for
 * `<group>.guid`, and join keys built from several paths.
 */
export type Getter = (e: object) => unknown;

type Rec = Record<string, unknown>;

const RESERVED = new Set(['__proto__', 'constructor', 'prototype']);
const PROCESS_GROUPS = new Set(['proc', 'parent', 'target']);

function isObj(v: unknown): v is Rec {
  return typeof v === 'object' && v !== null;
}

export class PathError extends Error {
  override readonly name = 'PathError';
}

/** Throws PathError for a path that cannot be a field path. */
export function checkPath(path: string): void {
  if (path.length === 0) throw new PathError('empty field path');
  for (const s of path.split('.')) {
    if (s.length === 0) throw new PathError(`field path "${path}" has an empty segment`);
    if (RESERVED.has(s) || s in Object.prototype) throw new PathError(`field path "${path}" uses the reserved name "${s}"`);
  }
}

function walk(root: unknown, segs: readonly string[], from: number): unknown {
  let cur: unknown = root;
  for (let i = from; i < segs.length; i++) {
    if (!isObj(cur) || Array.isArray(cur)) return undefined;
    cur = cur[segs[i] ?? ''];
  }
  return cur;
}

/**
 * A getter for a dotted path. `raw.<Name>` is tried whole first because source field names
 * may contain dots themselves.
 */
export function compileGetter(path: string): Getter {
  checkPath(path);
  const segs = path.split('.');
  const a = segs[0] ?? '';
  if (a === 'raw' && segs.length > 1) {
    const whole = segs.slice(1).join('.');
    const nested = segs.slice(1);
    return (e) => {
      const raw = (e as Rec)['raw'];
      if (!isObj(raw)) return undefined;
      const v = raw[whole];
      return v !== undefined || nested.length === 1 ? v : walk(raw, nested, 0);
    };
  }
  if (segs.length === 1) return (e) => (e as Rec)[a];
  if (segs.length === 2) {
    const b = segs[1] ?? '';
    return (e) => {
      const g = (e as Rec)[a];
      return isObj(g) ? g[b] : undefined;
    };
  }
  return (e) => walk(e, segs, 0);
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

/** A getter returning a key component for a path (identity-aware for `<group>.guid`). */
export function compileKeyGetter(path: string): (e: object) => string | undefined {
  checkPath(path);
  if (isIdentityPath(path)) {
    const group = path.split('.')[0] ?? '';
    return (e) => processIdentity((e as Rec)[group]);
  }
  const get = compileGetter(path);
  return (e) => keyPart(get(e));
}

/** Separator that cannot occur in a normal field value. */
export const KEY_SEP = '\u001f';

/** A key function over several paths; undefined when any component is missing. */
export function compileKeyFn(paths: readonly string[]): (e: object) => string | undefined {
  const parts = paths.map(compileKeyGetter);
  if (parts.length === 0) return () => '';
  if (parts.length === 1) return parts[0] as (e: object) => string | undefined;
  return (e) => {
    let out = '';
    for (let i = 0; i < parts.length; i++) {
      const v = (parts[i] as (e: object) => string | undefined)(e);
      if (v === undefined) return undefined;
      out = i === 0 ? v : out + KEY_SEP + v;
    }
    return out;
  };
}
