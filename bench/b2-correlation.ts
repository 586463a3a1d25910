/**
 * B2: correlation state at the shipped cap (`max_partial_total`, 10^6 live keys) and at
 * 5·10^6 keys, for a sequence rule and a count rule, against a plain Map peer.
 *
 * Sequence "A then B by key within 60 s": A = process.access to lsass with a read mask (one
 * per key, all live at once), B = thread.remote_create by the same proc.guid for half of the
 * keys, then the clock moves past the span so the other half expires. Peer: a plain Map
 * implementation of the same rule in the same run (Map<guid, A event>, a full sweep for
 * expiry).
 *
 * Count "≥ 5 logon failures per user within 60 s": two failures for every user (every group
 * live, short of the threshold), three more for every other user (those fire), then the
 * rest expires. Peer: Map<user, timestamp[]>, a full sweep for expiry.
 *
 * Gates, per rule and size: throughput ≥ 0.3× the peer's, bytes per live key ≤ 2× the
 * peer's (paired timed rounds), and the longest event-loop pause less the time the machine's
 * CPUs were stalled < 10 ms (one more Vigil run with the stall probe, bench/stall-probe.ts).
 * The longest pause in wall time is reported beside it, not gated: on a shared virtual
 * machine it is the machine's (bench/notes/correlation-pauses.md). The gates are printed on
 * stderr, the whole report as one JSON object on stdout; the exit code is 1 when a gate fails.
 *
 * Each measurement runs in its own process (`--child seq|count vigil|plain N`) under
 * `node --expose-gc --max-old-space-size=…`.
 *
 * Options (environment): B2_QUICK=1 a quick run at 2·10^4 and 10^5 keys, one round (proves the
 * bench runs; not the B2 figures); B2_SIZES=n,n… other key counts; B2_ROUNDS paired rounds per
 * size; B2_NOISE=1 also measures the machine's own noise first; B2_MALLOC=glibc-default leaves
 * glibc's rising mmap threshold, to compare resident sizes.
 */
import { constants as perfConstants, monitorEventLoopDelay, performance, PerformanceObserver } from 'node:perf_hooks';
import { setImmediate as yieldLoop, setTimeout as sleep } from 'node:timers/promises';
import type { VigilEvent } from '../core/events/event.js';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { overlapMs, startStallProbe, type Stalls } from './stall-probe.js';
import { CorrelationEngine, DEFAULT_SLICE_MS, VirtualClock, compileCorrelation, type CorrelationRuleDoc } from '../plugins/analyzers/correlation/index.js';
import { BlockPool, createStateStore, fixMmapThreshold } from '../plugins/analyzers/correlation/state/index.js';

/** A child measures one implementation at one size: `--child seq|count vigil|plain N`. */
const CHILD = process.argv[2] === '--child' ? process.argv.slice(3) : null;
const gc = (): void => (globalThis as { gc?: () => void }).gc?.();

const SPAN = 60_000;
const BATCH = 1000;
const T0 = 1_700_000_000_000;
const HOST = { name: 'bench' };
const LSASS = { image: 'C:\\Windows\\System32\\lsass.exe', pid: 700, guid: '{lsass}' };
/**
 * The machine-stall probe (bench/stall-probe.ts) runs in a child only when B2_STALL_PROBE=1:
 * its sentinels' wake-ups slow the sliced engine down by about a quarter on a 2-vCPU machine,
 * so the timed runs go without it and one extra Vigil run per rule and size carries it.
 */
const STALL_PROBE = process.env['B2_STALL_PROBE'] === '1';
const QUICK = process.env['B2_QUICK'] === '1';
/** The shipped cap (the correlation plugin's `max_partial_total` default) and five times it. */
const SHIPPED_CAP = 1_000_000;
const SIZES = process.env['B2_SIZES'] !== undefined ? process.env['B2_SIZES'].split(',').map(Number) : QUICK ? [20_000, 100_000] : [SHIPPED_CAP, 5 * SHIPPED_CAP];

function aEvent(i: number, t: number): VigilEvent {
  return { id: '', seq: i, type: 'process.access', time: t, received: 0, source: 'bench', host: HOST, proc: { guid: `g${i}` }, target: LSASS, access: { granted: 0x1410 } };
}
function bEvent(i: number, t: number): VigilEvent {
  return { id: '', seq: i, type: 'thread.remote_create', time: t, received: 0, source: 'bench', host: HOST, proc: { guid: `g${i}` }, target: LSASS };
}

const SEQ_RULE = {
  id: 'bench.a_then_b',
  title: 'A then B',
  severity: 'high',
  kind: 'sequence',
  maxspan: '60s',
  steps: [
    { event: ['process.access'], by: ['proc.guid'], match: { all: [{ field: 'target.image', endswith_any: ['\\lsass.exe'] }, { field: 'access.granted', mask_any: ['0x10'] }] } },
    { event: ['thread.remote_create'], by: ['proc.guid'] },
  ],
} as unknown as CorrelationRuleDoc;

const COUNT_RULE = {
  id: 'bench.count',
  title: 'failures',
  severity: 'medium',
  kind: 'count',
  event: ['logon.failure'],
  group_by: ['user.target_name'],
  timespan: '60s',
  condition: { gte: 5 },
} as unknown as CorrelationRuleDoc;

interface Impl {
  /**
   * Work on `batch` from index `from`; returns where it stopped (batch.length when done).
   * The harness yields to the event loop between calls, as the analyzer plugin does.
   */
  slice(batch: VigilEvent[], from: number): number;
  /** One bounded slice of expiry; true when caught up. */
  tick(now: number): boolean;
  live(): number;
  fired(): number;
}

