/**
 * The Windows implementation's decisions that Wine cannot provoke (Wine never reuses a pid
 * soon enough), on a scripted process table behind the same WinProcessApi the kernel32
 * binding implements: handles pin process objects, pids are reused. The real calls are
 * exercised under Wine (test/windows/).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { ActionRequest } from '../../../../core/index.js';
import { sampleDetection } from '../../../../testing/index.js';
import { epochMsToFiletime, filetimeToEpochMs, type Handle, type WinProcessApi, type WinResult } from '../../../../driver/ffi/windows/process.js';
import { processActionsPlugin } from '../index.js';
import { startResponder } from './harness.js';

interface Proc {
  pid: number;
  ppid: number;
  created: bigint;
  image: string;
  counts: number[];
  exitCode: number | undefined;
}

/** A process table: handles name process objects, so a pid reused later is another object. */
class Table {
  readonly procs: Proc[] = [];
  private readonly handles = new Map<bigint, Proc>();
  private next = 1n;
  constructor(readonly agentPid: number) {
    this.spawn(agentPid, 0, Date.now() - 3_600_000, 'C:\\vigil\\node.exe');
  }
  spawn(pid: number, ppid: number, createdMs: number, image = 'C:\\t\\sleeper.exe'): Proc {
    const p: Proc = { pid, ppid, created: epochMsToFiletime(createdMs), image, counts: [0, 0], exitCode: undefined };
    this.procs.push(p);
    return p;
  }
  live(pid: number): Proc | undefined {
    return this.procs.find((p) => p.pid === pid && p.exitCode === undefined);
  }
  private get(h: Handle): Proc {
    const p = this.handles.get(h);
    if (!p) throw new Error(`bad handle ${h}`);
    return p;
  }
  readonly kills: number[] = [];
  api(): WinProcessApi {
    const okv = <T>(value: T): WinResult<T> => ({ ok: true, value });
    return {
      currentProcessId: this.agentPid,
      open: (pid) => {
        const p = this.live(pid & ~3);
        if (!p) return { ok: false, error: 87, call: 'OpenProcess' };
        const h = this.next++;
        this.handles.set(h, p);
        return okv(h);
      },
      processId: (h) => this.get(h).pid,
      creationTime: (h) => okv(this.get(h).created),
      imagePath: (h) => okv(this.get(h).image),
      terminate: (h, code) => {
        const p = this.get(h);
        if (p.exitCode !== undefined) return { ok: false, error: 5, call: 'TerminateProcess' };
        p.exitCode = code;
        this.kills.push(p.pid);
        return okv(undefined);
      },
      exitCode: (h) => okv(this.get(h).exitCode ?? 259),
      waitExit: (h) => Promise.resolve(this.get(h).exitCode !== undefined),
      suspend: (h) => ((this.get(h).counts = this.get(h).counts.map((c) => c + 1)), okv(undefined)),
      resume: (h) => ((this.get(h).counts = this.get(h).counts.map((c) => Math.max(0, c - 1))), okv(undefined)),
      processes: () => okv(this.procs.filter((p) => p.exitCode === undefined).map((p) => ({ pid: p.pid, ppid: p.ppid, threads: p.counts.length, exe: p.image.split('\\').pop()! }))),
      threads: (pid) => okv((this.live(pid)?.counts ?? []).map((_c, i) => ({ tid: pid * 1000 + i, pid }))),
      threadSuspendCount: (tid) => {
        const c = this.live(Math.floor(tid / 1000))?.counts[tid % 1000];
        return c === undefined ? { ok: false, error: 87, call: 'OpenThread' } : okv(c);
      },
      close: (h) => void this.handles.delete(h),
    };
  }
}

function request(action: string, p: Proc): ActionRequest {
  const detection = sampleDetection({ pid: p.pid, image: p.image, time: Date.now() });
  return { id: randomUUID(), action, params: {}, detection, target: { pid: p.pid, start_time: filetimeToEpochMs(p.created), image: p.image }, dry_run: false };
}

async function responder(table: Table) {
  return startResponder(processActionsPlugin({ platform: 'win32', windows: table.api() }));
}

test('kill_tree leaves alone a process whose parent pid matches but that is older than the parent (a reused pid)', async () => {
  const t = new Table(100);
  const now = Date.now();
  const orphan = t.spawn(208, 200, now - 50_000); // child of an earlier process 200, which exited
  const root = t.spawn(200, 100, now - 10_000); // pid 200 reused by the target
  const kid = t.spawn(212, 200, now - 5_000);
  const grandkid = t.spawn(216, 212, now - 4_000);
  const r = await responder(t);
  const res = await r.run(request('kill_tree', root));
  assert.deepEqual([res.status, res.outcome], ['done', 'done'], res.reason);
  assert.deepEqual(t.kills, [grandkid.pid, kid.pid, root.pid], 'bottom-up, the root last');
  assert.equal(orphan.exitCode, undefined, 'the older process is not killed');
  assert.deepEqual(orphan.counts, [0, 0], 'nor left suspended');
  const skipped = res.details!['skipped'] as Array<{ pid: number; reason: string }>;
  assert.deepEqual(skipped.map((s) => s.pid), [orphan.pid]);
  assert.match(skipped[0]!.reason, /created before pid 200/);
  await r.close();
});

test('a pid reused between detection and action is refused: the new holder is untouched', async () => {
  const t = new Table(100);
  const old = t.spawn(300, 100, Date.now() - 20_000);
  old.exitCode = 0;
  const now = t.spawn(300, 100, Date.now() - 1_000);
  const r = await responder(t);
  for (const action of ['kill', 'kill_tree', 'suspend']) {
    const res = await r.run(request(action, old));
    assert.equal(res.outcome, 'identity_mismatch', `${action}: ${res.reason}`);
  }
  assert.equal(now.exitCode, undefined);
  assert.deepEqual(now.counts, [0, 0]);
  await r.close();
});

test('the agent and its ancestors (older parents only) are protected on Windows', async () => {
  const t = new Table(100);
  const shell = t.spawn(40, 0, Date.now() - 7_200_000, 'C:\\Windows\\explorer.exe');
  t.procs[0]!.ppid = 40;
  const lsass = t.spawn(44, 0, Date.now() - 7_200_000, 'C:\\Windows\\System32\\LSASS.EXE');
  const r = await responder(t);
  assert.equal((await r.run(request('kill', shell))).outcome, 'protected');
  const crit = await r.run(request('kill', lsass));
  assert.equal(crit.outcome, 'protected');
  assert.match(crit.reason!, /critical Windows process \(lsass\.exe\)/);
  assert.equal(shell.exitCode, undefined);
  assert.equal(lsass.exitCode, undefined);
  await r.close();
});
