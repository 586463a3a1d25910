/**
 * The proc-connector sensor, main-thread side: decides whether it should run (standing by
 * while eBPF can), probes the connector (open, bind, subscribe, canary), seeds its process
 * table with one /proc walk, starts the receive thread (recv-worker.ts) and turns kernel
 * events into Vigil's events. Identities follow lib/procfs (`pid@start_time`, the start time
 * from /proc's clock ticks), so procfs, ebpf and this sensor name a process alike.
 *
 * The kernel's events carry pids only. The receive thread reads the program, command line
 * and cwd from /proc right after an exec; a process that has exited by then is still
 * reported, with what the event carries (pid, and what the table knew) and
 * `raw.proc_unreadable`.
 *
 * Delivery is not reliable: when the socket's buffer overflows, recv fails with ENOBUFS and
 * the events in between are gone, without a count. Each overflow is counted as a discard
 * (`enobufs`, a lower bound: at least one event each) and followed by a rescan of /proc that
 * reports the processes the table has not seen (`raw.found_by: 'rescan'`) and forgets the
 * ones that are gone (`process.stop` with `raw.found_by: 'rescan'`, no exit code).
 */
import { Worker } from 'node:worker_threads';
import type { EventDraft, ProcessInfo, SensorContext, SensorInstance } from '../../../core/index.js';
import { probeBpf, SHIPPED_BPF_OBJECT } from '../../../driver/ffi/linux/bpf-probe.js';
import type { ProcEvent } from '../../../driver/ffi/linux/cn-proc.js';
import { probeProcConnector, type ProcConnectorUnavailable } from '../../../driver/ffi/linux/proc-connector-probe.js';
import { DEFAULT_CLOCK_TICKS, exitStatusRaw, loadUserNames, processGuid, readProcessClock, ticksToEpochMs, UserNames, walkProcesses } from '../../../lib/procfs/index.js';
import type { ProcConnConfig } from './config.js';
import { ProcConnError, type ProcConnErrorCode } from './errors.js';
import type { ExecDetails, ReceivedEvent, RecvMessage, RecvWorkerData } from './recv-worker.js';

const UNAVAILABLE_CODES: Readonly<Record<ProcConnectorUnavailable['kind'], ProcConnErrorCode>> = {
  platform: 'VIGIL_ERR_PROCCONN_PLATFORM',
  ffi: 'VIGIL_ERR_PROCCONN_FFI',
  socket: 'VIGIL_ERR_PROCCONN_SOCKET',
  privilege: 'VIGIL_ERR_PROCCONN_PRIVILEGE',
  subscribe: 'VIGIL_ERR_PROCCONN_SUBSCRIBE',
  deaf: 'VIGIL_ERR_PROCCONN_DEAF',
};

/** Events held while the table is seeded at start (the walk takes well under a second). */
const MAX_PENDING_EVENTS = 100_000;

interface Entry {
  readonly pid: number;
  /** Unset when neither /proc nor a fork event gave a start time (the process was gone). */
  readonly guid: string | undefined;
  readonly startTime: number | undefined;
  /** The start time came from the fork's timestamp, not from /proc. */
  readonly estimated?: boolean;
  ppid: number;
  name: string | undefined;
  image: string | undefined;
  uid: number | undefined;
  euid: number | undefined;
}

export interface ProcConnectorSensorOptions {
  readonly passwdPath?: string;
  /** The probe's canary command (tests point it elsewhere); default `true`. */
  readonly canary?: readonly [string, ...string[]];
}

export class ProcConnectorSensor implements SensorInstance {
  private readonly table = new Map<number, Entry>();
  private readonly users: UserNames;
  private usersLoaded = false;
  private worker: Worker | undefined;
  /** [0] = 1: stop; [1] = 1: hold reads. */
  private readonly control = new Int32Array(new SharedArrayBuffer(8));
  private closed: Promise<void> | undefined;
  private started = false;
  private stopped = false;
  private standby = false;
  private bootSec = 0;
  private clockTicks = DEFAULT_CLOCK_TICKS;
  /** Date.now() minus CLOCK_MONOTONIC in ms: the kernel's timestamps to wall time. */
  private monoToEpochMs = 0;
  private seeded = false;
  private readonly pending: ReceivedEvent[][] = [];
  private pendingCount = 0;
  private rescanAfterSeed = false;
  private readonly refusedTypes = new Set<string>();
  private rescanning: Promise<void> | undefined;
  private rescanAgain = false;
  private lossWarned = false;
  private tableFullWarned = false;
  private readonly reported = new Map<string, number>();
  /** The socket's receive buffer in effect (bytes, as the kernel reports it). */
  receiveBuffer = 0;