/** As the agent runs it: memory blocks prepared by the plugin's BlockPool (prefault_memory: true). */
const blocks = new BlockPool({ prefault: true });

function vigilImpl(rule: CorrelationRuleDoc): Impl {
  const clock = new VirtualClock(T0);
  let fired = 0;
  const engine = new CorrelationEngine({ clock, onDetection: () => fired++, maxPartialPerRule: 1e8, maxPartialTotal: 1e8, store: createStateStore(blocks) });
  engine.load([compileCorrelation(rule, { lists: {}, macros: {} })]);
  return {
    // Slices of DEFAULT_SLICE_MS, exactly as the analyzer plugin feeds the engine.
    slice: (b, from) => {
      const last = b[b.length - 1];
      if (last !== undefined && last.time > clock.now()) clock.set(last.time);
      return engine.onEventsUntil(b, from, performance.now() + DEFAULT_SLICE_MS);
    },
    tick: (now) => {
      if (now > clock.now()) clock.set(now);
      return engine.tick();
    },
    live: () => engine.liveKeys,
    fired: () => fired,
  };
}

/** The peer: the obvious hand-written Map version of the same rule. */
function plainMapImpl(): Impl {
  const map = new Map<string, VigilEvent>();
  let fired = 0;
  return {
    slice: (b) => {
      for (const e of b) {
        if (e.type === 'process.access') {
          const img = e.target?.image;
          const g = e.access?.granted;
          const guid = e.proc?.guid;
          if (img !== undefined && img.toLowerCase().endsWith('\\lsass.exe') && g !== undefined && (g & 0x10) !== 0 && guid !== undefined) map.set(guid, e);
        } else if (e.type === 'thread.remote_create') {
          const guid = e.proc?.guid;
          const a = guid === undefined ? undefined : map.get(guid);
          if (a !== undefined && guid !== undefined && e.time - a.time <= SPAN) {
            map.delete(guid);
            if ([a, e].length === 2) fired++;
          }
        }
      }
      return b.length;
    },
    tick: (now) => {
      for (const [k, a] of map) if (a.time + SPAN < now) map.delete(k);
      return true;
    },
    live: () => map.size,
    fired: () => fired,
  };
}

function plainCountImpl(): Impl {
  const map = new Map<string, number[]>();
  let fired = 0;
  return {
    slice: (b) => {
      for (const e of b) {
        if (e.type !== 'logon.failure') continue;
        const u = e.user?.target_name;
        if (u === undefined) continue;
        let arr = map.get(u);
        if (arr === undefined) map.set(u, (arr = []));
        arr.push(e.time);
        while (arr.length > 0 && (arr[0] as number) < e.time - SPAN) arr.shift();
        if (arr.length >= 5) {
          fired++;
          map.delete(u);
        }
      }
      return b.length;
    },
    tick: (now) => {
      for (const [k, a] of map) if ((a[a.length - 1] ?? 0) + SPAN < now) map.delete(k);
      return true;
    },
    live: () => map.size,
    fired: () => fired,
  };
}

interface RunResult {
  keys: number;
  events: number;
  events_per_s: number;
  bytes_per_key: number;
  /**
   * The longest time the event loop was held while the workload ran: the longest slice, or
   * the longest stretch between two slices (collection tasks and the harness making the next
   * batch run there). The floor figure.
   */
  longest_pause_ms: number;
  /** The longest batch or expiry slice (the engine's work, and whatever ran inside it). */
  longest_slice_ms: number;
  /** The longest stretch between two slices. */
  longest_between_slices_ms: number;
  longest_expiry_slice_ms: number;
  /** The event-loop delay histogram's maximum: a cross-check of longest_pause_ms. */
  event_loop_delay_max_ms: number;
  /** Collections while the workload ran (the forced ones of the memory measurement left out). */
  gc: { scavenges: number; longest_scavenge_ms: number; mark_compacts: number; longest_mark_compact_ms: number };
  /** Batches and expiry slices: how many, the 99.9th percentile. */
  slices: number;
  p999_slice_ms: number;
  /** Slices and stretches between them of 10 ms or more. */
  pauses_over_10ms: number;
  /**
   * The longest pause once the time the machine stalled its CPU (bench/stall-probe.ts) is
   * taken out; null without the probe or when it could not pin its sentinels.
   */
  longest_pause_less_machine_stalls_ms: number | null;
  /**
   * The same with the stalls of any CPU taken out: a collection waits for its helper threads
   * wherever they run. A lower bound (a stall elsewhere need not have held the loop), where
   * longest_pause_less_machine_stalls_ms is an upper one.
   */
  longest_pause_less_any_cpu_stalls_ms: number | null;
  /** What the stall probe saw over the whole run; null without it. */
  machine_stalls: { pinned: boolean; reason: string | null; per_cpu_over_10ms: number[]; longest_per_cpu_ms: number[]; all_cpus_at_once_over_5ms: number; longest_all_cpus_at_once_ms: number } | null;
  /** The block pool's counters after the run (blocks made in place are `fallback`). */
  block_pool: ReturnType<BlockPool['counters']>;
  /** The longest pauses of 10 ms or more, with what the scheduler and the stall probe saw during them. */
  long_pauses: LongPause[];
  fired: number;
  live_after_expiry: number;
  /**
   * Memory still held once every key has ended (JS heap and ArrayBuffers over the start,
   * the pool's prepared reserve left out, as for bytes_per_key), in MB: what a burst of keys
   * leaves behind.
   */
  mb_after_expiry: number;
  /**
   * The process's resident size once every key is live and once every key has ended, in MB
   * (the whole process: runtime, code, the pool's reserve). Whether freed state memory goes
   * back to the system (plugins/analyzers/correlation/state/native-heap.ts).
   */
  rss_mb_filled: number;
  rss_mb_after_expiry: number;
}

