/**
 * Decoded ETW events → Vigil events. Kernel-Process names processes by pid and CreateTime,
 * so identities are `pid@start_time` as on Linux; a bounded table of the processes seen
 * starting fills parents, the image of a stop, and tells a process's first thread (created
 * by its parent: not remote) from a thread created in another process.
 */
import type { EventDraft, ProcessInfo } from '../../../core/index.js';
import { DNS_CLIENT, KERNEL_NETWORK, KERNEL_PROCESS, POWERSHELL } from './config.js';
import type { DecodedEvent, FieldValue } from './decode.js';

export const PROVIDER_NAMES: Readonly<Record<string, string>> = {
  [KERNEL_PROCESS]: 'Microsoft-Windows-Kernel-Process',
  [KERNEL_NETWORK]: 'Microsoft-Windows-Kernel-Network',
  [DNS_CLIENT]: 'Microsoft-Windows-DNS-Client',
  [POWERSHELL]: 'Microsoft-Windows-PowerShell',
};

/** The System process: its threads are created for every process by the kernel. */
const SYSTEM_PID = 4;

interface Known {
  readonly startTime: number;
  readonly image: string | undefined;
  readonly ppid: number;
  threads: number;
}

export type MapOutcome = { readonly draft: EventDraft } | { readonly skipped: 'ignored' | 'local_thread' | 'missing_fields' };

const num = (v: FieldValue | undefined): number | undefined => (typeof v === 'number' ? v : undefined);
const str = (v: FieldValue | undefined): string | undefined => (typeof v === 'string' ? v : undefined);
/** Mandatory label SIDs (S-1-16-<rid>) → the integrity level names Sysmon uses. */
const INTEGRITY: Readonly<Record<string, string>> = {
  'S-1-16-0': 'Untrusted',
  'S-1-16-4096': 'Low',
  'S-1-16-8192': 'Medium',
  'S-1-16-8448': 'Medium',
  'S-1-16-12288': 'High',
  'S-1-16-16384': 'System',
  'S-1-16-20480': 'Protected',
};
const baseName = (path: string): string => path.slice(Math.max(path.lastIndexOf('\\'), path.lastIndexOf('/')) + 1);

export class EtwMapper {
  private readonly table = new Map<number, Known>();
  /** Processes not remembered because the table was full. */
  tableFull = 0;

  constructor(private readonly maxProcesses: number) {}

  get processes(): number {
    return this.table.size;
  }

  map(ev: DecodedEvent): MapOutcome {
    const f = ev.fields;
    const raw: Record<string, unknown> = { ...f, EventID: ev.id, Version: ev.version, Provider_Guid: ev.provider, Provider_Name: PROVIDER_NAMES[ev.provider] ?? ev.provider, Task: ev.task, ProcessId: ev.pid, ThreadId: ev.tid };
    switch (ev.provider) {
      case KERNEL_PROCESS:
        return this.kernelProcess(ev, raw);
      case KERNEL_NETWORK: {
        if (ev.id !== 12 && ev.id !== 28) return { skipped: 'ignored' };
        const pid = num(f['PID']) ?? ev.pid;
        const dst = str(f['daddr']);
        const dport = num(f['dport']);
        if (dst === undefined || dport === undefined) return { skipped: 'missing_fields' };
        const net: NonNullable<EventDraft['net']> = { protocol: 'tcp', initiated: true, ipv6: ev.id === 28, dst_ip: dst, dst_port: dport };
        const src = str(f['saddr']);
        const sport = num(f['sport']);
        if (src !== undefined) net.src_ip = src;
        if (sport !== undefined) net.src_port = sport;
        return { draft: { type: 'net.connect', time: ev.time, proc: this.proc(pid), net, raw } };
      }
      case DNS_CLIENT: {
        // 3008: a query completed (name, status, answers), as Sysmon's DNS event reports.
        if (ev.id !== 3008) return { skipped: 'ignored' };
        const query = str(f['QueryName']);
        if (query === undefined) return { skipped: 'missing_fields' };
        const dns: NonNullable<EventDraft['dns']> = { query };
        const status = f['QueryStatus'];
        if (typeof status === 'number' || typeof status === 'string') dns.status = String(status);
        const answers = str(f['QueryResults']);
        if (answers !== undefined) dns.answers = answers;
        return { draft: { type: 'dns.query', time: ev.time, proc: this.proc(ev.pid), dns, raw } };
      }
      case POWERSHELL: {
        if (ev.id !== 4104) return { skipped: 'ignored' };
        const text = str(f['ScriptBlockText']);
        if (text === undefined) return { skipped: 'missing_fields' };
        const script: NonNullable<EventDraft['script']> = { text };
        const id = str(f['ScriptBlockId']);
        const path = str(f['Path']);
        if (id !== undefined) script.block_id = id;
        if (path !== undefined && path !== '') script.path = path;
        return { draft: { type: 'script.block', time: ev.time, proc: this.proc(ev.pid), script, raw } };
      }
      default:
        return { skipped: 'ignored' };
    }
  }

