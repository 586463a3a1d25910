/**
 * Memory blocks: what paging in fresh memory costs the event loop, with the correlation
 * state's BlockPool (blocks prepared by a helper thread) against in-place allocation
 * (PLAIN_BLOCKS).
 *
 * Workload: a store that grows the way the correlation engine's does at 5·10^6 keys — records
 * of 220 bytes written into 1 MiB blocks, in batches of 1,000 with about 2 µs of other work
 * per record, yielding between batches. Reported per source: batch time median, p99, p99.9,
 * longest, batches over 10 ms. Each source runs in its own process (fresh address space).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { setImmediate as yieldLoop } from 'node:timers/promises';
import { BlockPool, PLAIN_BLOCKS, type BlockSource } from '../plugins/analyzers/correlation/state/index.js';

const RECORDS = Number(process.env['MB_RECORDS'] ?? 5_000_000);
const RECORD_BYTES = 220;
const BATCH = 1000;

interface Result {
  batches: number;
  median_ms: number;
  p99_ms: number;
  p999_ms: number;
  longest_ms: number;
  batches_over_10ms: number;
}

async function run(source: BlockSource): Promise<Result> {
  const kept: Buffer[] = [];
  const record = Buffer.alloc(RECORD_BYTES, 7);
  let cur: Buffer | null = null;
  let off = 0;
  let x = 0;
  const durs: number[] = [];
  for (let i = 0; i < RECORDS; i += BATCH) {
    const s = performance.now();
    for (let j = 0; j < BATCH; j++) {
      if (cur === null || off + RECORD_BYTES > cur.length) {
        cur = source.take();
        kept.push(cur);
        off = 0;
      }
      record.copy(cur, off);
      off += RECORD_BYTES;
      for (let k = 0; k < 300; k++) x = (x * 31 + k) | 0; // the rest of the engine's work
    }
    durs.push(performance.now() - s);
    await yieldLoop();
  }
  if (x === 42) durs.push(0);
  durs.sort((a, b) => a - b);
  const q = (p: number): number => +(durs[Math.min(durs.length - 1, Math.floor(durs.length * p))] ?? 0).toFixed(2);
  return { batches: durs.length, median_ms: q(0.5), p99_ms: q(0.99), p999_ms: q(0.999), longest_ms: q(1), batches_over_10ms: durs.filter((d) => d >= 10).length };
}

const child = process.argv[2] === '--child' ? process.argv[3] : undefined;
if (child !== undefined) {
  const pool = child === 'pool' ? new BlockPool({ prefault: true }) : null;
  const res = await run(pool ?? PLAIN_BLOCKS);
  process.stdout.write(`${JSON.stringify({ ...res, ...(pool ? { pool: pool.counters() } : {}) })}\n`);
  await pool?.close();
  process.exit(0);
}

function measure(which: 'pool' | 'plain'): Result {
  const r = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--child', which], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`memory-blocks child ${which} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() as string) as Result;
}

const started = performance.now();
const plain = measure('plain');
const pool = measure('pool');
console.log(
  JSON.stringify(
    {
      bench: 'memory-blocks',
      node: process.version,
      workload: `${RECORDS} records of ${RECORD_BYTES} B into 1 MiB blocks, batches of ${BATCH} with ~2 µs of other work per record; each source in its own process`,
      block_pool: pool,
      in_place: plain,
      ratio: +(plain.median_ms / Math.max(pool.median_ms, 0.001)).toFixed(3),
      ratio_note: 'median batch time in place / with the BlockPool (> 1: the pool is faster)',
      seconds: +((performance.now() - started) / 1000).toFixed(1),
    },
    null,
    2,
  ),
);
