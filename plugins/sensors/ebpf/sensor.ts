/**
 * The eBPF sensor, main-thread side: checks what the kernel allows, seeds its process table
 * with one /proc walk, starts the poll thread (poll-worker.ts) and turns kernel records into
 * events. Identities follow lib/procfs (`pid@start_time`, the start time from /proc's clock
 * ticks), so the procfs sensor and this one name a process alike.
 */
import { basename } from 'node:path';
import { Worker } from 'node:worker_threads';
import { bpfPreconditions, KERNEL_BTF, SHIPPED_BPF_OBJECT, type BpfUnavailable } from '../../../driver/ffi/linux/bpf-probe.js';
import type { EventDraft, FileInfo, ImageInfo, NetInfo, ProcessInfo, SensorContext, SensorInstance } from '../../../core/index.js';
import { DEFAULT_CLOCK_TICKS, exitStatusRaw, loadUserNames, processGuid, readProcessClock, ticksToEpochMs, UserNames, walkProcesses } from '../../../lib/procfs/index.js';
import type { EbpfConfig } from './config.js';
import { MIN_RING_BUFFER_BYTES } from './config.js';
import { AF_INET6, FLAG_ARGS_TRUNC, MAX_FILE_PREFIX_BYTES, type KernelRecord, type KernelStats, type RecordKind, type StatName } from './decode.js';
import { EbpfError, type EbpfErrorCode } from './errors.js';
import type { PollMessage, PollWorkerData } from './poll-worker.js';

/** The object shipped with Vigil (driver/linux/vigil.bpf.o). */
export const SHIPPED_OBJECT = SHIPPED_BPF_OBJECT;
export const BTF_PATH = KERNEL_BTF;

const UNAVAILABLE_CODES: Readonly<Record<BpfUnavailable['kind'], EbpfErrorCode>> = {
  platform: 'VIGIL_ERR_EBPF_PLATFORM',
  privilege: 'VIGIL_ERR_EBPF_PRIVILEGE',
  no_btf: 'VIGIL_ERR_EBPF_NO_BTF',
  object: 'VIGIL_ERR_EBPF_OBJECT',
  libbpf: 'VIGIL_ERR_EBPF_LIBBPF',
  load: 'VIGIL_ERR_EBPF_LOAD',
};

/** Kernel drop counters and the discard reason each one is reported under. */
const DROP_REASONS: readonly [StatName, string][] = [
  ['exec_dropped', 'ring_buffer_full:exec'],
  ['fork_dropped', 'ring_buffer_full:fork'],
  ['exit_dropped', 'ring_buffer_full:exit'],
  ['ptrace_dropped', 'ring_buffer_full:ptrace'],
  ['vm_write_dropped', 'ring_buffer_full:vm_write'],
  ['connect_dropped', 'ring_buffer_full:connect'],
  ['file_dropped', 'ring_buffer_full:file'],
  ['mem_open_dropped', 'ring_buffer_full:mem_open'],
  ['memfd_dropped', 'ring_buffer_full:memfd'],
  ['module_dropped', 'ring_buffer_full:module'],
];

const O_CREAT = 0o100;
const O_ACCMODE = 3;

const MFD_FLAGS: readonly [number, string][] = [
  [0x1, 'cloexec'],
  [0x2, 'allow_sealing'],
  [0x4, 'hugetlb'],
  [0x8, 'noexec_seal'],
  [0x10, 'exec'],
];

/** memfd_create's flags by name (MFD_*; the hugetlb size bits are left out). */
export function memfdFlags(flags: number): string[] {
  return MFD_FLAGS.filter(([bit]) => (flags & bit) !== 0).map(([, name]) => name);
}

/** A module's name as its file names it: `/tmp/x/evil-mod.ko.xz` → `evil_mod` (as the kernel spells it). */
export function moduleName(path: string): string {
  return basename(path).replace(/\.ko(\.(xz|zst|gz))?$/, '').replace(/-/g, '_');
}

const PTRACE_REQUESTS: Readonly<Record<number, string>> = { 16: 'attach', 0x4206: 'seize' };

interface Entry {
  readonly pid: number;
  readonly guid: string;
  readonly startTime: number;
  ppid: number;
  name: string;
  image: string | undefined;
}

export interface EbpfSensorOptions {
  /** Pids the kernel ignores besides the agent's own (tests). */
  readonly ignorePids?: readonly number[];
  /**
   * Report (and count) only the children of these pids (vigil.bpf.c's `vigil_focus`): lets a
   * measurement account exactly for the processes it spawned on a busy machine. Tests, bench.
   */
  readonly focusParents?: readonly number[];
  readonly passwdPath?: string;
}

