/**
 * The procfs polling sensor: every poll lists the numeric directories of proc_root and diffs
 * them against the previous scan, keyed by pid AND start time so that a reused pid is seen as
 * a new process. What happens between two polls is invisible (see README).
 */
import { readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { EventDraft, ProcessInfo, SensorContext, SensorInstance } from '../../../core/index.js';
import { probeBpf, SHIPPED_BPF_OBJECT } from '../../../driver/ffi/linux/bpf-probe.js';
import { probeProcConnector } from '../../../driver/ffi/linux/proc-connector-probe.js';
import { fallbackList, type ProcfsConfig } from './config.js';
import { mapLimit } from './map-limit.js';
import {
  DEFAULT_CLOCK_TICKS,
  PF_KTHREAD,
  parseBootTime,
  parseCmdline,
  parseStat,
  parseStatusUids,
  processGuid,
  readClockTicks,
  ticksToEpochMs,
  UserNames,
  type ProcStat,
} from '../../../lib/procfs/index.js';

export { DEFAULT_CLOCK_TICKS, readClockTicks };

/** Knobs that are not operator configuration (tests use them to avoid host dependencies). */
export interface ProcfsSensorOptions {
  /** Clock ticks per second; read once from `getconf CLK_TCK` when absent (fallback 100). */
  readonly clockTicks?: number;
  /** The passwd file used to resolve uid → user name (default `/etc/passwd`). */
  readonly passwdPath?: string;
}

/** What the sensor remembers about a live process between polls. */
interface Entry {
  readonly pid: number;
  readonly ppid: number;
  readonly startTicks: number;
  readonly startTime: number;
  readonly guid: string;
  /** comm; updated when the process renames itself or execs. */
  name: string;
  image: string | undefined;
  /** process.stop already emitted (the process is a zombie awaiting its reaper). */
  stopped: boolean;
}

/** Result of reading one /proc/<pid>/stat. `unknown`: unreadable for another reason than exit. */
type StatRead = { kind: 'ok'; stat: ProcStat } | { kind: 'gone' } | { kind: 'unknown' };

interface Fresh {
  stat: ProcStat;
  entry: Entry;
  details: Details;
}

interface Details {
  image: string | undefined;
  cmdline: string | undefined;
  cwd: string | undefined;
  uid: number | undefined;
}

/** Reads of one process's files run 4 at a time, so this bounds in-flight fs calls to ~32. */
const STAT_CONCURRENCY = 32;
const DESCRIBE_CONCURRENCY = 8;
const FAILED_POLLS_BEFORE_FAIL = 10;

function errCode(err: unknown): string {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code;
  return err instanceof Error ? err.name : 'unknown';
}

function isVanished(code: string): boolean {
  return code === 'ENOENT' || code === 'ESRCH';
}

export class ProcfsSensor implements SensorInstance {
  private table = new Map<number, Entry>();
  private readonly refusedTypes = new Set<string>();
  /** New processes that looked pre-exec at the last poll, looked at once more before reporting. */
  private held = new Map<number, Fresh>();
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private started = false;
  private stopped = false;
  private baseline = true;
  private bootTimeSec = 0;
  private clockTicks = DEFAULT_CLOCK_TICKS;
  private usersLoaded = false;
  private readonly users: UserNames;
  /** proc_root resolved against the config file's folder. */
  private readonly root: string;
  private failedPolls = 0;

  constructor(
    private readonly ctx: SensorContext,
    private readonly config: ProcfsConfig,
    private readonly options: ProcfsSensorOptions = {},
  ) {
    this.users = new UserNames(options.passwdPath ?? '/etc/passwd');
    this.root = ctx.resolvePath(config.proc_root);
  }

  async start(): Promise<void> {
    if (this.started || this.stopped) return;
    this.started = true;
    const { ctx } = this;
    if (ctx.signal.aborted) {
      this.stopped = true;
      return;
    }
    const onAbort = (): void => {
      void this.stop();
    };
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    ctx.defer(() => ctx.signal.removeEventListener('abort', onAbort));

    const chain = fallbackList(this.config.fallback_for);
    if (chain.length > 0) {
      const why: string[] = [];
      for (const source of chain) {
        const missing = source === 'ebpf' ? await probeBpf(SHIPPED_BPF_OBJECT) : await probeProcConnector();
        if (missing === undefined) {
          ctx.counters.set('standby', 1);
          ctx.counters.set(`standby_for:${source}`, 1);
          const skipped = why.length === 0 ? '' : ` (${why.join('; ')})`;
          ctx.logger.info(`procfs: standing by: the ${source} sensor can run here and is the live process source${skipped} (fallback_for: ${chain.join(', ')})`);
          return;
        }
        // `fallback_reason:<kind>` names eBPF's reason (as before); the connector's is qualified.
        ctx.counters.set(source === 'ebpf' ? `fallback_reason:${missing.kind}` : `fallback_reason:${source}:${missing.kind}`, 1);
        why.push(`${source}: ${missing.reason}`);
      }
      ctx.counters.set('standby', 0);
      const names = chain.join(' and ');
      ctx.logger.warn({ reasons: why }, `procfs: polling /proc as the fallback for ${names}, which cannot run here: ${why.join('; ')}`);
    }

    const statPath = join(this.root, 'stat');
    let statText: string;
    try {
      statText = await readFile(statPath, 'utf8');
    } catch (err) {
      throw new Error(`procfs: cannot read ${statPath} (${errCode(err)}); is proc_root a mounted proc file system?`, {
        cause: err,
      });
    }
    const bootTime = parseBootTime(statText);
    if (bootTime === undefined) throw new Error(`procfs: ${statPath} has no "btime" line; cannot date process starts`);
    this.bootTimeSec = bootTime;

    const ticks = this.options.clockTicks ?? (await readClockTicks(ctx.signal));
    if (ticks === undefined) ctx.logger.debug('getconf CLK_TCK unavailable; assuming 100');
    this.clockTicks = ticks ?? DEFAULT_CLOCK_TICKS;
    ctx.counters.set('clock_ticks', this.clockTicks);

    try {
      await this.users.load();
      this.usersLoaded = true;
    } catch (err) {
      // Without passwd the sensor still reports uids; only `user` stays unset.
      ctx.counters.error('start', `passwd:${errCode(err)}`);
      ctx.logger.warn({ err }, 'procfs: cannot read the passwd file; user names stay unresolved');
    }
    if (this.stopped) return;

    // The first scan is the baseline; awaiting it makes "existing" well defined.
    this.inFlight = this.runPoll();
    await this.inFlight;
    this.inFlight = undefined;
    if (this.stopped) return;

    const timer = setInterval(() => this.tick(), this.config.poll_interval_ms);
    ctx.defer(() => clearInterval(timer));
    this.timer = timer;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
    // runPoll never rejects; waiting lets an in-flight scan finish its reads (it emits nothing now).
    if (this.inFlight) await this.inFlight;
  }

  private tick(): void {
    if (this.stopped) return;
    if (this.inFlight) {
      this.ctx.counters.add('poll_overrun');
      return;
    }
    this.inFlight = this.runPoll().finally(() => {
      this.inFlight = undefined;
    });
  }

  private async runPoll(): Promise<void> {
    try {
      await this.pollOnce();
      this.failedPolls = 0;
    } catch (err) {
      this.ctx.counters.error('receive', `poll:${errCode(err)}`);
      this.ctx.logger.warn({ err }, 'procfs: poll failed');
      // One failed scan is transient; a run of them means the source is gone: let the core
      // restart the plugin (with backoff) rather than spin on errors.
      if (++this.failedPolls === FAILED_POLLS_BEFORE_FAIL && !this.stopped) {
        this.ctx.fail(new Error(`procfs: ${this.failedPolls} consecutive polls of ${this.root} failed`, { cause: err }));
      }
    }
  }

  private async pollOnce(): Promise<void> {
    const { counters } = this.ctx;
    const names = await readdir(this.root);
    const pids: number[] = [];
    for (const n of names) if (/^\d+$/.test(n)) pids.push(Number(n));
    pids.sort((a, b) => a - b);

    let inspect = pids;
    let skipped: number[] = [];
    if (pids.length > this.config.max_processes_per_poll) {
      inspect = pids.slice(0, this.config.max_processes_per_poll);
      skipped = pids.slice(this.config.max_processes_per_poll);
      counters.discard('process_limit', skipped.length);
    }

    const reads = await mapLimit(inspect, STAT_CONCURRENCY, (pid) => this.readStatOf(pid));
    if (this.stopped) return;

    const prevTable = this.table;
    const next = new Map<number, Entry>();
    const fresh: ProcStat[] = [];
    const zombieStops: Entry[] = [];
    const renamed: { entry: Entry; stat: ProcStat }[] = [];
    const unknownPids = new Set<number>();
    for (let i = 0; i < inspect.length; i++) {
      const pid = inspect[i] as number;
      const r = reads[i];
      const prev = prevTable.get(pid);
      if (r === undefined || r.kind === 'gone') continue;
      if (r.kind === 'unknown') {
        // Not proof of exit: keep what we knew rather than report a false stop.
        unknownPids.add(pid);
        if (prev) next.set(pid, prev);
        continue;
      }
      if (prev && prev.startTicks === r.stat.startTicks) {
        next.set(pid, prev);
        if (isDead(r.stat)) {
          if (!prev.stopped) zombieStops.push(prev);
        } else if (r.stat.comm !== prev.name) {
          // exec (or a rename) keeps pid and start time; comm is the cheap tell.
          renamed.push({ entry: prev, stat: r.stat });
        }
      } else {
        fresh.push(r.stat);
      }
    }
    // Directories beyond the limit were not looked at: carry them over unchanged.
    for (const pid of skipped) {
      const prev = prevTable.get(pid);
      if (prev) next.set(pid, prev);
      if (this.held.has(pid)) unknownPids.add(pid);
    }

    const emitStarts = !this.baseline || this.config.emit_existing;
    const described = await mapLimit(fresh, DESCRIBE_CONCURRENCY, async (stat) => ({
      stat,
      details: await this.describe(stat, emitStarts),
    }));
    const reDescribed = await mapLimit(renamed, DESCRIBE_CONCURRENCY, async (x) => ({
      ...x,
      details: await this.describe(x.stat, true),
    }));
    if (this.stopped) return;

    // Oldest first, so a parent new in this scan is announced before its children.
    described.sort((a, b) => a.stat.startTicks - b.stat.startTicks || a.stat.pid - b.stat.pid);
    const freshEntries: Fresh[] = [];
    const heldNow = new Map<number, Fresh>();
    const heldBefore = this.held;
    for (const { stat: s, details: d } of described) {
      const entry = this.newEntry(s, d);
      const f: Fresh = { stat: s, entry, details: d };
      const wasHeld = heldBefore.get(s.pid)?.stat.startTicks === s.startTicks;
      if (wasHeld) heldBefore.delete(s.pid);
      else if (!this.baseline && this.looksPreExec(s, d, next)) {
        // Caught between fork and exec: it still shows the parent's image. Look again next
        // poll rather than report the parent's image for the child.
        heldNow.set(s.pid, f);
        counters.add('held_for_exec');
        continue;
      }
      next.set(s.pid, entry);
      freshEntries.push(f);
    }
    // Held last poll and not seen again as the same process: report what was seen then.
    const flushed: { fresh: Fresh; ended: boolean }[] = [];
    for (const [pid, f] of heldBefore) {
      const ended = !unknownPids.has(pid);
      if (!ended) next.set(pid, f.entry);
      flushed.push({ fresh: f, ended });
    }
    this.held = heldNow;

    if (emitStarts) await this.resolveUsers([...freshEntries, ...reDescribed, ...flushed.map((x) => x.fresh)].map((f) => f.details));
    if (this.stopped) return;

    // Stops first: a reused pid reads as "old one ended, new one began".
    const now = Date.now();
    let transitions = 0;
    for (const [pid, prev] of prevTable) {
      if (next.get(pid) === prev || prev.stopped) continue;
      this.emitStop(prev, now);
      transitions++;
    }
    for (const e of zombieStops) {
      e.stopped = true;
      this.emitStop(e, now);
      transitions++;
    }
    for (const { fresh: f, ended } of flushed) {
      this.emitStart(f.stat, f.entry, f.details, next, { existing: false, state: f.stat.state }, f.entry.startTime);
      transitions++;
      if (ended) {
        f.entry.stopped = true;
        this.emitStop(f.entry, now);
        transitions++;
      }
    }
    for (const f of freshEntries) {
      if (emitStarts) {
        this.emitStart(f.stat, f.entry, f.details, next, { existing: this.baseline, state: f.stat.state }, f.entry.startTime);
        transitions++;
      }
      if (isDead(f.stat)) {
        // Seen only as a zombie: it has already exited.
        f.entry.stopped = true;
        if (emitStarts) {
          this.emitStop(f.entry, now);
          transitions++;
        }
      }
    }
    for (const { entry, stat, details } of reDescribed) {
      entry.name = stat.comm;
      if (details.image === undefined || details.image === entry.image) {
        counters.add('renamed');
        continue;
      }
      // A new program image in the same process: report it as a start of that image.
      entry.image = details.image;
      counters.add('exec_detected');
      this.emitStart(stat, entry, details, next, { existing: false, exec: true, state: stat.state }, now);
      transitions++;
    }

    this.table = next;
    this.baseline = false;
    counters.received += transitions;
    counters.add('polls');
    counters.set('processes', next.size);
  }

  private newEntry(s: ProcStat, d: Details): Entry {
    const startTime = ticksToEpochMs(s.startTicks, this.bootTimeSec, this.clockTicks);
    return {
      pid: s.pid,
      ppid: s.ppid,
      startTicks: s.startTicks,
      startTime,
      guid: processGuid(s.pid, startTime),
      name: s.comm,
      image: d.image,
      stopped: false,
    };
  }

  /** Same name and image as its (known) parent: most likely forked and not yet exec'd. */
  private looksPreExec(s: ProcStat, d: Details, table: Map<number, Entry>): boolean {
    if (isDead(s) || d.image === undefined) return false;
    const p = table.get(s.ppid);
    return p !== undefined && p.image === d.image && p.name === s.comm;
  }

  private async readStatOf(pid: number): Promise<StatRead> {
    const path = join(this.root, String(pid), 'stat');
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      const code = errCode(err);
      if (isVanished(code)) {
        this.ctx.counters.add('vanished');
        return { kind: 'gone' };
      }
      this.ctx.counters.error('receive', `read:${code}`);
      return { kind: 'unknown' };
    }
    try {
      const stat = parseStat(text, path);
      if (stat.pid !== pid) throw new Error(`${path}: pid field ${stat.pid} does not match the directory`);
      return { kind: 'ok', stat };
    } catch (err) {
      this.ctx.counters.error('receive', 'parse:stat');
      this.ctx.counters.discard('parse_error');
      this.ctx.logger.debug({ err }, 'procfs: unparsable stat');
      return { kind: 'unknown' };
    }
  }

  /** Read exe, cmdline, cwd and uid. `full` false: only what a later stop event needs. */
  private async describe(s: ProcStat, full: boolean): Promise<Details> {
    const dir = join(this.root, String(s.pid));
    const dead = isDead(s);
    const kthread = (s.flags & PF_KTHREAD) !== 0;
    let vanished = false;
    const quiet = async <T>(op: () => Promise<T>, unreadable: string | undefined): Promise<T | undefined> => {
      try {
        return await op();
      } catch (err) {
        const code = errCode(err);
        if (unreadable !== undefined && (code === 'EACCES' || code === 'ENOENT' || code === 'EPERM')) {
          this.ctx.counters.add(unreadable);
        } else if (isVanished(code)) {
          vanished = true;
        } else {
          this.ctx.counters.error('receive', `read:${code}`);
        }
        return undefined;
      }
    };
    // Zombies and kernel threads have no executable: reading exe would only fail.
    const [image, cmdline, cwd, status] = await Promise.all([
      dead || kthread ? undefined : quiet(() => readlink(join(dir, 'exe')), 'exe_unreadable'),
      !full ? undefined : dead ? '' : quiet(async () => parseCmdline(await readFile(join(dir, 'cmdline'))), undefined),
      !full || dead ? undefined : quiet(() => readlink(join(dir, 'cwd')), 'cwd_unreadable'),
      !full ? undefined : quiet(() => readFile(join(dir, 'status'), 'utf8'), undefined),
    ]);
    if (vanished) this.ctx.counters.add('vanished');
    const uids = status === undefined ? undefined : parseStatusUids(status);
    return { image, cmdline, cwd, uid: uids?.euid };
  }

  /** Re-read passwd (only if it changed) when some uid has no name. */
  private async resolveUsers(all: readonly Details[]): Promise<void> {
    if (!this.usersLoaded) return;
    const unknown = all.some((d) => d.uid !== undefined && this.users.lookup(d.uid) === undefined);
    if (!unknown) return;
    try {
      if (await this.users.refreshIfChanged()) this.ctx.counters.add('passwd_reloads');
    } catch (err) {
      this.ctx.counters.error('receive', `passwd:${errCode(err)}`);
    }
  }

  private emitStart(
    s: ProcStat,
    e: Entry,
    d: Details,
    table: Map<number, Entry>,
    raw: Readonly<Record<string, unknown>>,
    time: number,
  ): void {
    const proc: ProcessInfo = { pid: e.pid, ppid: e.ppid, guid: e.guid, start_time: e.startTime, name: e.name };
    if (e.image !== undefined) proc.image = e.image;
    if (d.cmdline !== undefined) proc.cmdline = d.cmdline;
    if (d.cwd !== undefined) proc.cwd = d.cwd;
    if (d.uid !== undefined) {
      proc.uid = d.uid;
      const user = this.users.lookup(d.uid);
      if (user !== undefined) proc.user = user;
    }
    const draft: EventDraft = { type: 'process.start', time, proc, raw };
    if (e.ppid > 0) {
      const parent: ProcessInfo = { pid: e.ppid };
      const p = table.get(e.ppid);
      // A parent that started after its child is a reused pid, not the parent.
      if (p && p.startTicks <= e.startTicks) {
        parent.guid = p.guid;
        parent.name = p.name;
        if (p.image !== undefined) parent.image = p.image;
        proc.parent_guid = p.guid;
      }
      draft.parent = parent;
    }
    this.emit(draft);
  }

  private emitStop(e: Entry, now: number): void {
    const proc: ProcessInfo = { pid: e.pid, ppid: e.ppid, guid: e.guid, start_time: e.startTime, name: e.name };
    if (e.image !== undefined) proc.image = e.image;
    this.emit({ type: 'process.stop', time: now, proc });
  }

  private emit(draft: EventDraft): void {
    try {
      // Live delivery: the core drops and counts when its queue is full; nothing to await.
      void this.ctx.emit(draft);
    } catch (err) {
      this.ctx.counters.error('send', errCode(err));
      this.ctx.counters.discard('emit_rejected');
      // Once per type: a refusal repeats for every event of that type.
      if (!this.refusedTypes.has(draft.type)) {
        this.refusedTypes.add(draft.type);
        this.ctx.logger.warn({ err, type: draft.type }, 'procfs: emit refused');
      }
    }
  }
}

/** Z (zombie) or X (dead): the process has exited, its directory only awaits reaping. */
function isDead(s: ProcStat): boolean {
  return s.state === 'Z' || s.state === 'X';
}