  constructor(
    private readonly ctx: SensorContext,
    private readonly config: ProcConnConfig,
    private readonly options: ProcConnectorSensorOptions = {},
  ) {
    this.users = new UserNames(options.passwdPath ?? '/etc/passwd');
  }

  /** Standing by for ebpf (start returned without subscribing). */
  get standingBy(): boolean {
    return this.standby;
  }

  async start(): Promise<void> {
    if (this.started || this.stopped) return;
    this.started = true;
    const { ctx } = this;

    if (this.config.fallback_for === 'ebpf') {
      const missing = await probeBpf(SHIPPED_BPF_OBJECT);
      if (missing === undefined) {
        this.standby = true;
        ctx.counters.set('standby', 1);
        ctx.logger.info('proc-connector: standing by: the ebpf sensor can run here and is the live process source (fallback_for: ebpf)');
        return;
      }
      ctx.counters.set('standby', 0);
      ctx.counters.set(`fallback_reason:${missing.kind}`, 1);
      ctx.logger.warn({ reason: missing.reason, kind: missing.kind }, `proc-connector: reporting as the fallback for ebpf, which cannot run here: ${missing.reason}`);
    }

    const unavailable = await probeProcConnector({
      timeoutMs: this.config.probe_timeout_ms,
      ...(this.options.canary === undefined ? {} : { canary: this.options.canary }),
    });
    if (unavailable !== undefined) throw new ProcConnError(UNAVAILABLE_CODES[unavailable.kind], `proc-connector: ${unavailable.reason}`);

    const procRoot = ctx.resolvePath(this.config.proc_root);
    const clock = await readProcessClock(procRoot, ctx.signal, 'proc-connector');
    this.bootSec = clock.bootSec;
    this.clockTicks = clock.clockTicks;
    this.monoToEpochMs = Date.now() - Number(process.hrtime.bigint()) / 1e6;
    this.usersLoaded = await loadUserNames(this.users, ctx, 'proc-connector');
    if (this.stopped) return;

    // The receive thread subscribes first so that nothing exec'd during the walk is missed;
    // its events wait (bounded by the socket and the message queue) until the table is seeded.
    try {
      this.receiveBuffer = await this.startWorker(procRoot);
      ctx.counters.set('receive_buffer_bytes', this.receiveBuffer);
      await this.seed(procRoot, false);
    } catch (err) {
      await this.stop();
      throw err;
    }
    this.seeded = true;
    for (const batch of this.pending.splice(0)) this.handleBatch(batch);
    this.pendingCount = 0;
    if (this.rescanAfterSeed) this.scheduleRescan();
    ctx.counters.set('standby', 0);
    ctx.logger.info(
      { receive_buffer_bytes: this.receiveBuffer },
      'proc-connector: live process telemetry from the kernel proc connector (fork, exec, exit, uid, ptrace, comm; program and command line read from /proc)',
    );
  }

  private startWorker(procRoot: string): Promise<number> {
    const data: RecvWorkerData = {
      procRoot,
      receiveBufferBytes: this.config.receive_buffer_bytes,
      pollTimeoutMs: this.config.poll_timeout_ms,
      maxBatch: this.config.max_batch_events,
      control: this.control.buffer as SharedArrayBuffer,
    };
    const worker = new Worker(new URL('./recv-worker.js', import.meta.url), { workerData: data });
    this.worker = worker;
    return new Promise((resolve, reject) => {
      let isReady = false;
      this.closed = new Promise<void>((done) => {
        worker.once('exit', (code) => {
          this.worker = undefined;
          if (!isReady) reject(new ProcConnError('VIGIL_ERR_PROCCONN_SOCKET', `proc-connector: the receive thread ended (exit code ${code}) before it subscribed`));
          else if (!this.stopped) this.ctx.fail(new ProcConnError('VIGIL_ERR_PROCCONN_RECV', `proc-connector: the receive thread ended unasked (exit code ${code})`));
          done();
        });
      });
      worker.on('error', (err) => {
        this.ctx.counters.error(isReady ? 'receive' : 'start', err.name);
        if (!isReady) reject(new ProcConnError('VIGIL_ERR_PROCCONN_SOCKET', `proc-connector: the receive thread failed: ${err.message}`, { cause: err }));
        else if (!this.stopped) this.ctx.fail(err);
      });
      worker.on('message', (msg: RecvMessage) => {
        switch (msg.t) {
          case 'ready':
            isReady = true;
            resolve(msg.receiveBuffer);
            break;
          case 'error': {
            const err = new ProcConnError(msg.code, `proc-connector: ${msg.message}`, { details: { errno: msg.errno } });
            if (!isReady) reject(err);
            else {
              this.ctx.counters.error('receive', msg.code);
              if (!this.stopped) this.ctx.fail(err);
            }
            break;
          }
          case 'events':
            if (this.seeded) this.handleBatch(msg.events);
            else this.hold(msg.events);
            break;
          case 'loss':
            this.onLoss(msg.overflows);
            break;
          case 'stats':
            this.onStats(msg);
            break;
          case 'closed':
            break;
        }
      });
    });
  }