interface ThreadTimes {
  /** ns on a CPU and ns runnable but waiting for one (/proc/thread-self/schedstat). */
  onCpu: number;
  waiting: number;
  /** Minor page faults so far (/proc/thread-self/stat). */
  faults: number;
  /** The CPU the thread last ran on. */
  cpu: number;
  /** Memory blocks taken from the pool so far. */
  taken: number;
}

/** The event-loop thread's scheduler times (Linux); null where the files are absent. */
function threadTimes(): ThreadTimes | null {
  try {
    const f = readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ');
    const st = readFileSync('/proc/thread-self/stat', 'utf8');
    const rest = st.slice(st.lastIndexOf(')') + 2).split(' ');
    return { onCpu: Number(f[0]), waiting: Number(f[1]), faults: Number(rest[7]), cpu: Number(rest[36]), taken: blocks.counters().taken };
  } catch {
    return null;
  }
}

/**
 * A pause of 10 ms or more: a slice (`batch` or `expiry`) or the stretch `between` two. Split
 * by the thread's own scheduler statistics (time on a CPU, time runnable but waiting for one)
 * and by the stall probe: how much of it the CPU the thread ran on was stalled, and how much
 * every CPU was.
 */
interface LongPause {
  kind: 'batch' | 'expiry' | 'between';
  wall_ms: number;
  /** The CPU the thread was on at the end of the pause (null off Linux). */
  cpu: number | null;
  machine_stall_ms: number | null;
  all_cpus_stalled_ms: number | null;
  /**
   * Time any CPU was stalled: a collection waits for its helper threads, wherever they run,
   * so a stall of another CPU can hold the event loop too.
   */
  any_cpu_stalled_ms: number | null;
  on_cpu_ms: number | null;
  waiting_for_cpu_ms: number | null;
  page_faults: number | null;
  /** Collection pauses inside it (forced ones left out). */
  gc_ms: number;
  blocks_taken: number | null;
  /** Events a batch slice worked through. A slice looks at the clock every 16 events. */
  events: number | null;
}

interface Pause {
  kind: LongPause['kind'];
  s: number;
  e: number;
  t0: ThreadTimes | null;
  t1: ThreadTimes | null;
  events: number | null;
}

/** Collection pauses as reported to the performance timeline, the forced ones marked. */
const gcPauses: Array<{ s: number; e: number; major: boolean; forced: boolean }> = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    const d = (e as { detail?: { kind?: number; flags?: number } }).detail;
    gcPauses.push({
      s: e.startTime,
      e: e.startTime + e.duration,
      major: ((d?.kind ?? 0) & perfConstants.NODE_PERFORMANCE_GC_MAJOR) !== 0,
      forced: ((d?.flags ?? 0) & perfConstants.NODE_PERFORMANCE_GC_FLAGS_FORCED) !== 0,
    });
  }
}).observe({ entryTypes: ['gc'] });

/** Unforced GC pause time within [s, e]. */
function gcWithin(s: number, e: number): number {
  let g = 0;
  for (const p of gcPauses) if (!p.forced && p.e > s && p.s < e) g += Math.min(e, p.e) - Math.max(s, p.s);
  return g;
}

function longPause(p: Pause, stalls: Stalls): LongPause {
  const { t0, t1 } = p;
  const cpu = t1?.cpu ?? null;
  const own = stalls.pinned && cpu !== null ? stalls.byCpu[cpu] : undefined;
  return {
    kind: p.kind,
    wall_ms: +(p.e - p.s).toFixed(2),
    cpu,
    machine_stall_ms: own === undefined ? null : +overlapMs(own, p.s, p.e).toFixed(2),
    all_cpus_stalled_ms: stalls.pinned ? +overlapMs(stalls.allCpus, p.s, p.e).toFixed(2) : null,
    any_cpu_stalled_ms: stalls.pinned ? +overlapMs(stalls.anyCpu, p.s, p.e).toFixed(2) : null,
    on_cpu_ms: t0 && t1 ? +((t1.onCpu - t0.onCpu) / 1e6).toFixed(2) : null,
    waiting_for_cpu_ms: t0 && t1 ? +((t1.waiting - t0.waiting) / 1e6).toFixed(2) : null,
    page_faults: t0 && t1 ? t1.faults - t0.faults : null,
    gc_ms: +gcWithin(p.s, p.e).toFixed(2),
    blocks_taken: t0 && t1 ? t1.taken - t0.taken : null,
    events: p.events,
  };
}

/** JS heap plus ArrayBuffer memory (state kept off the heap counts just the same), less the block pool's reserve. */
async function heap(): Promise<number> {
  // ArrayBuffer memory of collected objects is released after the collection: wait until
  // it stops falling (the warm-up run's blocks must not count as the measured run's).
  let last = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 20; i++) {
    gc();
    gc();
    const m = process.memoryUsage();
    // Blocks the pool has prepared ahead of demand are a reserve of the process (at most
    // 2 × its lead, whatever the key count), not state: they do not count.
    const reserve = blocks.counters().ready * blocks.blockBytes;
    const now = m.heapUsed + m.arrayBuffers - reserve;
    if (now >= last) return last;
    last = now;
    await sleep(20);
  }
  return last;
}

