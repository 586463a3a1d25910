import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, statSync, writeSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { plugin, type ReplayConfig } from '../index.js';
import { recordingContext } from '../../../../testing/index.js';

const MIB = 1 << 20;

/**
 * Good lines around one line of `hugeBytes` (newline not counted) that is otherwise a valid
 * event, written a MiB at a time so that the test itself never holds the line.
 */
function writeFileWithHugeLine(file: string, goodBefore: string[], goodAfter: string[], hugeBytes = 60 * MIB): void {
  const fd = openSync(file, 'w');
  try {
    writeSync(fd, goodBefore.map((l) => l + '\n').join(''));
    const head = '{"type":"process.start","time":5000,"proc":{"pid":9,"cmdline":"';
    const tail = '"}}';
    writeSync(fd, head);
    const block = Buffer.alloc(MIB, 'A');
    let left = hugeBytes - head.length - tail.length;
    while (left > 0) {
      const n = Math.min(left, MIB);
      writeSync(fd, block, 0, n);
      left -= n;
    }
    writeSync(fd, tail + '\n');
    writeSync(fd, goodAfter.map((l) => l + '\n').join(''));
  } finally {
    closeSync(fd);
  }
}

const line = (time: number, pid: number): string => JSON.stringify({ type: 'process.start', time, proc: { pid, image: `/bin/p${pid}` } });

test('JSONL: a 60 MB line is refused and counted as line_too_long; the lines after it are still read', { timeout: 60_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-replay-huge-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'huge.jsonl');
  writeFileWithHugeLine(file, [line(1000, 1), line(2000, 2)], [line(6000, 3), line(7000, 4)]);
  assert.ok(statSync(file).size > 60 * MIB - 10);

  const config: ReplayConfig = { paths: [file], formats: ['jsonl'], merge_by_time: false, max_line_bytes: MIB };
  const ctx = recordingContext(plugin, { config, logLevel: 'debug' });
  const sensor = plugin.create(ctx.ctx);
  await sensor.start();
  await ctx.whenFinished;
  await sensor.stop();

  assert.deepEqual(ctx.emitted.map((d) => (d as { proc?: { pid?: number } }).proc?.pid), [1, 2, 3, 4]);
  const snap = ctx.counters.snapshot();
  assert.deepEqual(snap.discarded['line_too_long'], { count: 1, intended: false });
  assert.equal(snap.custom['records'], 5, 'the refused line is a record read (received = emitted + discarded)');
  const warned = ctx.logs.filter((l) => l.level === 40 && /max_line_bytes/.test(l.msg));
  assert.equal(warned.length, 1);
  assert.match(warned[0]!.msg, /huge\.jsonl \(line 3\): line longer than max_line_bytes \(1048576\); skipped/);
  assert.deepEqual(ctx.failures, []);
});

test('JSONL: max_line_bytes is configurable', { timeout: 20_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-replay-limit-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'small.jsonl');
  writeFileWithHugeLine(file, [line(1000, 1)], [line(3000, 2)], 4096);
  const config: ReplayConfig = { paths: [file], formats: ['jsonl'], merge_by_time: false, max_line_bytes: 4096 };
  const ctx = recordingContext(plugin, { config, logLevel: 'debug' });
  const sensor = plugin.create(ctx.ctx);
  await sensor.start();
  await ctx.whenFinished;
  await sensor.stop();
  // Exactly at the limit (the newline not counted): delivered.
  assert.deepEqual(ctx.emitted.map((d) => (d as { proc?: { pid?: number } }).proc?.pid), [1, 9, 2]);

  const tight = recordingContext(plugin, { config: { ...config, max_line_bytes: 4095 }, logLevel: 'debug' });
  const s2 = plugin.create(tight.ctx);
  await s2.start();
  await tight.whenFinished;
  await s2.stop();
  assert.deepEqual(tight.emitted.map((d) => (d as { proc?: { pid?: number } }).proc?.pid), [1, 2]);
  assert.equal(tight.counters.snapshot().discarded['line_too_long']?.count, 1);
});