  /**
   * Events that arrive while the table is being seeded wait, up to MAX_PENDING_EVENTS; past
   * that they are counted as lost and a rescan after the seed looks for what they named.
   */
  private hold(events: ReceivedEvent[]): void {
    if (this.pendingCount + events.length > MAX_PENDING_EVENTS) {
      this.ctx.counters.discard('start_backlog', events.length);
      this.rescanAfterSeed = true;
      return;
    }
    this.pendingCount += events.length;
    this.pending.push(events);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    Atomics.store(this.control, 0, 1);
    Atomics.store(this.control, 1, 0);
    Atomics.notify(this.control, 1);
    if (this.closed) await this.closed;
    if (this.rescanning) await this.rescanning;
    if (!this.seeded) {
      const held = this.pending.splice(0).reduce((n, b) => n + b.length, 0);
      if (held > 0) this.ctx.counters.discard('plugin_not_running', held);
    }
  }

  /**
   * Hold (true) or resume (false) the receive thread's reads. While held the kernel queues
   * into the socket until it overflows: the loss path can be exercised on purpose (tests,
   * an operator checking that loss is reported).
   */
  holdReads(hold: boolean): void {
    Atomics.store(this.control, 1, hold ? 1 : 0);
    Atomics.notify(this.control, 1);
  }

  /** A /proc walk: at start (every process, `existing`) or after a loss (only the unseen). */
  private async seed(procRoot: string, rescan: boolean): Promise<void> {
    const all = await walkProcesses(procRoot);
    if (this.stopped) return;
    const alive = new Set<number>();
    let found = 0;
    for (const p of all) {
      alive.add(p.stat.pid);
      const startTime = ticksToEpochMs(p.stat.startTicks, this.bootSec, this.clockTicks);
      const guid = processGuid(p.stat.pid, startTime);
      const known = this.table.get(p.stat.pid);
      if (known?.guid === guid) continue;
      const entry: Entry = { pid: p.stat.pid, guid, startTime, ppid: p.stat.ppid, name: p.stat.comm, image: p.image, uid: p.uid, euid: p.euid };
      // At start, an event may already have replaced this pid (an exec during the walk).
      if (!rescan && known !== undefined) continue;
      if (rescan && known?.guid !== undefined) {
        // The pid was reused among the lost events: the process the table knew has ended.
        this.emit({ type: 'process.stop', time: Date.now(), proc: this.describe(known), raw: { found_by: 'rescan' } });
        this.ctx.counters.add('rescan_gone');
      }
      if (!this.remember(entry)) continue;
      if (rescan) found++;
      if (p.kthread || (!rescan && !this.config.emit_existing)) continue;
      const proc = this.describe(entry);
      if (p.cmdline !== undefined) proc.cmdline = p.cmdline;
      if (p.cwd !== undefined) proc.cwd = p.cwd;
      const raw: Record<string, unknown> = rescan ? { existing: false, found_by: 'rescan' } : { existing: true, found_by: 'proc-walk' };
      this.emit({ type: 'process.start', time: rescan ? Date.now() : startTime, proc, ...this.parentOf(entry), raw });
    }
    if (rescan) {
      let gone = 0;
      const now = Date.now();
      for (const [pid, e] of this.table) {
        if (alive.has(pid)) continue;
        // Its exit was among the lost events: report the stop, without an exit code.
        this.table.delete(pid);
        gone++;
        this.emit({ type: 'process.stop', time: now, proc: this.describe(e), raw: { found_by: 'rescan' } });
      }
      this.ctx.counters.add('rescans');
      this.ctx.counters.add('rescan_found', found);
      this.ctx.counters.add('rescan_gone', gone);
    } else {
      this.ctx.counters.set('seeded_processes', all.length);
    }
    this.ctx.counters.set('processes', this.table.size);
  }

  private remember(entry: Entry): boolean {
    if (!this.table.has(entry.pid) && this.table.size >= this.config.max_processes) {
      this.ctx.counters.discard('process_table_full');
      if (!this.tableFullWarned) {
        this.tableFullWarned = true;
        this.ctx.logger.warn({ max_processes: this.config.max_processes }, 'proc-connector: the process table is full; new processes are reported without parents');
      }
      return false;
    }
    this.table.set(entry.pid, entry);
    return true;
  }