/**
 * One workload at `n` keys, in three phases: `fill` makes every key live (bytes per key are
 * measured after it), `finish` completes half of them, then the clock passes the span and the
 * rest expires through sliced expiry.
 */
interface Workload {
  fill(n: number, emit: (e: VigilEvent) => Promise<void>): Promise<void>;
  finish(n: number, emit: (e: VigilEvent) => Promise<void>): Promise<void>;
  /** Event time after which every key not finished has expired. */
  end: number;
}

/** A then B: A for every key over 30 s (all live at once), B for every other key within the span. */
const SEQ_WORKLOAD: Workload = {
  async fill(n, emit) {
    for (let i = 0; i < n; i++) await emit(aEvent(i, T0 + Math.floor((i * 30_000) / n)));
  },
  async finish(n, emit) {
    for (let i = 0; i < n; i += 2) await emit(bEvent(i, T0 + 30_000 + Math.floor((i * 20_000) / n)));
  },
  end: T0 + 30_000 + SPAN + 2_000,
};

function failure(u: number, t: number): VigilEvent {
  return { id: '', seq: 0, type: 'logon.failure', time: t, received: 0, source: 'bench', host: HOST, user: { target_name: `u${u}` } };
}

/**
 * The count rule: two failures for every user over 30 s (every group live, short of the
 * threshold of 5), then three more for every other user within the span: those fire.
 */
const COUNT_WORKLOAD: Workload = {
  async fill(n, emit) {
    for (let pass = 0; pass < 2; pass++) for (let u = 0; u < n; u++) await emit(failure(u, T0 + pass * 15_000 + Math.floor((u * 15_000) / n)));
  },
  async finish(n, emit) {
    for (let pass = 0; pass < 3; pass++) for (let u = 0; u < n; u += 2) await emit(failure(u, T0 + 30_000 + pass * 7_000 + Math.floor((u * 7_000) / n)));
  },
  end: T0 + 30_000 + SPAN + 2_000,
};

async function runWorkload(n: number, w: Workload, impl: () => Impl): Promise<RunResult> {
  const before = await heap();
  gcPauses.length = 0;
  const probe = STALL_PROBE ? await startStallProbe() : null;
  const sliceDurs: number[] = [];
  // Pauses of 5 ms or more, kept for the stall attribution; shorter ones count by their wall time.
  const candidates: Pause[] = [];
  let longestSlice = 0;
  let longestBetween = 0;
  let longestExpiry = 0;
  let over10 = 0;
  let longestShort = 0;
  const im = impl();
  // One histogram per measured phase: a histogram disabled and enabled again counts the gap
  // in between (the memory measurement) as one long delay.
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  let busy = 0;
  let events = 0;
  // The end of the last slice, null at the start of a phase: the stretch from there to the
  // next slice is a pause of its own.
  let prevEnd: number | null = null;
  let prevT: ThreadTimes | null = null;
  const note = (p: Pause): void => {
    const d = p.e - p.s;
    if (d >= 10) over10++;
    if (d >= 5) candidates.push(p);
    else longestShort = Math.max(longestShort, d);
    if (p.kind === 'between') longestBetween = Math.max(longestBetween, d);
    else {
      sliceDurs.push(d);
      longestSlice = Math.max(longestSlice, d);
      if (p.kind === 'expiry') longestExpiry = Math.max(longestExpiry, d);
    }
  };
  /** One slice: `work` returns the events it worked through (null for expiry). */
  const slice = (kind: 'batch' | 'expiry', work: () => number | null): void => {
    const t0 = threadTimes();
    const s = performance.now();
    if (prevEnd !== null) note({ kind: 'between', s: prevEnd, e: s, t0: prevT, t1: t0, events: null });
    const k = work();
    const e = performance.now();
    const t1 = threadTimes();
    note({ kind, s, e, t0, t1, events: k });
    if (kind === 'batch') busy += e - s;
    prevEnd = e;
    prevT = t1;
  };
  const batch: VigilEvent[] = [];
  const flush = async (): Promise<void> => {
    for (let i = 0; i < batch.length; ) {
      slice('batch', () => {
        const i0 = i;
        i = im.slice(batch, i);
        return i - i0;
      });
      await yieldLoop();
    }
    events += batch.length;
    batch.length = 0;
  };
  const emit = async (e: VigilEvent): Promise<void> => {
    batch.push(e);
    if (batch.length === BATCH) await flush();
  };
  await w.fill(n, emit);
  await flush();
  h.disable();
  const live = im.live();
  const after = await heap();
  const rssFilled = process.memoryUsage().rss;
  const bytesPerKey = (after - before) / live;
  const h2 = monitorEventLoopDelay({ resolution: 1 });
  h2.enable();
  prevEnd = null;
  await w.finish(n, emit);
  await flush();
  // The span passes: the keys not finished expire.
  for (let done = false; !done; ) {
    slice('expiry', () => {
      done = im.tick(w.end);
      return null;
    });
    if (!done) await yieldLoop();
  }
  h2.disable();
  await yieldLoop(); // let the GC observer deliver
  const stalls: Stalls = probe !== null ? await probe.stop() : { pinned: false, reason: 'no stall probe in this run', byCpu: [], allCpus: [], anyCpu: [] };
  const gcs = gcPauses.filter((p) => !p.forced);
  // After the workload's collections are taken (the measurement's own come after).
  const left = (await heap()) - before;
  const longest = (xs: readonly { s: number; e: number }[]): number => +Math.max(0, ...xs.map((p) => p.e - p.s)).toFixed(2);
  const long = candidates.map((p) => longPause(p, stalls));
  sliceDurs.sort((a, b) => a - b);
  return {
    keys: live,
    events,
    events_per_s: Math.round(events / (busy / 1000)),
    bytes_per_key: Math.round(bytesPerKey),
    longest_pause_ms: +Math.max(longestSlice, longestBetween).toFixed(2),
    longest_slice_ms: +longestSlice.toFixed(2),
    longest_between_slices_ms: +longestBetween.toFixed(2),
    longest_expiry_slice_ms: +longestExpiry.toFixed(2),
    event_loop_delay_max_ms: +(Math.max(h.max, h2.max) / 1e6).toFixed(2),
    gc: {
      scavenges: gcs.filter((p) => !p.major).length,
      longest_scavenge_ms: longest(gcs.filter((p) => !p.major)),
      mark_compacts: gcs.filter((p) => p.major).length,
      longest_mark_compact_ms: longest(gcs.filter((p) => p.major)),
    },
    slices: sliceDurs.length,
    p999_slice_ms: +(sliceDurs[Math.floor(sliceDurs.length * 0.999)] ?? 0).toFixed(2),
    pauses_over_10ms: over10,
    // Pauses under 5 ms count by their wall time; longer ones less their CPU's stalls.
    longest_pause_less_machine_stalls_ms: stalls.pinned ? +Math.max(longestShort, ...long.map((l) => l.wall_ms - (l.machine_stall_ms ?? 0))).toFixed(2) : null,
    longest_pause_less_any_cpu_stalls_ms: stalls.pinned ? +Math.max(longestShort, ...long.map((l) => l.wall_ms - (l.any_cpu_stalled_ms ?? 0))).toFixed(2) : null,
    machine_stalls: probe === null ? null : {
      pinned: stalls.pinned,
      reason: stalls.reason,
      per_cpu_over_10ms: stalls.byCpu.map((c) => c.filter(([a, b]) => b - a >= 10).length),
      longest_per_cpu_ms: stalls.byCpu.map((c) => +Math.max(0, ...c.map(([a, b]) => b - a)).toFixed(2)),
      all_cpus_at_once_over_5ms: stalls.allCpus.filter(([a, b]) => b - a >= 5).length,
      longest_all_cpus_at_once_ms: +Math.max(0, ...stalls.allCpus.map(([a, b]) => b - a)).toFixed(2),
    },
    long_pauses: long
      .filter((l) => l.wall_ms >= 10)
      .sort((a, b) => b.wall_ms - a.wall_ms)
      .slice(0, 12),
    block_pool: blocks.counters(),
    fired: im.fired(),
    live_after_expiry: im.live(),
    mb_after_expiry: +(left / 1e6).toFixed(1),
    rss_mb_filled: Math.round(rssFilled / 1e6),
    rss_mb_after_expiry: Math.round(process.memoryUsage().rss / 1e6),
  };
}