export class EbpfSensor implements SensorInstance {
  private readonly table = new Map<number, Entry>();
  private readonly users: UserNames;
  private usersLoaded = false;
  private worker: Worker | undefined;
  private readonly stopFlag = new Int32Array(new SharedArrayBuffer(4));
  private closed: Promise<void> | undefined;
  private started = false;
  private stopped = false;
  private bootMs = 0;
  private clockTicks = DEFAULT_CLOCK_TICKS;
  private nsPerTick = 10_000_000n;
  private readonly reported = new Map<string, number>();
  private readonly refusedTypes = new Set<string>();
  /** Records delivered by kind (the numbers `vigil status` shows as events by kind). */
  readonly delivered: Record<RecordKind, number> = { exec: 0, fork: 0, exit: 0, ptrace: 0, vm_write: 0, connect: 0, file: 0, mem_open: 0, memfd: 0, module: 0 };
  /** Last kernel counters seen. */
  kernelStats: KernelStats | undefined;
  /** Programs attached, by name, with their sections. */
  programs: { name: string; section: string }[] = [];

  constructor(
    private readonly ctx: SensorContext,
    private readonly config: EbpfConfig,
    private readonly options: EbpfSensorOptions = {},
  ) {
    this.users = new UserNames(options.passwdPath ?? '/etc/passwd');
  }

  async start(): Promise<void> {
    if (this.started || this.stopped) return;
    this.started = true;
    const { ctx } = this;
    const objectPath = this.config.object_path === '' ? SHIPPED_OBJECT : ctx.resolvePath(this.config.object_path);
    await this.preflight(objectPath);

    const procRoot = ctx.resolvePath(this.config.proc_root);
    const clock = await readProcessClock(procRoot, ctx.signal, 'ebpf');
    this.bootMs = clock.bootSec * 1000;
    this.clockTicks = clock.clockTicks;
    this.nsPerTick = 1_000_000_000n / BigInt(this.clockTicks);
    this.usersLoaded = await loadUserNames(this.users, ctx, 'ebpf');

    // The poll thread starts first so that nothing exec'd during the walk is missed; records
    // wait in the ring buffer (and the message queue) until the table is seeded.
    const ready = this.startWorker(objectPath);
    let programs: { name: string; section: string }[];
    try {
      programs = await ready;
    } catch (err) {
      await this.stop();
      throw err;
    }
    this.programs = programs;
    ctx.counters.set('programs_attached', programs.length);
    for (const p of programs) ctx.counters.set(`program:${p.name}`, 1);
    try {
      await this.seed(procRoot);
    } catch (err) {
      await this.stop();
      throw err;
    }
    this.seeded = true;
    for (const batch of this.pending.splice(0)) this.onRecords(batch);
    ctx.logger.info(
      { programs: programs.map((p) => p.section), ring_buffer_bytes: this.config.ring_buffer_bytes },
      `ebpf: live process telemetry from the kernel (${programs.length} programs attached)`,
    );
  }

  private seeded = false;
  private readonly pending: KernelRecord[][] = [];

  private async preflight(objectPath: string): Promise<void> {
    for (const prefix of this.config.file_prefixes) {
      if (Buffer.byteLength(prefix) > MAX_FILE_PREFIX_BYTES) {
        throw new EbpfError('VIGIL_ERR_EBPF_CONFIG', `ebpf: file prefix ${JSON.stringify(prefix)} is longer than ${MAX_FILE_PREFIX_BYTES} bytes`);
      }
    }
    const ring = this.config.ring_buffer_bytes;
    if (ring < MIN_RING_BUFFER_BYTES || (ring & (ring - 1)) !== 0) {
      throw new EbpfError('VIGIL_ERR_EBPF_CONFIG', `ebpf: ring_buffer_bytes ${ring} is not a power of two of at least ${MIN_RING_BUFFER_BYTES}`);
    }
    const missing = await bpfPreconditions(objectPath);
    if (missing !== undefined) throw new EbpfError(UNAVAILABLE_CODES[missing.kind], `ebpf: ${missing.reason}`);
  }