  private onLoss(overflows: number): void {
    const { ctx } = this;
    // How many events the kernel dropped is not known: each overflow lost at least one.
    ctx.counters.discard('enobufs', overflows);
    ctx.counters.add('enobufs_overflows', overflows);
    if (!this.lossWarned) {
      this.lossWarned = true;
      ctx.logger.warn(
        'proc-connector: the kernel dropped events (ENOBUFS: the socket buffer overflowed; how many were lost is unknown); rescanning /proc for the processes missed',
      );
    }
    this.scheduleRescan();
  }

  /** One rescan at a time; losses during one ask for one more after it. */
  private scheduleRescan(): void {
    if (this.stopped) return;
    if (!this.seeded) {
      this.rescanAfterSeed = true;
      return;
    }
    if (this.rescanning) {
      this.rescanAgain = true;
      return;
    }
    this.rescanning = this.seed(this.ctx.resolvePath(this.config.proc_root), true)
      .catch((err: unknown) => {
        this.ctx.counters.error('receive', `rescan:${(err as { code?: string }).code ?? 'error'}`);
        this.ctx.logger.warn({ err }, 'proc-connector: the /proc rescan after a loss failed');
      })
      .finally(() => {
        this.rescanning = undefined;
        if (this.rescanAgain) {
          this.rescanAgain = false;
          this.scheduleRescan();
        }
      });
  }

  private onStats(msg: Extract<RecvMessage, { t: 'stats' }>): void {
    const { counters } = this.ctx;
    counters.set('datagrams', msg.datagrams);
    counters.set('thread_events_skipped', msg.threads);
    const delta = (name: string, total: number): number => {
      const prev = this.reported.get(name) ?? 0;
      this.reported.set(name, total);
      return total - prev;
    };
    const skipped = delta('skipped', msg.skipped);
    if (skipped > 0) counters.discard('not_proc_event', skipped, true);
    const bad = delta('parse_error', msg.decodeErrors);
    if (bad > 0) {
      counters.error('receive', 'decode');
      counters.discard('parse_error', bad);
      this.ctx.logger.warn({ reason: msg.lastDecodeError }, 'proc-connector: undecodable proc connector messages');
    }
  }

  private startOf(ticks: number): number {
    return ticksToEpochMs(ticks, this.bootSec, this.clockTicks);
  }

  private timeOf(ns: bigint): number {
    return this.monoToEpochMs + Number(ns / 1000n) / 1000;
  }

  private describe(e: Entry): ProcessInfo {
    const proc: ProcessInfo = { pid: e.pid, ppid: e.ppid };
    if (e.guid !== undefined) proc.guid = e.guid;
    if (e.startTime !== undefined) proc.start_time = e.startTime;
    if (e.name !== undefined) proc.name = e.name;
    if (e.image !== undefined) proc.image = e.image;
    if (e.euid !== undefined) {
      proc.uid = e.euid;
      const user = this.usersLoaded ? this.users.lookup(e.euid) : undefined;
      if (user !== undefined) proc.user = user;
    }
    return proc;
  }

  /** The parent as the table knows it (one that started after its child is a reused pid). */
  private parentOf(e: Entry): { parent?: ProcessInfo } {
    if (e.ppid <= 0) return {};
    const p = this.table.get(e.ppid);
    if (p === undefined || (p.startTime !== undefined && e.startTime !== undefined && p.startTime > e.startTime)) return { parent: { pid: e.ppid } };
    const parent: ProcessInfo = { pid: p.pid };
    if (p.guid !== undefined) parent.guid = p.guid;
    if (p.startTime !== undefined) parent.start_time = p.startTime;
    if (p.name !== undefined) parent.name = p.name;
    if (p.image !== undefined) parent.image = p.image;
    return { parent };
  }

  private handleBatch(events: readonly ReceivedEvent[]): void {
    const { counters } = this.ctx;
    counters.received += events.length;
    for (const r of events) {
      counters.add(`events:${r.ev.kind}`);
      this.onEvent(r);
    }
    counters.set('processes', this.table.size);
  }

