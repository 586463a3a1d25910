/**
 * Runs under Wine's node.exe (scripts/wine/harness.mjs; launched by wine.test.ts): the
 * kernel32 / ntdll process bindings against real Windows processes, and the koffi struct
 * layouts against a mingw-compiled probe.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { windowsKoffi, MAX_ASYNC_CALLS } from '../../driver/ffi/windows/koffi.js';
import { LAYOUTS, STILL_ACTIVE, bindWinProcess, checkLayouts, filetimeToEpochMs, windowsStructTypes, type Handle, type WinResult } from '../../driver/ffi/windows/process.js';
import { normalizeImage } from '../../plugins/responders/process-actions/windows.js';
import { LAYOUT, SLEEPER, sleeper, until } from './support.js';

function ok<T>(r: WinResult<T>): T {
  if (!r.ok) assert.fail(`${r.call} failed with ${r.error}`);
  return r.value;
}

test('koffi is configured before the first load and its struct layouts equal the table and the mingw headers', async () => {
  const koffi = await windowsKoffi();
  assert.ok((koffi.config().max_async_calls ?? 0) >= MAX_ASYNC_CALLS);
  const types = await windowsStructTypes();
  assert.deepEqual(checkLayouts(koffi, types), []);
  const probe = JSON.parse(execFileSync(LAYOUT, { encoding: 'utf8' })) as Record<string, number>;
  for (const [name, want] of Object.entries(LAYOUTS)) {
    const t = types[name as keyof typeof LAYOUTS] as Parameters<typeof koffi.sizeof>[0];
    assert.equal(probe[name], want.size, `mingw sizeof ${name}`);
    assert.equal(koffi.sizeof(t), probe[name], `koffi sizeof ${name}`);
    for (const [field, off] of Object.entries(want.offsets)) {
      assert.equal(probe[`${name}.${field}`], off, `mingw offsetof ${name}.${field}`);
      assert.equal(koffi.offsetof(t, field), off, `koffi offsetof ${name}.${field}`);
    }
  }
});

test('OpenProcess, GetProcessId, GetProcessTimes and QueryFullProcessImageNameW describe a child process', async () => {
  const api = await bindWinProcess();
  const before = Date.now();
  const c = await sleeper(120);
  const h = ok(api.open(c.pid));
  try {
    assert.equal(api.processId(h), c.pid);
    const created = filetimeToEpochMs(ok(api.creationTime(h)));
    // Wall clocks of the Linux host and of the Windows process are the same clock.
    assert.ok(created >= before - 2000 && created <= Date.now() + 2000, `creation time ${new Date(created).toISOString()} is around now`);
    assert.equal(normalizeImage(ok(api.imagePath(h))), normalizeImage(SLEEPER));
    assert.equal(ok(api.exitCode(h)), STILL_ACTIVE);
    assert.equal(await api.waitExit(h, 50), false, 'still running');
  } finally {
    api.close(h);
  }
});

test('a pid with its low two bits set opens the process of the pid without them: callers must compare GetProcessId', async () => {
  const api = await bindWinProcess();
  const c = await sleeper(120);
  for (const off of [1, 2, 3]) {
    const r = api.open(c.pid + off);
    if (!r.ok) continue; // Windows may refuse outright; what matters is never a silent different pid.
    try {
      assert.equal(api.processId(r.value), c.pid, `OpenProcess(${c.pid + off}) names pid ${c.pid}`);
    } finally {
      api.close(r.value);
    }
  }
  const none = api.open(0x7ffffffc);
  assert.equal(none.ok, false);
});

test('toolhelp lists the child, its parent and its two threads', async () => {
  const api = await bindWinProcess();
  const c = await sleeper(120);
  await until(() => ok(api.threads(c.pid)).length === 2, 'two threads');
  const me = ok(api.processes()).find((p) => p.pid === c.pid);
  assert.ok(me);
  assert.equal(me.ppid, api.currentProcessId);
  assert.equal(me.threads, 2);
  assert.equal(normalizeImage(me.exe), normalizeImage(SLEEPER).split('\\').pop());
});

test('NtSuspendProcess raises every thread suspend count to 1 and NtResumeProcess lowers it to 0', async () => {
  const api = await bindWinProcess();
  const c = await sleeper(120);
  await until(() => ok(api.threads(c.pid)).length === 2, 'two threads');
  const counts = () => ok(api.threads(c.pid)).map((t) => ok(api.threadSuspendCount(t.tid)));
  assert.deepEqual(counts(), [0, 0]);
  const h = ok(api.open(c.pid));
  try {
    ok(api.suspend(h));
    assert.deepEqual(counts(), [1, 1], 'reading the count leaves it as it was');
    assert.deepEqual(counts(), [1, 1]);
    ok(api.resume(h));
    assert.deepEqual(counts(), [0, 0]);
  } finally {
    api.close(h);
  }
});

test('TerminateProcess, then the handle signals and GetExitCodeProcess returns the code', async () => {
  const api = await bindWinProcess();
  const c = await sleeper(120);
  const h: Handle = ok(api.open(c.pid));
  try {
    ok(api.terminate(h, 7));
    assert.equal(await api.waitExit(h, 10_000), true);
    assert.equal(ok(api.exitCode(h)), 7);
    // (Windows fails a second TerminateProcess with access denied; Wine returns success.)
  } finally {
    api.close(h);
  }
  const code = await new Promise<number | null>((r) => (c.exitCode !== null ? r(c.exitCode) : c.once('exit', (code) => r(code))));
  assert.equal(code, 7);
});
