import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EventDraft } from '../../../../core/index.js';
import { createProcfsSensor, plugin } from '../index.js';
import { recordingContext } from '../../../../testing/index.js';
import { FAKE_BTIME, FakeProcTree, type FakeProc } from './fake-proc-tree.js';

const ms = (ticks: number): number => FAKE_BTIME * 1000 + ticks * 10;

const INIT: FakeProc = { pid: 1, comm: 'init', ppid: 0, startTicks: 1, exe: '/sbin/init', cwd: '/', argv: ['/sbin/init'] };
const WEIRD: FakeProc = {
  pid: 100,
  comm: 'a) (b',
  ppid: 1,
  startTicks: 500,
  exe: '/usr/bin/weird',
  cwd: '/home/alice',
  argv: ['weird', '--flag', 'x y'],
  uid: 1000,
};
const KTHREAD: FakeProc = { pid: 2, comm: 'kthreadd', ppid: 0, startTicks: 2, flags: 2129984 };
const NO_EXE: FakeProc = { pid: 300, comm: 'secret', ppid: 1, startTicks: 700, cwd: '/', argv: ['secret'] };

function passwdFile(tree: FakeProcTree): string {
  // Inside the tree: a non-numeric entry the sensor must ignore anyway.
  const path = join(tree.root, 'passwd');
  writeFileSync(path, 'root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n');
  return path;
}

const isStart = (pid: number, guid?: string) => (d: EventDraft) =>
  d.type === 'process.start' && d.proc?.pid === pid && (guid === undefined || d.proc.guid === guid);
const isStop = (guid: string) => (d: EventDraft) => d.type === 'process.stop' && d.proc?.guid === guid;

test('fake tree: existing processes, comm with ") (", pid reuse, exit, zombie, bad stat', async () => {
  const tree = new FakeProcTree();
  for (const p of [INIT, KTHREAD, WEIRD, NO_EXE]) tree.add(p);
  tree.writeRawStat(600, 'this is not a stat line');
  const f = recordingContext(plugin, { config: { proc_root: tree.root, poll_interval_ms: 20 } });
  const sensor = createProcfsSensor(f.ctx, { clockTicks: 100, passwdPath: passwdFile(tree) });
  try {
    await sensor.start();
    // The baseline scan is done when start resolves.
    const starts = f.emitted.filter((d) => d.type === 'process.start');
    assert.deepEqual(starts.map((d) => d.proc?.pid), [1, 2, 100, 300], 'oldest first, non-numeric and bad entries skipped');
    assert.ok(starts.every((d) => d.raw?.['existing'] === true));

    const weird = starts.find((d) => d.proc?.pid === 100);
    assert.ok(weird);
    assert.equal(weird.time, ms(500), 'a start event carries the process start time');
    assert.deepEqual(weird.proc, {
      pid: 100,
      ppid: 1,
      guid: `100@${ms(500)}`,
      start_time: ms(500),
      name: 'a) (b',
      image: '/usr/bin/weird',
      cmdline: 'weird --flag x y',
      cwd: '/home/alice',
      uid: 1000,
      user: 'alice',
      parent_guid: `1@${ms(1)}`,
    });
    assert.deepEqual(weird.parent, { pid: 1, guid: `1@${ms(1)}`, name: 'init', image: '/sbin/init' });

    const kthread = starts.find((d) => d.proc?.pid === 2);
    assert.equal(kthread?.proc?.image, undefined);
    assert.equal(kthread?.proc?.cmdline, '');
    assert.equal(kthread?.parent, undefined, 'ppid 0 has no parent');

    const noExe = starts.find((d) => d.proc?.pid === 300);
    assert.equal(noExe?.proc?.image, undefined);
    const snap = f.counters.snapshot();
    assert.equal(snap.custom['exe_unreadable'], 1, 'only the user process without exe counts, not the kernel thread');
    assert.equal(snap.discarded['parse_error']?.count, 1);
    assert.equal(snap.errors['receive:parse:stat'], 1);

    // pid 100 reused by another program: stop of the old identity, start of the new one.
    const reused: FakeProc = { ...WEIRD, comm: 'other', startTicks: 900, exe: '/usr/bin/other', argv: ['other'], uid: 0 };
    tree.replace(reused);
    const stop = await f.waitFor(isStop(`100@${ms(500)}`));
    assert.deepEqual(stop.proc, { pid: 100, ppid: 1, guid: `100@${ms(500)}`, start_time: ms(500), name: 'a) (b', image: '/usr/bin/weird' });
    const restart = await f.waitFor(isStart(100, `100@${ms(900)}`));
    assert.equal(restart.raw?.['existing'], false);
    assert.equal(restart.proc?.image, '/usr/bin/other');
    assert.equal(restart.proc?.user, 'root');
    assert.ok(f.emitted.indexOf(stop) < f.emitted.indexOf(restart), 'stop of the old process comes first');

    // The same stat rewritten with the same start time is the same process: no event.
    // A child of the new pid 100 links to the new identity, not the old one.
    tree.add({ pid: 101, comm: 'child', ppid: 100, startTicks: 950, exe: '/bin/sh', cwd: '/', argv: ['sh', '-c', 'x'] });
    const child = await f.waitFor(isStart(101));
    assert.equal(child.parent?.guid, `100@${ms(900)}`);
    assert.equal(child.parent?.image, '/usr/bin/other');

    // A plain exit.
    tree.remove(300);
    const gone = await f.waitFor(isStop(`300@${ms(700)}`));
    assert.ok(gone.time >= Date.now() - 60000, 'stop time is detection time');
    assert.equal(gone.proc?.image, undefined);

    // Becoming a zombie ends the process once; reaping it later reports nothing more.
    tree.rewriteStat({ pid: 101, comm: 'child', ppid: 100, startTicks: 950, state: 'Z' });
    await f.waitFor(isStop(`101@${ms(950)}`));
    tree.remove(101);
    // A marker process proves later polls ran after the reap.
    tree.add({ pid: 102, comm: 'marker', ppid: 1, startTicks: 990, exe: '/bin/true', cwd: '/' });
    await f.waitFor(isStart(102));
    tree.add({ pid: 103, comm: 'marker2', ppid: 1, startTicks: 991, exe: '/bin/true', cwd: '/' });
    await f.waitFor(isStart(103));
    assert.equal(f.emitted.filter(isStop(`101@${ms(950)}`)).length, 1);
    const starts100 = f.emitted.filter((d) => d.type === 'process.start' && d.proc?.pid === 100);
    assert.equal(starts100.length, 2, 'unchanged processes are not reported again');
    assert.equal(f.finishedCalls, 0, 'a live sensor never calls finished()');
  } finally {
    await sensor.stop();
    await f.dispose();
    tree.cleanup();
  }
});

