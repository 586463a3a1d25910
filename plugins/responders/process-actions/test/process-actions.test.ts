import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ActionRequest, ProcessInfo } from '../../../../core/index.js';
import { instantiate, recordingContext } from '../../../../testing/index.js';
import { bindPidfd } from '../../../../driver/ffi/linux/pidfd.js';
import { plugin, processActionsPlugin } from '../index.js';
import { actionRequest, startResponder } from './harness.js';

const unavailable = await (process.platform !== 'linux'
  ? Promise.resolve('process actions are Linux only')
  : bindPidfd().then(
      () => false as const,
      (err: unknown) => `pidfd is not usable here: ${String(err)}`,
    ));

const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

const clockTicks = process.platform === 'linux' ? Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) : 100;
const bootSec = process.platform === 'linux' ? Number(/^btime\s+(\d+)/m.exec(readFileSync('/proc/stat', 'utf8'))![1]) : 0;

/** Fields of /proc/<pid>/stat after the comm: [state, ppid, …]; undefined once the process is gone. */
function stat(pid: number): string[] | undefined {
  try {
    const t = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return t.slice(t.lastIndexOf(')') + 2).split(' ');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
const state = (pid: number) => stat(pid)?.[0];
/** Alive and not stopped: running, sleeping or in disk wait (a child just spawned may still be running). */
const untouched = (pid: number) => ['R', 'S', 'D'].includes(state(pid) ?? '');
/** Start time as the procfs sensor stamps it: boot time + field 22 ticks, in ms. */
const startTime = (pid: number) => bootSec * 1000 + Math.round((Number(stat(pid)![19]) * 1000) / clockTicks);
const identity = (pid: number): ProcessInfo => ({ pid, start_time: startTime(pid), image: '/usr/bin/sleep' });

async function sleeper(): Promise<ChildProcess & { pid: number }> {
  const c = spawn('sleep', ['300'], { stdio: 'ignore' });
  children.push(c);
  await new Promise((resolve, reject) => c.once('spawn', resolve).once('error', reject));
  return c as ChildProcess & { pid: number };
}
const exited = (c: ChildProcess) => new Promise<string | null>((r) => (c.exitCode !== null || c.signalCode !== null ? r(c.signalCode) : c.once('exit', (_code, sig) => r(sig))));

const request = (action: string, target: ProcessInfo | undefined, dryRun = false): ActionRequest => actionRequest(action, target, dryRun, '/usr/bin/sleep');
const responder = (config: object = {}) => startResponder(plugin, config);

const skip = unavailable || false;

test('monitor (dry_run): nothing is touched, the result says what would have happened', { skip }, async () => {
  const r = await responder();
  const c = await sleeper();
  const res = await r.run(request('kill', identity(c.pid), true));
  assert.equal(res.outcome, 'would_have');
  assert.equal(res.status, 'skipped');
  assert.match(res.reason!, new RegExp(`^would have: kill pid ${c.pid} \\(sleep\\)$`));
  assert.ok(untouched(c.pid), 'still alive, not stopped');
  await r.close();
});

test('kill: the process is killed and its exit confirmed before done is reported', { skip }, async () => {
  const r = await responder();
  const c = await sleeper();
  const res = await r.run(request('kill', identity(c.pid)));
  assert.deepEqual([res.status, res.outcome], ['done', 'done']);
  assert.match(res.reason!, /exit confirmed/);
  assert.ok(['Z', undefined].includes(state(c.pid)), 'gone (a zombie until this process reaps it)');
  assert.equal(await exited(c), 'SIGKILL');
  const again = await r.run(request('kill', { pid: c.pid, start_time: res.details!['start_time'] as number }));
  assert.equal(again.outcome, 'not_found', 'a pid that no longer exists is not_found');
  await r.close();
});

test('suspend stops the process (state T), resume runs it again', { skip }, async () => {
  const r = await responder();
  const c = await sleeper();
  const id = identity(c.pid);
  const s = await r.run(request('suspend', id));
  assert.deepEqual([s.status, s.outcome], ['done', 'done'], s.reason);
  assert.equal(state(c.pid), 'T');
  const u = await r.run(request('resume', id));
  assert.deepEqual([u.status, u.outcome], ['done', 'done'], u.reason);
  assert.notEqual(state(c.pid), 'T');
  c.kill('SIGKILL');
  await exited(c);
  await r.close();
});

test('kill_tree: the parent and its children are suspended, then killed bottom-up', { skip }, async () => {
  const r = await responder();
  const sh = spawn('sh', ['-c', 'sleep 300 & sleep 300 & wait'], { stdio: 'ignore' });
  children.push(sh);
  await new Promise((resolve) => sh.once('spawn', resolve));
  const kids = (): number[] =>
    readdirSync('/proc')
      .filter((n) => /^\d+$/.test(n))
      .map(Number)
      .filter((p) => stat(p)?.[1] === String(sh.pid) && readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'sleep');
  while (kids().length < 2) await new Promise((res) => setTimeout(res, 10));
  const before = kids();
  const res = await r.run(request('kill_tree', identity(sh.pid!)));
  assert.deepEqual([res.status, res.outcome], ['done', 'done'], res.reason);
  const killed = (res.details!['killed'] as Array<{ pid: number }>).map((k) => k.pid);
  assert.equal(killed.length, 3);
  assert.equal(killed[killed.length - 1], sh.pid, 'the parent is killed last');
  assert.deepEqual(killed.slice(0, 2).sort(), [...before].sort());
  for (const p of [...before, sh.pid!]) assert.ok(['Z', undefined].includes(state(p)), `pid ${p} is gone`);
  assert.equal(await exited(sh), 'SIGKILL');
  await r.close();
});

test('a pid reused between detection and action (a wrong start time for a live pid) is not signalled', { skip }, async () => {
  const r = await responder();
  const c = await sleeper();
  const res = await r.run(request('kill', { pid: c.pid, start_time: startTime(c.pid) - 60_000 }));
  assert.deepEqual([res.status, res.outcome], ['skipped', 'identity_mismatch']);
  assert.match(res.reason!, /now names another process .*not signalled/);
  assert.ok(untouched(c.pid), 'untouched');
  const suspend = await r.run(request('suspend', { pid: c.pid, guid: `${c.pid}@${startTime(c.pid) + 5000}` }));
  assert.equal(suspend.outcome, 'identity_mismatch', 'a pid@start guid is checked the same way');
  assert.ok(untouched(c.pid));
  c.kill('SIGKILL');
  await exited(c);
  await r.close();
});

test('protected processes (this test runner, pid 1) are never touched; no identity is refused with the reason', { skip }, async () => {
  const r = await responder();
  const self = await r.run(request('kill', { pid: process.pid, start_time: startTime(process.pid) }));
  assert.equal(self.outcome, 'protected');
  assert.match(self.reason!, /the agent or one of its ancestors/);
  const init = await r.run(request('suspend', { pid: 1, start_time: startTime(1) }));
  assert.equal(init.outcome, 'protected');
  assert.notEqual(state(1), 'T');
  const c = await sleeper();
  const none = await r.run(request('kill', { pid: c.pid, image: '/usr/bin/sleep' }));
  assert.deepEqual([none.status, none.outcome], ['skipped', 'no_identity']);
  assert.match(none.reason!, /^no target identity: process actions need pid \+ start time/);
  const absent = await r.run(request('kill', undefined));
  assert.equal(absent.outcome, 'no_identity');
  assert.ok(untouched(c.pid));
  c.kill('SIGKILL');
  await exited(c);
  await r.close();
});

test('a pid that does not exist is not_found, not an error', { skip }, async () => {
  const r = await responder();
  const res = await r.run(request('kill', { pid: 4_194_305, start_time: Date.now() }));
  assert.deepEqual([res.status, res.outcome], ['skipped', 'not_found']);
  await r.close();
});

test('a /proc read that fails in a way no outcome covers is a failed result with the reason, counted, never a lost request', { skip }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'vigil-procact-'));
  writeFileSync(join(root, 'stat'), `cpu 0 0 0 0\nbtime ${bootSec}\n`);
  const c = await sleeper();
  writeFileSync(join(root, String(c.pid)), 'not a folder');
  const p = processActionsPlugin({ procRoot: root });
  const rec = recordingContext(p, {});
  const inst = instantiate(p, rec);
  await inst.start();
  await inst.onActions!([request('kill', identity(c.pid))]);
  assert.deepEqual(rec.results.map((r) => [r.status, r.outcome]), [['failed', 'failed']]);
  assert.match(rec.results[0]!.reason!, /^kill failed: ENOTDIR/);
  assert.equal(rec.counters.snapshot().errors['process:ENOTDIR'], 1);
  assert.ok(untouched(c.pid), 'nothing signalled without the identity check');
  await inst.stop();
  await rec.dispose();
  c.kill('SIGKILL');
  await exited(c);
});