/**
 * The machine's own noise: slices of fixed arithmetic (about the length of a batch) for a
 * few seconds. On a shared machine the scheduler alone stretches some of them past 10 ms;
 * a pause of the engine below this longest slice cannot be told apart from the machine.
 */
async function noiseFloor(ms: number, sliceMs: number): Promise<{ slices: number; median_ms: number; longest_ms: number; slices_over_10ms: number }> {
  // Each slice spins until sliceMs has passed: whatever it overruns by is the machine's.
  const durs: number[] = [];
  const end = performance.now() + ms;
  let x = 0;
  while (performance.now() < end) {
    const s = performance.now();
    let t = s;
    while (t - s < sliceMs) {
      for (let i = 0; i < 1000; i++) x = (x * 31 + i) | 0;
      t = performance.now();
    }
    durs.push(t - s);
    await yieldLoop();
  }
  durs.sort((a, b) => a - b);
  if (x === 42) durs.push(0); // keep the loop from being optimised away
  return {
    slices: durs.length,
    median_ms: +(durs[durs.length >> 1] ?? 0).toFixed(2),
    longest_ms: +(durs[durs.length - 1] ?? 0).toFixed(2),
    slices_over_10ms: durs.filter((d) => d >= 10).length,
  };
}
if (CHILD !== null) {
  // One measurement in a fresh process: neither implementation inherits the other's heap
  // (the Map peer leaves gigabytes for the collector at 5·10^6 keys).
  const [kind, which, size] = CHILD;
  const n = Number(size);
  // As the plugin starts (return_freed_memory), for both implementations;
  // B2_MALLOC=glibc-default leaves glibc's rising threshold, to compare.
  if (process.env['B2_MALLOC'] !== 'glibc-default') await fixMmapThreshold();
  const seqImpl = which === 'vigil' ? () => vigilImpl(SEQ_RULE) : plainMapImpl;
  const countImpl = which === 'vigil' ? () => vigilImpl(COUNT_RULE) : plainCountImpl;
  const workload = kind === 'count' ? COUNT_WORKLOAD : SEQ_WORKLOAD;
  const impl = kind === 'count' ? countImpl : seqImpl;
  // Warm-up (unmeasured): the code is compiled before the measured run.
  await runWorkload(Math.min(n, 200_000), workload, impl);
  const out = await runWorkload(n, workload, impl);
  process.stdout.write(`${JSON.stringify(out)}\n`);
  process.exit(0);
}