  /** What is known of a running pid. */
  proc(pid: number): ProcessInfo {
    const p: ProcessInfo = { pid };
    const k = this.table.get(pid);
    if (k) {
      p.start_time = k.startTime;
      p.guid = `${pid}@${k.startTime}`;
      p.ppid = k.ppid;
      if (k.image !== undefined) {
        p.image = k.image;
        p.name = baseName(k.image);
      }
    }
    return p;
  }

  private kernelProcess(ev: DecodedEvent, raw: Record<string, unknown>): MapOutcome {
    const f = ev.fields;
    const pid = num(f['ProcessID']);
    if (pid === undefined) return { skipped: ev.id <= 6 ? 'missing_fields' : 'ignored' };
    switch (ev.id) {
      case 1: {
        const created = num(f['CreateTime']);
        const ppid = num(f['ParentProcessID']);
        if (created === undefined || ppid === undefined) return { skipped: 'missing_fields' };
        const startTime = Math.floor(created);
        const image = str(f['ImageName']);
        const parent = this.proc(ppid);
        // A parent remembered as starting after the child is an earlier holder's reuse of its pid.
        const parentKnown = parent.start_time !== undefined && parent.start_time <= startTime;
        const proc: ProcessInfo = { pid, ppid, start_time: startTime, guid: `${pid}@${startTime}` };
        if (image !== undefined) {
          proc.image = image;
          proc.name = baseName(image);
        }
        const cmdline = str(f['CommandLine']);
        if (cmdline !== undefined) proc.cmdline = cmdline;
        const session = num(f['SessionID']);
        if (session !== undefined) proc.session_id = session;
        const label = str(f['MandatoryLabel']);
        const integrity = label === undefined ? undefined : INTEGRITY[label];
        if (integrity !== undefined) proc.integrity = integrity;
        if (parentKnown) proc.parent_guid = parent.guid!;
        this.remember(pid, { startTime, image, ppid, threads: 0 });
        return { draft: { type: 'process.start', time: ev.time, proc, parent: parentKnown ? parent : { pid: ppid }, raw } };
      }
      case 2: {
        const proc = this.proc(pid);
        const created = num(f['CreateTime']);
        if (created !== undefined) {
          proc.start_time = Math.floor(created);
          proc.guid = `${pid}@${proc.start_time}`;
        }
        const image = str(f['ImageName']);
        if (proc.image === undefined && image !== undefined) {
          proc.image = image;
          proc.name = baseName(image);
        }
        this.table.delete(pid);
        const exitCode = num(f['ExitCode']);
        return { draft: { type: 'process.stop', time: ev.time, proc, raw: exitCode === undefined ? raw : { ...raw, exit_code: exitCode } } };
      }
      case 3: {
        const owner = this.table.get(pid);
        const creator = ev.pid;
        // A process's first thread is created by its parent while creating it: not remote.
        const first = owner !== undefined && owner.threads === 0 && owner.ppid === creator;
        if (owner) owner.threads++;
        if (creator === pid || creator === SYSTEM_PID || creator === 0 || first) return { skipped: 'local_thread' };
        const thread: NonNullable<EventDraft['thread']> = {};
        const tid = num(f['ThreadID']);
        if (tid !== undefined) thread.id = tid;
        const start = str(f['Win32StartAddr']) ?? str(f['StartAddr']);
        if (start !== undefined) thread.start_address = start;
        return { draft: { type: 'thread.remote_create', time: ev.time, proc: this.proc(creator), target: this.proc(pid), thread, raw } };
      }
      case 5: {
        const path = str(f['ImageName']);
        if (path === undefined) return { skipped: 'missing_fields' };
        return { draft: { type: 'image.load', time: ev.time, proc: this.proc(pid), image: { path }, raw } };
      }
      default:
        return { skipped: 'ignored' };
    }
  }

  private remember(pid: number, k: Known): void {
    if (!this.table.has(pid) && this.table.size >= this.maxProcesses) {
      this.tableFull++;
      return;
    }
    this.table.set(pid, k);
  }
}