test('fake tree: a fork not yet exec\'d is looked at twice, and a later exec is reported', async () => {
  const tree = new FakeProcTree();
  tree.add(INIT);
  const f = recordingContext(plugin, { config: { proc_root: tree.root, poll_interval_ms: 20 } });
  const sensor = createProcfsSensor(f.ctx, { clockTicks: 100, passwdPath: passwdFile(tree) });
  try {
    await sensor.start();
    const forked: FakeProc = { pid: 150, comm: 'init', ppid: 1, startTicks: 800, exe: '/sbin/init', cwd: '/', argv: ['/sbin/init'] };
    tree.add(forked);
    const start = await f.waitFor(isStart(150));
    assert.ok((f.counters.snapshot().custom['held_for_exec'] ?? 0) >= 1, 'a copy of its parent is held one poll');
    assert.equal(start.proc?.image, '/sbin/init', 'a fork that never execs is still reported');
    assert.equal(start.time, ms(800));

    tree.exec({ ...forked, comm: 'getty', exe: '/sbin/getty', argv: ['/sbin/getty', 'tty1'] });
    const exec = await f.waitFor((d) => d.type === 'process.start' && d.raw?.['exec'] === true);
    assert.equal(exec.proc?.guid, `150@${ms(800)}`, 'exec keeps the process identity');
    assert.equal(exec.proc?.image, '/sbin/getty');
    assert.equal(exec.proc?.name, 'getty');
    assert.equal(exec.proc?.cmdline, '/sbin/getty tty1');
    assert.equal(exec.parent?.guid, `1@${ms(1)}`);
    assert.equal(f.counters.snapshot().custom['exec_detected'], 1);

    tree.remove(150);
    const stop = await f.waitFor(isStop(`150@${ms(800)}`));
    assert.equal(stop.proc?.image, '/sbin/getty', 'the stop names the image it ended with');
  } finally {
    await sensor.stop();
    await f.dispose();
    tree.cleanup();
  }
});

