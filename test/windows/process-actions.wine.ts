/**
 * Runs under Wine's node.exe (scripts/wine/harness.mjs; launched by wine.test.ts): the
 * process-actions responder's Windows implementation, unchanged, against real Windows
 * processes (mingw-built sleeper.exe and its trees).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import type { ActionRequest, ProcessInfo } from '../../core/index.js';
import { PROCESS_QUERY_LIMITED_INFORMATION, bindWinProcess, filetimeToEpochMs, type WinProcessApi, type WinResult } from '../../driver/ffi/windows/process.js';
import { KILL_EXIT_CODE, plugin } from '../../plugins/responders/process-actions/index.js';
import { SLEEPER, sleeper, until } from './support.js';
import { actionRequest, startResponder } from '../../plugins/responders/process-actions/test/harness.js';

const api: WinProcessApi = await bindWinProcess();

function ok<T>(r: WinResult<T>): T {
  if (!r.ok) assert.fail(`${r.call} failed with ${r.error}`);
  return r.value;
}

/** Creation time in ms, read through a query-only handle of the test's own. */
function startTime(pid: number): number {
  const h = ok(api.open(pid, PROCESS_QUERY_LIMITED_INFORMATION));
  try {
    return filetimeToEpochMs(ok(api.creationTime(h)));
  } finally {
    api.close(h);
  }
}
const identity = (pid: number): ProcessInfo => ({ pid, start_time: startTime(pid), image: SLEEPER });

/** A sleeper whose second thread has started (so its suspend counts are [0, 0]). */
async function twoThreads(...args: number[]) {
  const c = await sleeper(...args);
  await until(() => ok(api.threads(c.pid)).length === 2, 'two threads');
  return c;
}

/** Still running, as a fresh handle sees it. */
function running(pid: number): boolean {
  const h = api.open(pid, PROCESS_QUERY_LIMITED_INFORMATION);
  if (!h.ok) return false;
  try {
    return ok(api.exitCode(h.value)) === 259;
  } finally {
    api.close(h.value);
  }
}
const suspendCounts = (pid: number) => ok(api.threads(pid)).map((t) => ok(api.threadSuspendCount(t.tid)));
const exitCode = (c: ChildProcess) => new Promise<number | null>((r) => (c.exitCode !== null ? r(c.exitCode) : c.once('exit', (code) => r(code))));

const request = (action: string, target: ProcessInfo | undefined, dryRun = false): ActionRequest => actionRequest(action, target, dryRun, SLEEPER);
const responder = () => startResponder(plugin);

test('the responder runs its Windows implementation here', () => {
  assert.equal(process.platform, 'win32');
  assert.ok(plugin.manifest.platforms.includes('win32'));
});

test('kill: TerminateProcess through the checked handle, done only once the exit is seen', async () => {
  const r = await responder();
  const c = await sleeper(120);
  const id = identity(c.pid);
  const res = await r.run(request('kill', id));
  assert.deepEqual([res.status, res.outcome], ['done', 'done'], res.reason);
  assert.match(res.reason!, /exit confirmed/);
  assert.equal(res.details!['exit_code'], KILL_EXIT_CODE);
  assert.equal(await exitCode(c), KILL_EXIT_CODE);
  const again = await r.run(request('kill', id));
  assert.equal(again.outcome, 'not_found', again.reason);
  await r.close();
});

test('a wrong creation time (the pid reused since the detection) leaves the process untouched', async () => {
  const r = await responder();
  const c = await twoThreads(120);
  const res = await r.run(request('kill', { pid: c.pid, start_time: startTime(c.pid) - 60_000, image: SLEEPER }));
  assert.deepEqual([res.status, res.outcome], ['skipped', 'identity_mismatch']);
  assert.match(res.reason!, /now names another process .*not touched/);
  const s = await r.run(request('suspend', { pid: c.pid, start_time: startTime(c.pid) + 5, image: SLEEPER }));
  assert.equal(s.outcome, 'identity_mismatch');
  assert.ok(running(c.pid));
  assert.deepEqual(suspendCounts(c.pid), [0, 0], 'not suspended either');
  await r.close();
});

test('a different image with the right creation time is refused; case and separators do not matter', async () => {
  const r = await responder();
  const c = await sleeper(120);
  const res = await r.run(request('kill', { ...identity(c.pid), image: 'C:\\Windows\\System32\\notepad.exe' }));
  assert.equal(res.outcome, 'identity_mismatch');
  assert.match(res.reason!, /not C:\\Windows\\System32\\notepad\.exe; not touched/);
  assert.ok(running(c.pid));
  const same = await r.run(request('kill', { ...identity(c.pid), image: SLEEPER.toUpperCase().replaceAll('\\', '/') }, true));
  assert.equal(same.outcome, 'would_have', same.reason);
  await r.close();
});