/** Run one measurement in its own process (node --expose-gc, a heap large enough for the peer). */
function measure<T>(kind: 'seq' | 'count', which: 'vigil' | 'plain', n: number, stallProbe = false): T {
  const r = spawnSync(process.execPath, ['--expose-gc', '--max-old-space-size=12288', ...process.execArgv, fileURLToPath(import.meta.url), '--child', kind, which, String(n)], {
    encoding: 'utf8',
    maxBuffer: 1 << 24,
    env: { ...process.env, B2_STALL_PROBE: stallProbe ? '1' : '0' },
  });
  if (r.status !== 0) throw new Error(`B2 child ${kind} ${which} ${n} failed (${r.status ?? r.signal}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() as string) as T;
}

const started = performance.now();

const GROW_MB_PER_S = 100;
const GROW_MB = 1536;
// Another thread writes memory as the engine does at 5·10^6 keys (1 MiB blocks written page
// by page, 100 MB/s up to 1.5 GB, about what the count rule takes there): `grow` writes fresh
// blocks, `rewrite` the same amount of blocks it touched before the probe began. On a virtual
// machine, memory the guest has not used yet may cost the host work that stops the virtual
// CPUs, whoever touches it; the pair shows whether it does.
const WRITER = `const { parentPort, workerData } = require('node:worker_threads');
const { mb, rate, mode } = workerData;
const keep = [];
const cell = new Int32Array(new SharedArrayBuffer(4));
const block = () => { const b = Buffer.allocUnsafeSlow(1 << 20); for (let i = 0; i < b.length; i += 4096) b[i] = 1; return b; };
if (mode === 'rewrite') while (keep.length < mb) keep.push(block());
parentPort.postMessage('ready');
const t0 = Date.now();
for (let n = 0; n < mb; ) {
  for (; n < Math.min(mb, ((Date.now() - t0) / 1000) * rate); n++) {
    if (mode === 'rewrite') { const b = keep[n]; for (let i = 0; i < b.length; i += 4096) b[i] = 2; } else keep.push(block());
  }
  Atomics.wait(cell, 0, 0, 2);
}
setInterval(() => keep.length, 1000);`;
async function noiseWhileWriting(mode: 'grow' | 'rewrite'): Promise<Awaited<ReturnType<typeof noiseFloor>>> {
  const w = new Worker(WRITER, { eval: true, workerData: { mb: GROW_MB, rate: GROW_MB_PER_S, mode } });
  await new Promise((resolve) => w.once('message', resolve));
  try {
    return await noiseFloor((GROW_MB / GROW_MB_PER_S) * 1000, DEFAULT_SLICE_MS);
  } finally {
    await w.terminate();
  }
}

/**
 * B2_NOISE=1, before any state exists: what the machine adds to slices of the engine's
 * length, idle, with a second thread busy (the engine runs beside the collector's helper
 * threads and the block pool's worker), and while another thread grows or rewrites memory.
 * Not needed for the gates; it tells what the machine alone does to a pause.
 */
async function machineNoise(): Promise<Record<string, unknown>> {
  const idle = await noiseFloor(5_000, DEFAULT_SLICE_MS);
  const spinner = new Worker('let x = 0; for (;;) x = (x * 31 + 1) | 0;', { eval: true });
  const loaded = await noiseFloor(5_000, DEFAULT_SLICE_MS);
  await spinner.terminate();
  const growing = await noiseWhileWriting('grow');
  const rewriting = await noiseWhileWriting('rewrite');
  return {
    workload: `slices that spin for ${DEFAULT_SLICE_MS} ms (the engine's slice), before the runs, yielding between them, for 5 s idle, 5 s with one busy thread beside, while another thread grows memory (fresh pages) and while it rewrites memory it touched before: the longest shows what the machine adds`,
    idle,
    one_busy_thread_beside: loaded,
    memory_growing_beside: { mb_per_s: GROW_MB_PER_S, up_to_mb: GROW_MB, ...growing },
    memory_rewritten_beside: { mb_per_s: GROW_MB_PER_S, up_to_mb: GROW_MB, ...rewriting },
  };
}
const noise = process.env['B2_NOISE'] === '1' ? await machineNoise() : null;

/** Paired rounds per size (order alternating), so that a machine that speeds up or slows down between two runs does not decide the ratio. */
const roundsFor = (n: number): number => Number(process.env['B2_ROUNDS'] ?? (QUICK ? 1 : n <= 100_000 ? 7 : n <= 1_000_000 ? 3 : 1));
const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : s.length % 2 === 1 ? (s[s.length >> 1] as number) : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};
/** Rounds of one implementation: throughput and memory as medians, pauses as the worst round's. */
function summarize(rs: readonly RunResult[]): RunResult & { rounds: number; events_per_s_rounds: number[] } {
  const worst = rs.reduce((a, b) => (b.longest_pause_ms > a.longest_pause_ms ? b : a));
  return {
    ...worst,
    rounds: rs.length,
    events_per_s: Math.round(median(rs.map((r) => r.events_per_s))),
    events_per_s_rounds: rs.map((r) => r.events_per_s),
    bytes_per_key: Math.round(median(rs.map((r) => r.bytes_per_key))),
    p999_slice_ms: Math.max(...rs.map((r) => r.p999_slice_ms)),
    slices: rs.reduce((a, r) => a + r.slices, 0),
    pauses_over_10ms: rs.reduce((a, r) => a + r.pauses_over_10ms, 0),
  };
}

