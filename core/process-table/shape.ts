import type { ProcessInfo } from '../events/event.js';

/**
 * A process object with every field present in one fixed order (absent ones undefined), so
 * that all of them share one hidden class: building one is a single allocation and reading
 * fields from it stays monomorphic on the hot path. `fallback` fills what `p` lacks.
 */
export function processShape(p: ProcessInfo, fallback?: ProcessInfo): ProcessInfo {
  const f = fallback ?? EMPTY;
  return {
    pid: p.pid ?? f.pid,
    guid: p.guid ?? f.guid,
    start_time: p.start_time ?? f.start_time,
    image: p.image ?? f.image,
    name: p.name ?? f.name,
    cmdline: p.cmdline ?? f.cmdline,
    cwd: p.cwd ?? f.cwd,
    ppid: p.ppid ?? f.ppid,
    parent_guid: p.parent_guid ?? f.parent_guid,
    user: p.user ?? f.user,
    uid: p.uid ?? f.uid,
    integrity: p.integrity ?? f.integrity,
    session_id: p.session_id ?? f.session_id,
    hashes: p.hashes ?? f.hashes,
    original_file_name: p.original_file_name ?? f.original_file_name,
    product: p.product ?? f.product,
    company: p.company ?? f.company,
    description: p.description ?? f.description,
    file_version: p.file_version ?? f.file_version,
  } as ProcessInfo;
}

const EMPTY: ProcessInfo = Object.freeze({});

/** True when `fallback` has a field that `p` lacks (so merging would add something). */
export function adds(p: ProcessInfo, fallback: ProcessInfo): boolean {
  return (
    (p.guid === undefined && fallback.guid !== undefined) ||
    (p.start_time === undefined && fallback.start_time !== undefined) ||
    (p.image === undefined && fallback.image !== undefined) ||
    (p.name === undefined && fallback.name !== undefined) ||
    (p.cmdline === undefined && fallback.cmdline !== undefined) ||
    (p.user === undefined && fallback.user !== undefined) ||
    (p.ppid === undefined && fallback.ppid !== undefined) ||
    (p.parent_guid === undefined && fallback.parent_guid !== undefined)
  );
}
