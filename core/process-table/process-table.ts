import type { ProcessInfo } from '../events/event.js';
import { processShape } from './shape.js';

/** A process known to the table. */
export interface ProcessRecord extends ProcessInfo {
  pid: number;
  guid: string;
  /** Wall/event time the process was seen exiting; undefined while alive. */
  exited?: number;
}

export interface ProcessTableOptions {
  /** How long an exited process stays resolvable (late events still enrich), ms. */
  exitGraceMs: number;
  /** Upper bound on records; the oldest exited ones go first, then the oldest. */
  maxProcesses: number;
}

/**
 * pid → process record, fed by `process.start` / `process.stop` from any sensor and used for
 * enrichment. Safe against pid reuse: a record is keyed by its guid (Sysmon ProcessGuid or
 * `pid@start_time`), and the pid index always points at the newest process with that pid.
 */
export class ProcessTable {
  private readonly byGuid = new Map<string, ProcessRecord>();
  private readonly byPid = new Map<number, ProcessRecord>();
  private readonly exitedOrder: ProcessRecord[] = [];
  /** Every record in start order (with a moving head) for eviction without rescanning the Map. */
  private startOrder: ProcessRecord[] = [];
  private startHead = 0;
  evicted = 0;

  constructor(private readonly options: ProcessTableOptions = { exitGraceMs: 120_000, maxProcesses: 200_000 }) {}

  get size(): number {
    return this.byGuid.size;
  }

  /** Identity of a process: its guid, else pid@start_time, else undefined. */
  static identity(p: ProcessInfo | undefined): string | undefined {
    if (!p) return undefined;
    if (p.guid) return p.guid;
    if (p.pid !== undefined && p.start_time !== undefined) return `${p.pid}@${p.start_time}`;
    return undefined;
  }

  /** Record a started process (newest wins the pid). */
  started(p: ProcessInfo, time: number, parent?: ProcessInfo): ProcessRecord | undefined {
    if (p.pid === undefined) return undefined;
    const guid = ProcessTable.identity(p) ?? `${p.pid}@${p.start_time ?? time}`;
    const rec = processShape(p, { guid, start_time: time, ppid: parent?.pid, parent_guid: parent?.guid } as ProcessInfo) as ProcessRecord;
    rec.exited = undefined as unknown as number;
    const old = this.byGuid.get(guid);
    if (old) Object.assign(old, rec);
    else this.startOrder.push(rec);
    this.byGuid.set(guid, old ?? rec);
    this.byPid.set(p.pid, old ?? rec);
    if (this.byGuid.size > this.options.maxProcesses) this.evictOne();
    return old ?? rec;
  }

  /** Mark a process exited; it stays resolvable for the grace period. */
  stopped(p: ProcessInfo, time: number): void {
    const rec = this.resolve(p);
    if (!rec || rec.exited !== undefined) return;
    rec.exited = time;
    this.exitedOrder.push(rec);
    this.sweep(time);
  }

  /** Find the record for a process reference: by guid, else by pid (if not reused since). */
  resolve(p: ProcessInfo | undefined): ProcessRecord | undefined {
    if (!p) return undefined;
    if (p.guid) {
      const r = this.byGuid.get(p.guid);
      if (r) return r;
    }
    if (p.pid === undefined) return undefined;
    const r = this.byPid.get(p.pid);
    if (!r) return undefined;
    // A start time that disagrees means the pid was reused: not the same process.
    if (p.start_time !== undefined && r.start_time !== undefined && p.start_time !== r.start_time) return undefined;
    if (p.guid && r.guid !== p.guid) return undefined;
    return r;
  }

  /** The parent record of a process, if known. */
  parentOf(rec: ProcessRecord): ProcessRecord | undefined {
    if (rec.parent_guid) return this.byGuid.get(rec.parent_guid);
    if (rec.ppid !== undefined) {
      const p = this.byPid.get(rec.ppid);
      // The parent must have started before the child to be the same process.
      if (p && (p.start_time ?? 0) <= (rec.start_time ?? Number.MAX_SAFE_INTEGER)) return p;
    }
    return undefined;
  }

  /** Drop exited processes past the grace period. */
  sweep(now: number): void {
    const limit = now - this.options.exitGraceMs;
    let i = 0;
    while (i < this.exitedOrder.length && (this.exitedOrder[i]!.exited ?? 0) <= limit) {
      this.remove(this.exitedOrder[i]!);
      i++;
    }
    if (i > 0) this.exitedOrder.splice(0, i);
  }

  snapshot(): ProcessRecord[] {
    return [...this.byGuid.values()].map((r) => ({ ...r }));
  }

  private remove(rec: ProcessRecord): void {
    if (this.startOrder.length > this.byGuid.size * 2 + 65536) {
      this.startOrder = this.startOrder.slice(this.startHead).filter((r) => this.byGuid.get(r.guid) === r && r !== rec);
      this.startHead = 0;
    }
    this.byGuid.delete(rec.guid);
    if (this.byPid.get(rec.pid) === rec) this.byPid.delete(rec.pid);
  }

  /** Evict the oldest exited process, else the oldest process. */
  private evictOne(): void {
    let victim: ProcessRecord | undefined;
    while (this.exitedOrder.length > 0 && !victim) {
      const r = this.exitedOrder.shift()!;
      if (this.byGuid.get(r.guid) === r) victim = r;
    }
    while (!victim && this.startHead < this.startOrder.length) {
      const r = this.startOrder[this.startHead++]!;
      if (this.byGuid.get(r.guid) === r) victim = r;
    }
    if (this.startHead > 65536 && this.startHead * 2 > this.startOrder.length) {
      this.startOrder = this.startOrder.slice(this.startHead);
      this.startHead = 0;
    }
    if (victim) {
      this.remove(victim);
      this.evicted++;
    }
  }
}
