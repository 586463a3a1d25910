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

/** The process groups of an event after enrichment (a scratch object reused per call). */
export interface EnrichedProcesses {
  proc: ProcessInfo | undefined;
  parent: ProcessInfo | undefined;
  target: ProcessInfo | undefined;
}

/**
 * Feed the process table from process events and fill missing process fields of any event
 * from it, writing the resulting groups into `out` (the sensor's objects are never
 * modified; a group that gains fields is a new object). No allocation when nothing is added.
 */
export function enrichProcesses(table: ProcessTable, d: EventDraft, out: EnrichedProcesses): EnrichedProcesses {
  const proc = d.proc;
  out.proc = proc;
  out.parent = d.parent;
  out.target = d.target;
  if (proc === undefined) return out;
  if (d.type === 'process.start') {
    const rec = table.started(proc, d.time, d.parent);
    if (!rec) return out;
    const parentRec = table.parentOf(rec);
    out.proc = fill(proc, rec);
    out.parent = d.parent ? fill(d.parent, parentRec) : asParent(parentRec);
    return out;
  }
  const rec = table.resolve(proc);
  if (d.type === 'process.stop') {
    if (rec) out.proc = fill(proc, rec);
    table.stopped(proc, d.time);
    return out;
  }
  if (rec !== undefined) {
    out.proc = fill(proc, rec);
    if (d.parent === undefined) out.parent = asParent(table.parentOf(rec));
  }
  if (d.target !== undefined) out.target = fill(d.target, table.resolve(d.target));
  return out;
}

/** enrichProcesses as a new draft (tests, tools). */
export function enrichDraft(table: ProcessTable, d: EventDraft): EventDraft {
  const r = enrichProcesses(table, d, { proc: undefined, parent: undefined, target: undefined });
  if (r.proc === d.proc && r.parent === d.parent && r.target === d.target) return d;
  const out: EventDraft = Object.assign({}, d);
  if (r.proc) out.proc = r.proc;
  if (r.parent) out.parent = r.parent;
  if (r.target) out.target = r.target;
  return out;
}
