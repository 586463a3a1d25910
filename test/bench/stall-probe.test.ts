import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { intersect, overlapMs, startStallProbe, union } from '../../bench/stall-probe.js';

test('stall intervals: overlap, stalls of every CPU at once, stalls of any CPU', () => {
  const cpu0 = [[0, 10], [20, 30], [50, 60]] as const;
  const cpu1 = [[5, 25], [55, 70]] as const;
  assert.deepEqual(intersect(cpu0, cpu1), [[5, 10], [20, 25], [55, 60]]);
  assert.deepEqual(union([...cpu0, ...cpu1]), [[0, 30], [50, 70]]);
  assert.equal(overlapMs(cpu0, 8, 25), 2 + 5, 'the parts of two stalls inside [8, 25]');
  assert.equal(overlapMs(cpu0, 30, 50), 0, 'touching ends do not count');
  assert.equal(overlapMs([], 0, 100), 0);
});

const taskset = spawnSync('taskset', ['--version']).status === 0;
test(
  'the probe pins one sentinel per CPU and reports stalls inside its run',
  { skip: existsSync('/proc/thread-self') && taskset ? false : 'needs /proc/thread-self and taskset (Linux)' },
  async () => {
    const t0 = performance.now();
    const probe = await startStallProbe();
    // Hold the event loop for 30 ms: the sentinels are other threads and keep waking.
    const until = performance.now() + 30;
    while (performance.now() < until);
    await sleep(20);
    const stalls = await probe.stop();
    const t1 = performance.now();
    assert.equal(stalls.pinned, true, stalls.reason ?? '');
    assert.equal(stalls.byCpu.length, Math.min(8, availableParallelism()));
    for (const list of [...stalls.byCpu, stalls.allCpus, stalls.anyCpu]) {
      for (const [s, e] of list) {
        assert.ok(s < e, `an interval ends after it starts: ${s}, ${e}`);
        assert.ok(s >= t0 - 1 && e <= t1 + 1, `inside the probe's run: ${s}..${e} vs ${t0}..${t1}`);
      }
    }
  },
);