/** The longest pause of a Vigil run with the stall probe beside it (its throughput is not used: the probe slows it). */
interface PauseRun {
  /** Wall time: reported, not gated. */
  wall_ms: number;
  /** Less the time any CPU was stalled (a collection waits for helper threads wherever they run): the gated figure; null when the probe could not pin its sentinels. */
  less_cpu_stalls_ms: number | null;
  /** Less the stalls of the CPU the event loop ran on only (an upper bound of what was not the machine). */
  less_own_cpu_stalls_ms: number | null;
  longest_slice_ms: number;
  longest_between_slices_ms: number;
  pauses_over_10ms: number;
  gc: RunResult['gc'];
  machine_stalls: RunResult['machine_stalls'];
  long_pauses: LongPause[];
}

interface SizeResult {
  keys: number;
  vigil: ReturnType<typeof summarize>;
  plain_map: ReturnType<typeof summarize>;
  ratio: { throughput: number; throughput_rounds: number[]; bytes_per_key: number };
  pause: PauseRun;
}

/** Paired timed rounds of one rule kind at every size, then one Vigil run with the stall probe. */
function measureKind(kind: 'seq' | 'count'): SizeResult[] {
  const sizes: SizeResult[] = [];
  for (const n of SIZES) {
    const vs: RunResult[] = [];
    const ps: RunResult[] = [];
    const ratios: number[] = [];
    for (let r = 0; r < roundsFor(n); r++) {
      let v: RunResult;
      let p: RunResult;
      if (r % 2 === 0) {
        p = measure<RunResult>(kind, 'plain', n);
        v = measure<RunResult>(kind, 'vigil', n);
      } else {
        v = measure<RunResult>(kind, 'vigil', n);
        p = measure<RunResult>(kind, 'plain', n);
      }
      if (v.fired !== p.fired) throw new Error(`${kind}: fired differ at ${n}: vigil ${v.fired}, plain ${p.fired}`);
      vs.push(v);
      ps.push(p);
      ratios.push(v.events_per_s / p.events_per_s);
    }
    const probed = measure<RunResult>(kind, 'vigil', n, true);
    if (probed.fired !== vs[0]?.fired) throw new Error(`${kind}: the run with the stall probe fired ${probed.fired} at ${n}, the timed runs ${vs[0]?.fired}`);
    const vigil = summarize(vs);
    const plain = summarize(ps);
    sizes.push({
      keys: n,
      vigil,
      plain_map: plain,
      ratio: {
        throughput: +median(ratios).toFixed(3),
        throughput_rounds: ratios.map((x) => +x.toFixed(3)),
        bytes_per_key: +(vigil.bytes_per_key / plain.bytes_per_key).toFixed(3),
      },
      pause: {
        wall_ms: probed.longest_pause_ms,
        less_cpu_stalls_ms: probed.longest_pause_less_any_cpu_stalls_ms,
        less_own_cpu_stalls_ms: probed.longest_pause_less_machine_stalls_ms,
        longest_slice_ms: probed.longest_slice_ms,
        longest_between_slices_ms: probed.longest_between_slices_ms,
        pauses_over_10ms: probed.pauses_over_10ms,
        gc: probed.gc,
        machine_stalls: probed.machine_stalls,
        long_pauses: probed.long_pauses,
      },
    });
  }
  return sizes;
}
const sequence = measureKind('seq');
const count = measureKind('count');

const floors = {
  throughput_ratio_min: 0.3,
  bytes_per_key_ratio_max: 2,
  longest_pause_less_cpu_stalls_ms_max: 10,
};

interface Gate {
  rule: 'sequence' | 'count';
  keys: number;
  gate: 'throughput_ratio' | 'bytes_per_key_ratio' | 'longest_pause_less_cpu_stalls_ms';
  value: number | null;
  floor: string;
  pass: boolean;
  /** Why there is no value. */
  note?: string;
}
const gates: Gate[] = [];
for (const [rule, sizes] of [['sequence', sequence], ['count', count]] as const) {
  for (const x of sizes) {
    gates.push({ rule, keys: x.keys, gate: 'throughput_ratio', value: x.ratio.throughput, floor: `>= ${floors.throughput_ratio_min}`, pass: x.ratio.throughput >= floors.throughput_ratio_min });
    gates.push({ rule, keys: x.keys, gate: 'bytes_per_key_ratio', value: x.ratio.bytes_per_key, floor: `<= ${floors.bytes_per_key_ratio_max}`, pass: x.ratio.bytes_per_key <= floors.bytes_per_key_ratio_max });
    const p = x.pause.less_cpu_stalls_ms;
    gates.push({
      rule,
      keys: x.keys,
      gate: 'longest_pause_less_cpu_stalls_ms',
      value: p,
      floor: `< ${floors.longest_pause_less_cpu_stalls_ms_max}`,
      // Without the probe's figure there is nothing to show the floor with: not a pass.
      pass: p !== null && p < floors.longest_pause_less_cpu_stalls_ms_max,
      ...(p === null ? { note: `no stall-free figure: ${x.pause.machine_stalls?.reason ?? 'the stall probe did not run'}` } : {}),
    });
  }
}
const pass = gates.every((g) => g.pass);
const all = [...sequence, ...count];

