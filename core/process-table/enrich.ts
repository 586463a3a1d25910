import type { EventDraft, ProcessInfo } from '../events/event.js';
import type { ProcessRecord, ProcessTable } from './process-table.js';
import { adds, processShape } from './shape.js';

function fill(p: ProcessInfo | undefined, rec: ProcessRecord | undefined): ProcessInfo | undefined {
  if (!p || !rec || !adds(p, rec)) return p;
  return processShape(p, rec);
}

function asParent(rec: ProcessRecord | undefined): ProcessInfo | undefined {
  if (!rec) return undefined;
  return processShape({ pid: rec.pid, guid: rec.guid }, { image: rec.image, name: rec.name, cmdline: rec.cmdline, user: rec.user, start_time: rec.start_time } as ProcessInfo);
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
    const rec = table.started(proc, d.time, d.parent);
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