test('a pid with its low two bits set is refused, not rounded down to a live process', async () => {
  const r = await responder();
  const c = await sleeper(120);
  const res = await r.run(request('kill', { ...identity(c.pid), pid: c.pid + 2 }));
  assert.equal(res.outcome, 'no_identity');
  assert.match(res.reason!, new RegExp(`not a multiple of 4; Windows would open pid ${c.pid}`));
  assert.ok(running(c.pid));
  await r.close();
});

test('monitor (dry_run): nothing is touched, the result says what would have happened', async () => {
  const r = await responder();
  const c = await twoThreads(120);
  const res = await r.run(request('kill_tree', identity(c.pid), true));
  assert.equal(res.outcome, 'would_have', res.reason);
  assert.match(res.reason!, new RegExp(`^would have: kill_tree pid ${c.pid} \\(sleeper\\.exe\\)$`));
  assert.ok(running(c.pid));
  assert.deepEqual(suspendCounts(c.pid), [0, 0]);
  await r.close();
});

test('the agent itself is protected', async () => {
  const r = await responder();
  const res = await r.run(request('kill', { pid: process.pid, start_time: startTime(process.pid) }));
  assert.equal(res.outcome, 'protected', res.reason);
  await r.close();
});

test('suspend: NtSuspendProcess, done once every thread is seen suspended; resume: every thread back to 0', async () => {
  const r = await responder();
  const c = await twoThreads(120);
  const id = identity(c.pid);
  const s = await r.run(request('suspend', id));
  assert.deepEqual([s.status, s.outcome], ['done', 'done'], s.reason);
  assert.equal(s.details!['threads'], 2);
  assert.deepEqual(suspendCounts(c.pid), [1, 1]);
  const u = await r.run(request('resume', id));
  assert.deepEqual([u.status, u.outcome], ['done', 'done'], u.reason);
  assert.deepEqual(suspendCounts(c.pid), [0, 0]);
  assert.ok(running(c.pid));
  await r.close();
});

test('resume of a process suspended twice is not reported done while it stays suspended', async () => {
  const r = await responder();
  const c = await twoThreads(120);
  const id = identity(c.pid);
  assert.equal((await r.run(request('suspend', id))).outcome, 'done');
  assert.equal((await r.run(request('suspend', id))).outcome, 'done');
  assert.deepEqual(suspendCounts(c.pid), [2, 2]);
  const u = await r.run(request('resume', id));
  assert.equal(u.outcome, 'failed');
  assert.match(u.reason!, /still suspended .*suspended more than once/);
  assert.equal((await r.run(request('resume', id))).outcome, 'done');
  await r.close();
});

test('kill_tree: root and two generations suspended, then killed bottom-up, every exit confirmed', async () => {
  const r = await responder();
  const root = await sleeper(120, 2, 2); // root → 2 children → 2 grandchildren each
  const parents = (): Map<number, number> => {
    const all = ok(api.processes());
    const out = new Map<number, number>([[root.pid, 0]]);
    for (let grew = true; grew; ) {
      grew = false;
      for (const p of all) {
        if (out.has(p.pid) || !out.has(p.ppid)) continue;
        out.set(p.pid, p.ppid);
        grew = true;
      }
    }
    return out;
  };
  await until(() => parents().size === 7, 'a tree of 7 processes');
  const tree = parents();
  const res = await r.run(request('kill_tree', identity(root.pid)));
  assert.deepEqual([res.status, res.outcome], ['done', 'done'], res.reason);
  const killed = (res.details!['killed'] as Array<{ pid: number }>).map((k) => k.pid);
  assert.deepEqual([...killed].sort((a, b) => a - b), [...tree.keys()].sort((a, b) => a - b));
  assert.equal(killed[killed.length - 1], root.pid, 'the root is killed last');
  for (const [pid, ppid] of tree) if (ppid !== 0) assert.ok(killed.indexOf(pid) < killed.indexOf(ppid), `pid ${pid} is killed before its parent ${ppid}`);
  const before = [...tree.keys()];
  for (const p of before) assert.equal(running(p), false, `pid ${p} is gone`);
  assert.equal(await exitCode(root), KILL_EXIT_CODE);
  await r.close();
});
