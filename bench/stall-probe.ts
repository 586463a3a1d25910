/**
 * Machine-stall probe for the latency benchmarks: tells a pause of the code under test from a
 * stretch in which the machine ran nothing of this guest's.
 *
 * One sentinel thread per CPU, pinned to it (`taskset`), sleeps 1 ms at a time and records
 * every wake-up that came more than 1 ms late, as an interval on the monotonic clock. A woken
 * sentinel preempts a running thread within about a millisecond (the scheduler's wake-up
 * preemption), so a sentinel that wakes 20 ms late means its CPU ran nothing for those 20 ms
 * that the scheduler could interrupt: the virtual CPU itself was not running, or the kernel
 * held it in a path that does not reschedule. A pause of the event loop that overlaps such a
 * stall on the CPU the loop ran on was the machine's for that overlap.
 *
 * Linux only (`/proc/thread-self`, `taskset`); elsewhere the probe reports itself unpinned
 * and attributes nothing. The sentinels cost about a thousand short wake-ups per second per
 * CPU.
 */
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';

/** Stalls as [start, end] in `performance.now()` milliseconds. */
export type Interval = readonly [number, number];

export interface Stalls {
  /** False when the sentinels could not be pinned: nothing is attributed then. */
  pinned: boolean;
  /** Why not pinned (null when pinned). */
  reason: string | null;
  /** Per CPU, its stalls in time order. */
  byCpu: Interval[][];
  /** Stretches in which every CPU was stalled at once. */
  allCpus: Interval[];
  /** Stretches in which at least one CPU was stalled. */
  anyCpu: Interval[];
}

export interface StallProbe {
  /** Ends the sentinels (they keep the process alive until then) and returns what they saw. */
  stop(): Promise<Stalls>;
}

/** A sentinel wakes every 1 ms; a wake-up later than this (ms since the last) is recorded. */
const LATE_MS = 2;

const SENTINEL = `
const { parentPort, workerData } = require('node:worker_threads');
const { readlinkSync } = require('node:fs');
let tid = null;
try { tid = readlinkSync('/proc/thread-self').split('/').pop(); } catch {}
parentPort.postMessage({ tid });
const cell = new Int32Array(new SharedArrayBuffer(4));
const stop = new Int32Array(workerData.stop);
const late = [];
const now = () => Number(process.hrtime.bigint()) / 1e6;
let last = now();
while (Atomics.load(stop, 0) === 0) {
  Atomics.wait(cell, 0, 0, 1);
  const t = now();
  // The stall is the time past the intended 1 ms sleep.
  if (t - last > ${LATE_MS}) late.push(last + 1, t);
  last = t;
}
parentPort.postMessage({ late });
`;

/** Start one pinned sentinel per CPU (at most 8). */
export async function startStallProbe(): Promise<StallProbe> {
  const cpus = Math.min(8, availableParallelism());
  const stop = new SharedArrayBuffer(4);
  // hrtime and performance.now() run on the same monotonic clock, apart by a fixed offset.
  const offset = Number(process.hrtime.bigint()) / 1e6 - performance.now();
  let reason: string | null = null;
  const sentinels = await Promise.all(
    Array.from({ length: cpus }, async (_, cpu) => {
      // Referenced (its 'message' listener would re-reference it anyway): stop() ends it.
      const w = new Worker(SENTINEL, { eval: true, workerData: { stop } });
      const done = new Promise<number[]>((resolve, reject) => {
        w.on('message', (m: { late?: number[] }) => {
          if (m.late !== undefined) resolve(m.late);
        });
        w.once('error', reject);
      });
      const { tid } = await new Promise<{ tid: string | null }>((resolve) => w.once('message', resolve));
      if (tid === null) reason = 'no /proc/thread-self';
      else if (reason === null) {
        const r = spawnSync('taskset', ['-pc', String(cpu), tid], { encoding: 'utf8' });
        if (r.error !== undefined || r.status !== 0) reason = `taskset: ${r.error?.message ?? r.stderr.trim()}`;
      }
      // Wrapped: an async function returning the promise itself would wait for it.
      return { done };
    }),
  );
  return {
    async stop(): Promise<Stalls> {
      Atomics.store(new Int32Array(stop), 0, 1);
      const raw = await Promise.all(sentinels.map((x) => x.done));
      const byCpu = raw.map((late) => {
        const out: Interval[] = [];
        for (let i = 0; i + 1 < late.length; i += 2) out.push([(late[i] as number) - offset, (late[i + 1] as number) - offset]);
        return out;
      });
      return { pinned: reason === null, reason, byCpu, allCpus: byCpu.reduce((a, b) => intersect(a, b)), anyCpu: union(byCpu.flat()) };
    },
  };
}

/** Intersection of two sorted, non-overlapping interval lists. */
export function intersect(a: readonly Interval[], b: readonly Interval[]): Interval[] {
  const out: Interval[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a[i] as Interval;
    const y = b[j] as Interval;
    const s = Math.max(x[0], y[0]);
    const e = Math.min(x[1], y[1]);
    if (s < e) out.push([s, e]);
    if (x[1] < y[1]) i++;
    else j++;
  }
  return out;
}

/** Union of intervals, merged and in time order. */
export function union(xs: readonly Interval[]): Interval[] {
  const sorted = [...xs].sort((a, b) => a[0] - b[0]);
  const out: Array<[number, number]> = [];
  for (const [s, e] of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && s <= last[1]) last[1] = Math.max(last[1], e);
    else out.push([s, e]);
  }
  return out;
}

/** Milliseconds of [s, e] covered by `stalls` (sorted). */
export function overlapMs(stalls: readonly Interval[], s: number, e: number): number {
  let total = 0;
  for (const [a, b] of stalls) {
    if (a >= e) break;
    if (b > s) total += Math.min(b, e) - Math.max(a, s);
  }
  return total;
}