test('fake tree: emit_existing false reports only what starts later', async () => {
  const tree = new FakeProcTree();
  tree.add(INIT);
  tree.add(WEIRD);
  const f = recordingContext(plugin, { config: { proc_root: tree.root, poll_interval_ms: 20, emit_existing: false } });
  const sensor = createProcfsSensor(f.ctx, { clockTicks: 100, passwdPath: passwdFile(tree) });
  try {
    await sensor.start();
    assert.equal(f.emitted.length, 0);
    tree.add({ pid: 200, comm: 'new', ppid: 100, startTicks: 800, exe: '/bin/new', cwd: '/', argv: ['new'] });
    const start = await f.waitFor(isStart(200));
    assert.equal(start.raw?.['existing'], false);
    assert.equal(start.parent?.guid, `100@${ms(500)}`, 'a silently known parent still links');
    assert.equal(start.parent?.image, '/usr/bin/weird');
    tree.remove(100);
    const stop = await f.waitFor(isStop(`100@${ms(500)}`));
    assert.equal(stop.proc?.image, '/usr/bin/weird', 'stop of a silently known process still has its image');
  } finally {
    await sensor.stop();
    await f.dispose();
    tree.cleanup();
  }
});

test('fake tree: processes past max_processes_per_poll are counted, not reported as stopped', async () => {
  const tree = new FakeProcTree();
  for (const p of [INIT, KTHREAD, WEIRD, NO_EXE]) tree.add(p);
  const f = recordingContext(plugin, { config: { proc_root: tree.root, poll_interval_ms: 20, max_processes_per_poll: 2 } });
  const sensor = createProcfsSensor(f.ctx, { clockTicks: 100, passwdPath: passwdFile(tree) });
  try {
    await sensor.start();
    assert.deepEqual(f.emitted.map((d) => d.proc?.pid), [1, 2]);
    assert.equal(f.counters.snapshot().discarded['process_limit']?.count, 2);
    tree.remove(2);
    // pid 100 moves into the window once pid 2 is gone.
    await f.waitFor(isStart(100));
    assert.equal(f.emitted.filter((d) => d.type === 'process.stop').map((d) => d.proc?.pid).join(), '2');
  } finally {
    await sensor.stop();
    await f.dispose();
    tree.cleanup();
  }
});

test('fake tree: a poll still running when the timer fires is counted as an overrun', async (t) => {
  const tree = new FakeProcTree();
  tree.add(INIT);
  const f = recordingContext(plugin, { config: { proc_root: tree.root, poll_interval_ms: 20 } });
  const sensor = createProcfsSensor(f.ctx, { clockTicks: 100, passwdPath: passwdFile(tree) });
  try {
    await sensor.start();
    // A FIFO as stat blocks the read until something writes to it.
    const dir = join(tree.root, '700');
    mkdirSync(dir);
    try {
      execFileSync('mkfifo', [join(dir, 'stat')]);
    } catch {
      t.skip('mkfifo is not available');
      return;
    }
    const deadline = Date.now() + 10000;
    while ((f.counters.snapshot().custom['poll_overrun'] ?? 0) === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok((f.counters.snapshot().custom['poll_overrun'] ?? 0) > 0, 'ticks during a blocked poll are counted');
    const stopping = sensor.stop();
    // Release the blocked read; stop() resolves only after the in-flight poll ends.
    writeFileSync(join(dir, 'stat'), `700 (late) S 1 700 700 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 999 0 0 0\n`);
    await stopping;
    assert.equal(f.emitted.some((d) => d.proc?.pid === 700), false, 'nothing is emitted once stop began');
  } finally {
    await sensor.stop();
    await f.dispose();
    tree.cleanup();
  }
});

test('start fails clearly when proc_root has no btime; stop is safe without start and twice', async () => {
  const tree = new FakeProcTree();
  writeFileSync(join(tree.root, 'stat'), 'cpu 1 2 3\n');
  const f = recordingContext(plugin, { config: { proc_root: tree.root } });
  try {
    await assert.rejects(createProcfsSensor(f.ctx, { clockTicks: 100 }).start(), /stat has no "btime" line/);
    const missing = recordingContext(plugin, { config: { proc_root: join(tree.root, 'nope') } });
    await assert.rejects(plugin.create(missing.ctx).start(), /cannot read .*nope\/stat \(ENOENT\)/);

    const g = recordingContext(plugin, { config: { proc_root: tree.root } });
    const idle = plugin.create(g.ctx);
    await idle.stop();
    await idle.stop();
    await idle.start(); // after stop: does nothing
    assert.equal(g.emitted.length, 0);
    assert.equal(g.disposers.length, 0, 'nothing was acquired');
    assert.throws(() => plugin.create(recordingContext(plugin, { config: { poll_interval_ms: 1 } }).ctx), /poll_interval_ms/);
  } finally {
    await f.dispose();
    tree.cleanup();
  }
});
