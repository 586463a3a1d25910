import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { userInfo } from 'node:os';
import type { EventDraft } from '../../../../core/index.js';
import { plugin } from '../index.js';
import { recordingContext } from '../../../../testing/index.js';

const skip =
  process.platform !== 'linux' ? 'procfs needs Linux' : !existsSync('/proc/self/stat') ? '/proc is not mounted' : undefined;

/** Where `sleep` resolves through PATH, with symlinks followed (readlink of exe does the same). */
function sleepBinary(): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    const p = join(dir, 'sleep');
    if (dir && existsSync(p)) return realpathSync(p);
  }
  return undefined;
}

test('live /proc: a spawned sleep is seen starting and stopping', { skip }, async () => {
  const sleepPath = sleepBinary();
  assert.ok(sleepPath, 'sleep must be on PATH');
  const f = recordingContext(plugin, { config: { poll_interval_ms: 50 } });
  const sensor = plugin.create(f.ctx);
  try {
    await sensor.start();
    // This test process was already running: reported as existing, with its own identity.
    const self = f.emitted.find((d) => d.type === 'process.start' && d.proc?.pid === process.pid);
    assert.ok(self, 'the test runner itself is reported as an existing process');
    assert.equal(self.raw?.['existing'], true);
    assert.equal(self.proc?.image, realpathSync(process.execPath));

    const before = Date.now();
    const child = spawn('sleep', ['5'], { stdio: 'ignore' });
    const pid = child.pid;
    assert.ok(pid !== undefined);
    const exited = new Promise((r) => child.once('exit', r));

    // Under heavy load the fork may still be un-exec'd at two polls in a row; the sensor then
    // reports the exec as a second start (raw.exec) with the same guid. Wait for sleep's image.
    const start = await f.waitFor((d: EventDraft) => d.type === 'process.start' && d.proc?.pid === pid && d.proc.image === sleepPath);
    const proc = start.proc;
    assert.ok(proc);
    assert.equal(proc.ppid, process.pid);
    const first = f.emitted.find((d) => d.type === 'process.start' && d.proc?.pid === pid);
    assert.equal(first?.proc?.guid, proc.guid, 'every start of the child carries one identity');
    assert.equal(proc.cmdline, 'sleep 5');
    assert.equal(proc.name, 'sleep');
    assert.equal(proc.uid, process.getuid?.());
    assert.equal(proc.user, userInfo().username);
    assert.ok(typeof proc.start_time === 'number' && Math.abs(proc.start_time - before) < 30000, 'start time is this run');
    assert.equal(proc.guid, `${pid}@${proc.start_time}`);
    if (start.raw?.['exec'] !== true) assert.equal(start.time, proc.start_time);
    assert.equal(start.raw?.['existing'], false);
    assert.equal(start.parent?.pid, process.pid);
    assert.equal(start.parent?.guid, self.proc?.guid, 'the parent is linked to the known test process');
    assert.equal(proc.parent_guid, self.proc?.guid);

    child.kill('SIGKILL');
    await exited;
    const stop = await f.waitFor((d: EventDraft) => d.type === 'process.stop' && d.proc?.guid === proc.guid);
    assert.equal(stop.proc?.pid, pid);
    assert.equal(stop.proc?.image, sleepPath);
    assert.equal(stop.proc?.name, 'sleep');
    assert.equal(f.counters.errorTotal, 0, JSON.stringify(f.counters.snapshot().errors));
    assert.equal(f.finishedCalls, 0, 'a live sensor never calls finished()');
  } finally {
    await sensor.stop();
    await sensor.stop();
    await f.dispose();
  }
});

test('live /proc: aborting the signal stops polling', { skip }, async () => {
  const f = recordingContext(plugin, { config: { poll_interval_ms: 20, emit_existing: false } });
  const sensor = plugin.create(f.ctx);
  await sensor.start();
  f.abort();
  await sensor.stop();
  const polls = f.counters.snapshot().custom['polls'];
  const child = spawn('sleep', ['1'], { stdio: 'ignore' });
  await new Promise((r) => child.once('exit', r));
  assert.equal(f.counters.snapshot().custom['polls'], polls, 'no poll after abort');
  assert.equal(f.emitted.length, 0);
  await f.dispose();
});
