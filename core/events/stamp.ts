import type { EventDraft, HostInfo, ProcessInfo, VigilEvent } from './event.js';
import { freezeEvent } from './freeze.js';

/** The process groups of an event (after enrichment, or the draft's own). */
export interface ProcessGroups {
  proc: ProcessInfo | undefined;
  parent: ProcessInfo | undefined;
  target: ProcessInfo | undefined;
}

/**
 * Build the stamped event as one object literal with every group in a fixed order: all
 * events then share one hidden class (fast field access in rules), and V8 avoids the slow
 * path that `{ ...draft, id, seq }` takes. Only the documented groups are carried over.
 */
export function envelope(d: EventDraft, p: ProcessGroups, id: string, seq: number, source: string, host: { readonly name: string }): VigilEvent {
  return {
    id,
    seq,
    type: d.type,
    time: d.time,
    received: Date.now(),
    source,
    host,
    proc: p.proc,
    parent: p.parent,
    target: p.target,
    thread: d.thread,
    access: d.access,
    file: d.file,
    image: d.image,
    reg: d.reg,
    net: d.net,
    dns: d.dns,
    user: d.user,
    logon: d.logon,
    service: d.service,
    task: d.task,
    script: d.script,
    pipe: d.pipe,
    wmi: d.wmi,
    scan: d.scan,
    message: d.message,
    raw: d.raw,
  } as VigilEvent;
}

/**
 * A draft stamped and frozen the way the kernel does it, without process-table enrichment
 * (tools, benchmarks and fixtures that feed analyzers directly).
 */
export function stampDraft(d: EventDraft, seq: number, source: string, host: HostInfo, bootId = 'local'): VigilEvent {
  return freezeEvent(envelope(d, { proc: d.proc, parent: d.parent, target: d.target }, `${bootId}-${seq}`, seq, source, d.host ?? host));
}