  private startWorker(objectPath: string): Promise<{ name: string; section: string }[]> {
    const data: PollWorkerData = {
      objectPath,
      ringBufferBytes: this.config.ring_buffer_bytes,
      ignorePids: [process.pid, ...(this.options.ignorePids ?? [])],
      focusParents: this.options.focusParents ?? [],
      filePrefixes: this.config.file_prefixes,
      pollTimeoutMs: this.config.poll_timeout_ms,
      maxBatch: this.config.max_batch_records,
      stop: this.stopFlag.buffer as SharedArrayBuffer,
    };
    const worker = new Worker(new URL('./poll-worker.js', import.meta.url), { workerData: data });
    this.worker = worker;
    return new Promise((resolve, reject) => {
      let isReady = false;
      this.closed = new Promise<void>((done) => {
        worker.once('exit', (code) => {
          this.worker = undefined;
          if (!isReady) reject(new EbpfError('VIGIL_ERR_EBPF_LOAD', `ebpf: the poll thread ended (exit code ${code}) before the programs were attached`));
          else if (!this.stopped) this.ctx.fail(new EbpfError('VIGIL_ERR_EBPF_POLL', `ebpf: the poll thread ended unasked (exit code ${code})`));
          done();
        });
      });
      worker.on('error', (err) => {
        this.ctx.counters.error(isReady ? 'receive' : 'start', err.name);
        if (!isReady) reject(new EbpfError('VIGIL_ERR_EBPF_LOAD', `ebpf: the poll thread failed: ${err.message}`, { cause: err }));
        else if (!this.stopped) this.ctx.fail(err);
      });
      worker.on('message', (msg: PollMessage) => {
        switch (msg.t) {
          case 'ready':
            isReady = true;
            resolve(msg.programs);
            break;
          case 'error': {
            const err = new EbpfError(msg.code, `ebpf: ${msg.message}`, { details: { errno: msg.errno } });
            if (!isReady) reject(err);
            else {
              this.ctx.counters.error('receive', msg.code);
              if (!this.stopped) this.ctx.fail(err);
            }
            break;
          }
          case 'records':
            if (this.seeded) this.onRecords(msg.records);
            else this.pending.push(msg.records);
            break;
          case 'stats':
            this.onStats(msg.stats, msg.decodeErrors, msg.lastDecodeError);
            break;
          case 'closed':
            break;
        }
      });
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    Atomics.store(this.stopFlag, 0, 1);
    if (this.closed) await this.closed;
    // Records posted before the thread ended were delivered to 'message' first. Held ones of a
    // start that failed before the table was seeded are never reported: counted as lost.
    if (!this.seeded) {
      const held = this.pending.splice(0).reduce((n, b) => n + b.length, 0);
      if (held > 0) this.ctx.counters.discard('plugin_not_running', held);
    }
  }

  private async seed(procRoot: string): Promise<void> {
    const all = await walkProcesses(procRoot);
    for (const p of all) {
      const startTime = ticksToEpochMs(p.stat.startTicks, this.bootMs / 1000, this.clockTicks);
      const entry: Entry = { pid: p.stat.pid, guid: processGuid(p.stat.pid, startTime), startTime, ppid: p.stat.ppid, name: p.stat.comm, image: p.image };
      // A record may already have replaced this pid (an exec during the walk).
      if (!this.table.has(entry.pid)) this.table.set(entry.pid, entry);
      if (!this.config.emit_existing || p.kthread) continue;
      const proc: ProcessInfo = { pid: entry.pid, ppid: entry.ppid, guid: entry.guid, start_time: startTime, name: entry.name };
      if (p.image !== undefined) proc.image = p.image;
      if (p.cmdline !== undefined) proc.cmdline = p.cmdline;
      if (p.cwd !== undefined) proc.cwd = p.cwd;
      if (p.euid !== undefined) this.setUser(proc, p.euid);
      const draft: EventDraft = { type: 'process.start', time: startTime, proc, raw: { existing: true, source: 'proc-walk' } };
      const parent = this.table.get(entry.ppid);
      if (entry.ppid > 0) {
        draft.parent = { pid: entry.ppid };
        if (parent && parent.startTime <= startTime) {
          draft.parent = this.describeParent(parent);
          proc.parent_guid = parent.guid;
        }
      }
      this.emit(draft);
    }
    this.ctx.counters.set('seeded_processes', all.length);
  }

  private startTimeOf(ns: bigint): number {
    return ticksToEpochMs(Number(ns / this.nsPerTick), this.bootMs / 1000, this.clockTicks);
  }

  private setUser(proc: ProcessInfo, uid: number): void {
    proc.uid = uid;
    const user = this.usersLoaded ? this.users.lookup(uid) : undefined;
    if (user !== undefined) proc.user = user;
  }

  private describeParent(p: Entry): ProcessInfo {
    const parent: ProcessInfo = { pid: p.pid, guid: p.guid, start_time: p.startTime, name: p.name };
    if (p.image !== undefined) parent.image = p.image;
    return parent;
  }

  private onRecords(records: readonly KernelRecord[]): void {
    const { counters } = this.ctx;
    counters.received += records.length;
    for (const r of records) {
      this.delivered[r.kind]++;
      counters.add(`records:${r.kind}`);
      const startTime = this.startTimeOf(r.startNs);
      const guid = processGuid(r.pid, startTime);
      const parentStart = this.startTimeOf(r.parentStartNs);
      const parentGuid = processGuid(r.ppid, parentStart);
      const time = this.bootMs + Number(r.timeNs) / 1e6;
      if (r.kind === 'fork') {
        const parent = this.table.get(r.ppid);
        // Until it execs, the child runs its parent's program.
        this.table.set(r.pid, { pid: r.pid, guid, startTime, ppid: r.ppid, name: r.comm, image: parent?.guid === parentGuid ? parent.image : undefined });
        continue;
      }
      if (r.kind === 'exec') {
        const entry: Entry = { pid: r.pid, guid, startTime, ppid: r.ppid, name: r.comm, image: r.image };
        this.table.set(r.pid, entry);
        const proc: ProcessInfo = { pid: r.pid, ppid: r.ppid, guid, start_time: startTime, name: r.comm, parent_guid: parentGuid };
        if (r.image !== undefined) proc.image = r.image;
        if (r.argv !== undefined) proc.cmdline = r.argv.join(' ');
        if (r.cwd !== undefined) proc.cwd = r.cwd;
        this.setUser(proc, r.euid);
        const p = this.table.get(r.ppid);
        const parent: ProcessInfo = p?.guid === parentGuid ? this.describeParent(p) : { pid: r.ppid, guid: parentGuid, start_time: parentStart };
        const raw: Record<string, unknown> = { existing: false, exec: true, tid: r.tid, ruid: r.uid, gid: r.gid, egid: r.egid };
        if (r.argv !== undefined) raw['argv'] = r.argv;
        if ((r.flags & FLAG_ARGS_TRUNC) !== 0) raw['args_truncated'] = true;
        if (proc.image !== undefined && r.argv?.[0] !== undefined && basename(r.argv[0]) !== basename(proc.image)) raw['argv0'] = r.argv[0];
        this.emit({ type: 'process.start', time, proc, parent, raw });
        continue;
      }
      if (r.kind === 'exit') {
        const known = this.table.get(r.pid);
        const proc: ProcessInfo = { pid: r.pid, ppid: r.ppid, guid, start_time: startTime, name: r.comm };
        if (known?.guid === guid && known.image !== undefined) proc.image = known.image;
        if (known?.guid === guid) this.table.delete(r.pid);
        this.emit({ type: 'process.stop', time, proc, raw: exitStatusRaw(r.exitStatus) });
        continue;
      }
      this.emitActivity(r, guid, startTime, time);
    }
    counters.set('processes', this.table.size);
  }

  /** The actor of a ptrace, memory write or connect: the record's identity and the table's image. */
  private actor(r: KernelRecord, guid: string, startTime: number): ProcessInfo {
    const proc: ProcessInfo = { pid: r.pid, ppid: r.ppid, guid, start_time: startTime, name: r.comm };
    const known = this.table.get(r.pid);
    if (known?.guid === guid && known.image !== undefined) proc.image = known.image;
    this.setUser(proc, r.euid);
    return proc;
  }

  /** A target process's identity from the table (only the pid when it is not there). */
  private target(pid: number): ProcessInfo {
    const target: ProcessInfo = { pid };
    const t = this.table.get(pid);
    if (t !== undefined) {
      target.guid = t.guid;
      target.start_time = t.startTime;
      target.name = t.name;
      target.ppid = t.ppid;
      if (t.image !== undefined) target.image = t.image;
    }
    return target;
  }

  private emitActivity(r: KernelRecord, guid: string, startTime: number, time: number): void {
    if (r.file !== undefined) {
      const proc = this.actor(r, guid, startTime);
      const f = r.file;
      const type = f.op === 'delete' ? 'file.delete' : (f.flags & O_CREAT) !== 0 ? 'file.create' : 'file.open';
      const file: FileInfo = { path: f.path, name: basename(f.path) };
      if (f.op === 'open') {
        file.flags = f.flags;
        if ((f.flags & O_CREAT) !== 0) file.mode = f.mode;
      }
      this.emit({ type, time, proc, file, raw: { tid: r.tid } });
      return;
    }
    if (r.memOpen !== undefined) {
      const m = r.memOpen;
      const proc = this.actor(r, guid, startTime);
      // The pid in the path is in the caller's pid namespace: only in the initial one is it
      // the table's key.
      const target = m.nsLevel === 0 ? this.target(m.targetPid) : { pid: m.targetPid };
      const file: FileInfo = { path: m.path, name: 'mem', flags: m.flags };
      const raw: Record<string, unknown> = { tid: r.tid, syscall: 'open', write: (m.flags & O_ACCMODE) !== 0 };
      if (m.nsLevel !== 0) raw['pid_namespace_level'] = m.nsLevel;
      this.emit({ type: 'memory.access', time, proc, target, file, raw });
      return;
    }
    if (r.memfd !== undefined) {
      const proc = this.actor(r, guid, startTime);
      const file: FileInfo = { path: `memfd:${r.memfd.name}`, name: r.memfd.name, flags: r.memfd.flags };
      this.emit({ type: 'file.create', time, proc, file, raw: { tid: r.tid, memfd: true, syscall: 'memfd_create', memfd_flags: memfdFlags(r.memfd.flags) } });
      return;
    }
    if (r.module !== undefined) {
      const m = r.module;
      const proc = this.actor(r, guid, startTime);
      const raw: Record<string, unknown> = { tid: r.tid, syscall: m.syscall };
      const draft: EventDraft = { type: 'driver.load', time, proc, raw };
      if (m.syscall === 'finit_module') {
        raw['flags'] = m.flags;
        if (m.path !== '') {
          const image: ImageInfo = { path: m.path };
          draft.image = image;
          draft.file = { path: m.path, name: basename(m.path) };
          raw['module'] = moduleName(m.path);
        }
      } else {
        raw['size'] = m.size;
      }
      this.emit(draft);
      return;
    }
    const ext = r.ext;
    if (ext === undefined) return;
    const proc = this.actor(r, guid, startTime);
    if (r.kind === 'connect') {
      const ipv6 = ext.family === AF_INET6;
      const net: NetInfo = { protocol: 'tcp', initiated: true, ipv6, src_ip: ext.saddr, dst_ip: ext.daddr, dst_port: ext.dport };
      // The source port is chosen after the move to SYN_SENT for an unbound socket.
      if (ext.sport !== 0) net.src_port = ext.sport;
      this.emit({ type: 'net.connect', time, proc, net, raw: { tid: r.tid } });
      return;
    }
    const target = this.target(ext.targetPid);
    if (r.kind === 'ptrace') {
      this.emit({ type: 'process.ptrace', time, proc, target, raw: { tid: r.tid, request: PTRACE_REQUESTS[ext.request] ?? ext.request } });
    } else {
      this.emit({ type: 'memory.access', time, proc, target, raw: { tid: r.tid, syscall: 'process_vm_writev', write: true } });
    }
  }

  private onStats(stats: KernelStats, decodeErrors: number, lastDecodeError: string): void {
    const { counters } = this.ctx;
    this.kernelStats = stats;
    for (const [name, value] of Object.entries(stats)) counters.set(`kernel_${name}`, value);
    for (const [stat, reason] of DROP_REASONS) this.reportDelta(reason, stats[stat]);
    const prevDecode = this.reported.get('parse_error') ?? 0;
    if (decodeErrors > prevDecode) {
      counters.error('receive', 'decode');
      counters.discard('parse_error', decodeErrors - prevDecode);
      this.reported.set('parse_error', decodeErrors);
      this.ctx.logger.warn({ reason: lastDecodeError }, 'ebpf: undecodable ring-buffer records');
    }
  }

  /** The kernel's counters are totals; the discard counters get what is new since last time. */
  private reportDelta(reason: string, total: number): void {
    const prev = this.reported.get(reason) ?? 0;
    if (total > prev) this.ctx.counters.discard(reason, total - prev);
    this.reported.set(reason, total);
  }

  private emit(draft: EventDraft): void {
    try {
      void this.ctx.emit(draft);
      this.ctx.counters.add(`events:${draft.type}`);
    } catch (err) {
      this.ctx.counters.error('send', err instanceof Error ? err.name : 'unknown');
      this.ctx.counters.discard('emit_rejected');
      if (!this.refusedTypes.has(draft.type)) {
        this.refusedTypes.add(draft.type);
        this.ctx.logger.warn({ err, type: draft.type }, 'ebpf: emit refused');
      }
    }
  }
}