  private onEvent(r: ReceivedEvent): void {
    const ev: ProcEvent = r.ev;
    const time = this.timeOf(ev.timestampNs);
    switch (ev.kind) {
      case 'fork': {
        const parent = this.table.get(ev.parentTgid);
        // /proc's start ticks when the child was still there; else the fork's own timestamp,
        // which equals the start on a machine that never suspended (marked as estimated).
        const ticks = r.startTicks ?? Math.floor(Number(ev.timestampNs) / (1e9 / this.clockTicks));
        const startTime = this.startOf(ticks);
        if (r.startTicks === undefined) this.ctx.counters.add('start_time_estimated');
        this.remember({
          pid: ev.tgid,
          guid: processGuid(ev.tgid, startTime),
          startTime,
          estimated: r.startTicks === undefined,
          ppid: ev.parentTgid,
          // Until it execs, the child runs its parent's program.
          name: parent?.name,
          image: parent?.image,
          uid: parent?.uid,
          euid: parent?.euid,
        });
        return;
      }
      case 'exec':
        this.onExec(ev.tgid, r.details ?? {}, time);
        return;
      case 'exit': {
        const known = this.table.get(ev.tgid);
        const proc = known === undefined ? { pid: ev.tgid, ppid: ev.parentTgid } : this.describe(known);
        this.table.delete(ev.tgid);
        this.emit({ type: 'process.stop', time, proc, raw: exitStatusRaw(ev.exitCode) });
        return;
      }
      case 'uid':
      case 'gid': {
        const known = this.table.get(ev.tgid);
        if (ev.kind === 'uid' && known !== undefined) {
          known.uid = ev.real;
          known.euid = ev.effective;
        }
        this.ctx.counters.add(`${ev.kind}_changes`);
        return;
      }
      case 'comm': {
        const known = this.table.get(ev.tgid);
        if (known !== undefined) known.name = ev.comm;
        return;
      }
      case 'ptrace': {
        // tracer 0: a detach; only attaches are reported.
        if (ev.tracerTgid === 0) return;
        const tracer = this.table.get(ev.tracerTgid);
        const proc = tracer === undefined ? { pid: ev.tracerTgid } : this.describe(tracer);
        const t = this.table.get(ev.tgid);
        const target = t === undefined ? { pid: ev.tgid } : this.describe(t);
        this.emit({ type: 'process.ptrace', time, proc, target, raw: { request: 'attach', tracer_tid: ev.tracerPid, target_tid: ev.pid } });
        return;
      }
      case 'ack':
        if (ev.err !== 0) this.ctx.counters.error('receive', `ack:${ev.err}`);
        return;
      case 'sid':
      case 'coredump':
        return;
    }
  }

  private onExec(pid: number, read: ExecDetails, time: number): void {
    const known = this.table.get(pid);
    let d = read;
    // Read late, /proc/<pid> may already be a later process that reused the pid: its start
    // differs from the one the fork gave. Then nothing read belongs to this exec.
    if (d.startTicks !== undefined && known?.startTime !== undefined && known.estimated !== true && this.startOf(d.startTicks) !== known.startTime) {
      this.ctx.counters.add('exec_pid_reused');
      d = {};
    }
    // An exec keeps the process: its start time is the fork's.
    const startTime = d.startTicks !== undefined ? this.startOf(d.startTicks) : known?.startTime;
    const entry: Entry = {
      pid,
      guid: startTime === undefined ? undefined : processGuid(pid, startTime),
      startTime,
      ppid: d.ppid ?? known?.ppid ?? 0,
      name: d.comm ?? known?.name,
      image: d.image,
      uid: d.ruid ?? known?.uid,
      euid: d.euid ?? known?.euid,
    };
    this.remember(entry);
    const proc = this.describe(entry);
    if (d.cmdline !== undefined) proc.cmdline = d.cmdline;
    if (d.cwd !== undefined) proc.cwd = d.cwd;
    const parent = this.parentOf(entry);
    if (parent.parent?.guid !== undefined) proc.parent_guid = parent.parent.guid;
    const raw: Record<string, unknown> = { existing: false, exec: true };
    if (entry.uid !== undefined) raw['ruid'] = entry.uid;
    if (d.image === undefined || d.cmdline === undefined) {
      // Exited (or unreadable) before /proc was read: reported with what the event carries.
      raw['proc_unreadable'] = true;
      this.ctx.counters.add('exec_unenriched');
    }
    this.emit({ type: 'process.start', time, proc, ...parent, raw });
  }

  private emit(draft: EventDraft): void {
    try {
      void this.ctx.emit(draft);
      this.ctx.counters.add(`emitted:${draft.type}`);
    } catch (err) {
      this.ctx.counters.error('send', err instanceof Error ? err.name : 'unknown');
      this.ctx.counters.discard('emit_rejected');
      if (!this.refusedTypes.has(draft.type)) {
        this.refusedTypes.add(draft.type);
        this.ctx.logger.warn({ err, type: draft.type }, 'proc-connector: emit refused');
      }
    }
  }
}
