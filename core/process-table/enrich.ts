import type { EventDraft, ProcessInfo } from '../events/event.js';
import type { ProcessRecord, ProcessTable } from './process-table.js';

const FILL: readonly (keyof ProcessInfo)[] = ['guid', 'start_time', 'image', 'name', 'cmdline', 'user', 'ppid', 'parent_guid'];

function fill(p: ProcessInfo | undefined, rec: ProcessRecord | undefined): ProcessInfo | undefined {
  if (!p || !rec) return p;
  let out: ProcessInfo | undefined;
  for (const k of FILL) {
    if (p[k] === undefined && rec[k] !== undefined) {
      out ??= Object.assign({}, p);
      (out as Record<string, unknown>)[k] = rec[k];
    }
  }
  return out ?? p;
}

function asParent(rec: ProcessRecord | undefined): ProcessInfo | undefined {
  if (!rec) return undefined;
  const p: ProcessInfo = { pid: rec.pid, guid: rec.guid };
  if (rec.image !== undefined) p.image = rec.image;
  if (rec.name !== undefined) p.name = rec.name;
  if (rec.cmdline !== undefined) p.cmdline = rec.cmdline;
  if (rec.user !== undefined) p.user = rec.user;
  if (rec.start_time !== undefined) p.start_time = rec.start_time;
  return p;
}

/**
 * Feed the process table from process events and fill missing process fields of any event
 * from it. Returns the draft unchanged when there was nothing to add, else a new draft
 * (the sensor's object is never modified).
 */
export function enrichDraft(table: ProcessTable, d: EventDraft): EventDraft {
  const proc = d.proc;
  if (!proc) return d;
  if (d.type === 'process.start') {
    const p: ProcessInfo = Object.assign({}, proc);
    if (p.ppid === undefined && d.parent?.pid !== undefined) p.ppid = d.parent.pid;
    if (p.parent_guid === undefined && d.parent?.guid !== undefined) p.parent_guid = d.parent.guid;
    const rec = table.started(p, d.time);
    if (!rec) return d;
    const parentRec = table.parentOf(rec);
    const parent = d.parent ? fill(d.parent, parentRec) : asParent(parentRec);
    const out: EventDraft = Object.assign({}, d);
    out.proc = fill(proc, rec) ?? proc;
    if (parent) out.parent = parent;
    return out;
  }
  const rec = table.resolve(proc);
  if (d.type === 'process.stop') {
    let out = d;
    if (rec) {
      out = Object.assign({}, d);
      out.proc = fill(proc, rec) ?? proc;
    }
    table.stopped(proc, d.time);
    return out;
  }
  const newProc = fill(proc, rec);
  const target = d.target ? fill(d.target, table.resolve(d.target)) : undefined;
  const parent = d.parent ? undefined : rec ? asParent(table.parentOf(rec)) : undefined;
  if (newProc === proc && target === d.target && parent === undefined) return d;
  const out: EventDraft = Object.assign({}, d);
  out.proc = newProc ?? proc;
  if (target) out.target = target;
  if (parent) out.parent = parent;
  return out;
}