// The gates for a reader, on stderr (stdout is the JSON report).
const fmt = (v: number | null, digits: number): string => (v === null ? '—' : v.toFixed(digits));
const lines: string[] = [
  `B2${QUICK ? ' (quick run: small key counts, not the B2 figures)' : ''}: throughput >= ${floors.throughput_ratio_min}x the Map peer, bytes per key <= ${floors.bytes_per_key_ratio_max}x the peer, longest pause less CPU stalls < ${floors.longest_pause_less_cpu_stalls_ms_max} ms (wall pause reported, not gated)`,
];
for (const [rule, sizes] of [['sequence', sequence], ['count', count]] as const) {
  for (const x of sizes) {
    const g = (name: Gate['gate']): string => (gates.find((y) => y.rule === rule && y.keys === x.keys && y.gate === name)?.pass === true ? 'pass' : 'FAIL');
    lines.push(
      `  ${rule.padEnd(8)} ${String(x.keys).padStart(8)} keys  ` +
        `throughput ${fmt(x.ratio.throughput, 2)}x (${x.vigil.events_per_s} / ${x.plain_map.events_per_s} events/s) ${g('throughput_ratio')}  ` +
        `bytes/key ${fmt(x.ratio.bytes_per_key, 2)}x (${x.vigil.bytes_per_key} / ${x.plain_map.bytes_per_key}) ${g('bytes_per_key_ratio')}  ` +
        `pause ${fmt(x.pause.wall_ms, 1)} ms wall, ${fmt(x.pause.less_cpu_stalls_ms, 1)} ms less CPU stalls ${g('longest_pause_less_cpu_stalls_ms')}`,
    );
  }
}
for (const g of gates) if (g.note !== undefined) lines.push(`  ${g.rule} ${g.keys} keys: ${g.note}`);
const failed = gates.filter((g) => !g.pass).length;
lines.push(pass ? `B2: PASS (${gates.length} gates)` : `B2: FAIL (${failed} of ${gates.length} gates)`);
process.stderr.write(`${lines.join('\n')}\n`);

const maxOf = (xs: readonly (number | null)[]): number | null => (xs.some((x) => x === null) ? null : Math.max(...(xs as number[])));
console.log(
  JSON.stringify(
    {
      bench: 'B2-correlation',
      quick: QUICK,
      run_as: `each measurement in its own process: node --expose-gc --max-old-space-size=12288 ${process.execArgv.join(' ')} (after a warm-up run in that process); heap measured after two gc() calls`,
      node: process.version,
      native_heap: process.env['B2_MALLOC'] === 'glibc-default' ? { mmap_threshold_bytes: null, reason: 'B2_MALLOC=glibc-default' } : await fixMmapThreshold(),
      workload: `batches of 1000 events, which the engine works through in slices of ${DEFAULT_SLICE_MS} ms as the analyzer plugin does (the Map peer takes a batch at once); each measurement in a fresh process after an unmeasured warm-up run of the same workload (up to 2e5 keys); per size, paired timed rounds in alternating order (${SIZES.map((n) => `${roundsFor(n)} at ${n}`).join(', ')}; B2_ROUNDS overrides): throughput and bytes are medians, the throughput ratio is the median of the rounds' ratios; then one Vigil run with the stall probe beside it for the pause`,
      sequence: { rule: 'A then B by proc.guid within 60 s; A for every key over 30 s (all live), B for every other key, the rest expires', peer: 'Map<guid, A event>, one full sweep for expiry', sizes: sequence },
      count_rule: { rule: '>= 5 logon.failure per user within 60 s; 2 failures for every user over 30 s (all groups live), 3 more for every other user (they fire), the rest expires', peer: 'Map<user, timestamp[]>, one full sweep for expiry', sizes: count },
      ...(noise !== null ? { machine_noise: noise } : {}),
      floors,
      gates,
      ratio: {
        throughput: +Math.min(...all.map((x) => x.ratio.throughput)).toFixed(3),
        bytes_per_key: +Math.max(...all.map((x) => x.ratio.bytes_per_key)).toFixed(3),
      },
      worst: {
        throughput_ratio: Math.min(...all.map((x) => x.ratio.throughput)),
        bytes_per_key_ratio: Math.max(...all.map((x) => x.ratio.bytes_per_key)),
        longest_pause_wall_ms: Math.max(...all.map((x) => x.pause.wall_ms)),
        longest_pause_less_cpu_stalls_ms: maxOf(all.map((x) => x.pause.less_cpu_stalls_ms)),
        longest_pause_less_own_cpu_stalls_ms: maxOf(all.map((x) => x.pause.less_own_cpu_stalls_ms)),
      },
      pass,
      pause_note:
        'pause: the longest time the event loop was held while the workload ran, a slice (garbage collection inside it included) or the stretch between two slices (collection tasks, the harness making the next batch), measured in one more Vigil run per rule and size with the machine-stall probe beside it (pinned sentinel threads, bench/stall-probe.ts; it slows the engine, so that run is not timed). wall_ms is wall time (reported, not gated); less_cpu_stalls_ms takes out of every pause of 5 ms or more the time any CPU was stalled (collections wait for helper threads on other CPUs), the gated figure; less_own_cpu_stalls_ms only the stalls of the CPU the loop ran on. long_pauses split pauses of 10 ms or more by the thread\'s scheduler statistics, the stall probe and collection time',
      seconds: +((performance.now() - started) / 1000).toFixed(1),
    },
    null,
    2,
  ),
);
process.exitCode = pass ? 0 : 1;
