/**
 * Field paths: compiled once to getters, checked against the event groups of
 * core/events/event.ts. `raw.<Name>` reaches the source's own fields; `*` is every value in raw.
 */

export type Getter = (e: object) => unknown;

const PROCESS = [
  'pid', 'guid', 'start_time', 'image', 'name', 'cmdline', 'cwd', 'ppid', 'parent_guid', 'user', 'uid',
  'integrity', 'session_id', 'hashes', 'original_file_name', 'product', 'company', 'description', 'file_version',
];

/** Known groups and their fields (an unknown group is an error, an unknown field a lint warning). */
export const FIELD_GROUPS: Readonly<Record<string, readonly string[] | null>> = {
  proc: PROCESS,
  parent: PROCESS,
  target: PROCESS,
  thread: ['id', 'start_address', 'start_module', 'start_function'],
  access: ['granted', 'call_trace', 'source_thread_id'],
  file: ['path', 'name', 'hashes', 'creation_time', 'previous_creation_time', 'contents', 'is_executable', 'flags', 'mode'],
  image: ['path', 'hashes', 'signed', 'signature', 'signature_status', 'original_file_name', 'product', 'company', 'description', 'file_version'],
  reg: ['key', 'value', 'data', 'operation', 'new_name'],
  net: ['protocol', 'initiated', 'src_ip', 'src_port', 'src_host', 'dst_ip', 'dst_port', 'dst_host', 'ipv6'],
  dns: ['query', 'status', 'answers'],
  user: ['name', 'domain', 'sid', 'logon_id', 'target_name', 'target_domain', 'target_sid'],
  logon: ['type', 'process', 'auth_package', 'src_ip', 'src_port', 'workstation', 'status', 'sub_status', 'privileges'],
  service: ['name', 'path', 'type', 'start_type', 'account'],
  task: ['name', 'content'],
  script: ['text', 'path', 'block_id', 'payload', 'context'],
  pipe: ['name'],
  wmi: ['operation', 'name', 'namespace', 'query', 'consumer', 'filter', 'destination', 'type'],
  scan: ['scanner', 'verdict', 'findings', 'reason', 'engine', 'rules', 'regions', 'matches', 'counts', 'report_dir', 'path', 'duration_ms', 'cached', 'request_id'],
  host: ['name'],
  // Scalars of the envelope and payload.
  message: [],
  type: [],
  time: [],
  id: [],
  seq: [],
  source: [],
  received: [],
  // Free-form: any name.
  raw: null,
};

/** Groups whose third segment is a hash algorithm or another free key. */
const FREE_THIRD = new Set(['hashes']);

export class FieldPathError extends Error {
  override readonly name = 'FieldPathError';
}

/**
 * Throws FieldPathError for a path that is malformed whatever object it reads (empty, an empty
 * segment, a reserved name); the group is not checked: for paths into objects other than
 * events, such as a detection.
 */
export function checkPathSyntax(path: string): void {
  if (path.length === 0) throw new FieldPathError('empty field path');
  for (const s of path.split('.')) {
    if (s.length === 0) throw new FieldPathError(`field path "${path}" has an empty segment`);
    // A rule must never reach Object.prototype members through a plain property read.
    if (s in Object.prototype || s === '__proto__') {
      throw new FieldPathError(`field path "${path}" uses the reserved name "${s}"`);
    }
  }
}

/** Throws FieldPathError for a malformed event field path or an unknown group. */
export function checkFieldPath(path: string): void {
  if (path === '*') return;
  checkPathSyntax(path);
  const segs = path.split('.');
  const group = segs[0] ?? '';
  if (!(group in FIELD_GROUPS)) {
    throw new FieldPathError(
      `unknown field group "${group}" in "${path}" (expected one of ${Object.keys(FIELD_GROUPS).join(', ')}, raw.<Name> or *)`,
    );
  }
  if (group === 'raw' && segs.length < 2) throw new FieldPathError('"raw" needs a field name: raw.<Name>');
}

/** A warning text when the path names a field the event schema does not have, else undefined. */
export function unknownFieldWarning(path: string): string | undefined {
  if (path === '*') return undefined;
  const segs = path.split('.');
  const group = segs[0] ?? '';
  const fields = FIELD_GROUPS[group];
  if (fields === undefined || fields === null) return undefined;
  if (fields.length === 0) {
    return segs.length > 1 ? `"${group}" is a scalar field; "${path}" is never present` : undefined;
  }
  if (segs.length < 2) return `"${group}" is a group; name one of its fields (e.g. ${group}.${fields[0] ?? ''})`;
  const f = segs[1] ?? '';
  if (!fields.includes(f)) return `unknown field "${f}" in group "${group}" (known: ${fields.join(', ')})`;
  if (segs.length > 2 && !FREE_THIRD.has(f)) return `"${group}.${f}" has no sub-fields; "${path}" is never present`;
  return undefined;
}

type Rec = Record<string, unknown>;

function isObj(v: unknown): v is Rec {
  return typeof v === 'object' && v !== null;
}

function walk(root: unknown, segs: readonly string[], from: number): unknown {
  let cur: unknown = root;
  for (let i = from; i < segs.length; i++) {
    if (Array.isArray(cur)) {
      // An array in the middle of a path: collect the rest of the path from every element.
      const out: unknown[] = [];
      for (const el of cur) {
        const v = walk(el, segs, i);
        if (Array.isArray(v)) out.push(...(v as unknown[]));
        else if (v !== undefined && v !== null) out.push(v);
      }
      return out.length > 0 ? out : undefined;
    }
    if (!isObj(cur)) return undefined;
    cur = cur[segs[i] ?? ''];
  }
  return cur;
}

function collectScalars(v: unknown, out: unknown[], depth: number): void {
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out.push(v);
  else if (depth < 4 && Array.isArray(v)) for (const x of v) collectScalars(x, out, depth + 1);
  else if (depth < 4 && isObj(v)) for (const k of Object.keys(v)) collectScalars(v[k], out, depth + 1);
}

/** Every string/number/boolean value under `raw` (the `*` path of Sigma keyword searches). */
export function rawValues(e: object): unknown[] | undefined {
  const raw = (e as Rec)['raw'];
  if (!isObj(raw)) return undefined;
  const out: unknown[] = [];
  for (const k of Object.keys(raw)) collectScalars(raw[k], out, 1);
  return out.length > 0 ? out : undefined;
}

/** Compile a (checked) field path to a getter. Missing → undefined. */
export function compileGetter(path: string): Getter {
  if (path === '*') return rawValues;
  const segs = path.split('.');
  const a = segs[0] ?? '';
  if (a === 'raw') {
    // raw.<Name> is the source's own name, which may itself contain dots: try it whole first.
    const key = segs.slice(1).join('.');
    const nested = segs.slice(1);
    return (e) => {
      const raw = (e as Rec)['raw'];
      if (!isObj(raw)) return undefined;
      const v = raw[key];
      if (v !== undefined || nested.length === 1) return v;
      return walk(raw, nested, 0);
    };
  }
  if (segs.length === 1) return (e) => (e as Rec)[a];
  if (segs.length === 2) {
    const b = segs[1] ?? '';
    return (e) => {
      const g = (e as Rec)[a];
      if (isObj(g)) return Array.isArray(g) ? walk(g, segs, 1) : g[b];
      return undefined;
    };
  }
  return (e) => walk(e, segs, 0);
}
