/**
 * Runs under Wine's node.exe with the test build of the Vigil driver loaded
 * (`harness.mjs run --driver test`; launched by wine.test.ts). The notify routines do not fire
 * under Wine: synthetic records go in through the test-only IOCTL, into the same queue.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as P from '../../driver/protocol/protocol.js';
import { canaryRecord, concatRecords, handleAccessRecord, processStartRecord, threadCreateRecord, type DriverRecord } from '../../driver/protocol/records.js';
import { ERROR_INVALID_FUNCTION, ERROR_REVISION_MISMATCH, openDriver, type DriverCall, type DriverDevice } from '../../driver/ffi/windows/driver.js';
import { until } from './support.js';

const ERROR_INVALID_PARAMETER = 87;

function ok<T>(r: DriverCall<T>): T {
  if (!r.ok) assert.fail(`${r.call} failed with ${r.error}`);
  return r.value;
}

async function connect(): Promise<DriverDevice> {
  const c = await openDriver();
  if (!c.ok) assert.fail(c.message);
  assert.equal(c.hello.major, P.PROTOCOL_MAJOR);
  assert.equal(c.hello.build_flags & P.C.BUILD_TEST, P.C.BUILD_TEST);
  assert.equal(c.hello.queue_capacity, P.C.QUEUE_CAPACITY);
  return c.device;
}

/** Reads until the queue is empty (records left by an earlier test). */
async function drain(dev: DriverDevice): Promise<void> {
  const got: DriverRecord[] = [];
  const r = dev.startReader({ reads: 1, onRecords: (r) => got.push(...r), onError: (e) => assert.fail(`${e.call}: ${e.error}`) });
  await until(() => {
    const s = dev.stats();
    return s.ok && s.value.depth === 0 && s.value.pending_reads === 1;
  }, 'the queue drained');
  await r.stop();
}

function proc(pid: number, image: string, time: bigint) {
  return processStartRecord({ pid, ppid: 4, creator_pid: 4, creator_tid: 8, create_time: time, parent_create_time: 1n, creator_create_time: 1n }, image, `"${image}" -x`);
}

test('injected records reach pending reads in order, strings and fields intact', async () => {
  const dev = await connect();
  try {
    await drain(dev);
    const got: DriverRecord[] = [];
    const reader = dev.startReader({ reads: 4, onRecords: (r) => got.push(...r), onError: (e) => assert.fail(`${e.call}: ${e.error}`) });
    await until(() => ok(dev.stats()).pending_reads === 4, 'four reads pending');
    const before = ok(dev.stats());
    const recs = [
      proc(1000, 'C:\\Windows\\System32\\lsass.exe', 133_000_000_000_000_000n),
      handleAccessRecord(
        { caller_pid: 2000, caller_tid: 2004, target_pid: 1000, target_tid: 0, caller_create_time: 5n, target_create_time: 133_000_000_000_000_000n, object_type: P.C.OBJ_PROCESS, operation: P.C.OP_CREATE, mode: P.C.MODE_ENFORCE, desired: 0x1fffff, granted: 0x1fffff & ~P.C.PROCESS_STRIP_MASK, stripped: P.C.PROCESS_STRIP_MASK, would_strip: P.C.PROCESS_STRIP_MASK },
        'x.exe',
        'lsass.exe',
      ),
      threadCreateRecord({ pid: 1000, tid: 1100, creator_pid: 2000, creator_tid: 2004, create_time: 133_000_000_000_000_000n, creator_create_time: 5n, start_address: 0x7ff6a1b2c000n }),
      canaryRecord(P.C.CANARY_HANDLE, 42n),
    ];
    for (let i = 0; i < 25; i++) recs.push(proc(3000 + i * 4, `C:\\t\\p${i}.exe`, BigInt(i + 1)));
    // Separately (each completes a pending read) and in one batch.
    for (const r of recs.slice(0, 4)) assert.equal(ok(dev.inject(r)), 1);
    assert.equal(ok(dev.inject(concatRecords(recs.slice(4)))), 25);
    await until(() => got.length === 29, `29 records (got ${got.length})`);
    assert.deepEqual(got.map((r) => r.kind), ['process_start', 'handle_access', 'thread_create', 'canary', ...Array<string>(25).fill('process_start')]);
    const seqs = got.map((r) => r.header.seq);
    for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], (seqs[i - 1] ?? 0n) + 1n, 'sequence numbers follow each other');
    for (const r of got) assert.equal(r.header.flags & P.C.RF_SYNTHETIC, P.C.RF_SYNTHETIC);
    const [p0, h, t, c] = got;
    assert.ok(p0?.kind === 'process_start' && p0.image === 'C:\\Windows\\System32\\lsass.exe' && p0.cmdline === '"C:\\Windows\\System32\\lsass.exe" -x' && p0.rec.create_time === 133_000_000_000_000_000n);
    assert.ok(h?.kind === 'handle_access' && h.callerImage === 'x.exe' && h.targetImage === 'lsass.exe' && h.rec.stripped === P.C.PROCESS_STRIP_MASK);
    assert.ok(t?.kind === 'thread_create' && t.rec.creator_pid === 2000 && (t.header.flags & P.C.RF_REMOTE) !== 0);
    assert.ok(c?.kind === 'canary' && c.rec.nonce === 42n);
    assert.equal(got.at(-1)?.kind === 'process_start' && got.at(-1)?.kind === 'process_start' ? (got.at(-1) as { image: string }).image : '', 'C:\\t\\p24.exe');
    const after = ok(dev.stats());
    assert.equal(after.enqueued - before.enqueued, 29n);
    assert.equal(after.delivered - before.delivered, 29n);
    const { cancelled } = await reader.stop();
    assert.equal(cancelled, 4);
  } finally {
    dev.close();
  }
});

test('pending reads are cancelled with CancelIoEx and the driver forgets them', async () => {
  const dev = await connect();
  try {
    await drain(dev);
    const errors: number[] = [];
    const reader = dev.startReader({ reads: 6, onRecords: () => assert.fail('no record was queued'), onError: (e) => errors.push(e.error) });
    await until(() => ok(dev.stats()).pending_reads === 6, 'six reads pending');
    assert.deepEqual(await reader.stop(), { cancelled: 6 });
    assert.equal(ok(dev.stats()).pending_reads, 0);
    assert.deepEqual(errors, []);
  } finally {
    dev.close();
  }
});

test('a client that exits with reads pending is cleaned up: its reads completed, the device free again', async () => {
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(new URL('./driver-child.wine.js', import.meta.url))], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  assert.equal(code, 0, out);
  assert.match(out, /PENDING/);
  // The child's handle is gone with it: the single-client slot is free and nothing is pending.
  let dev: DriverDevice | undefined;
  await until(() => {
    void openDriver().then((c) => {
      if (c.ok) dev ??= c.device;
      else if (dev === undefined) void 0;
    });
    return dev !== undefined;
  }, 'the device opens again');
  try {
    assert.ok(dev);
    const s = ok(dev.stats());
    assert.equal(s.pending_reads, 0);
    assert.equal(s.clients, 1);
  } finally {
    dev?.close();
  }
});

test('one client at a time: a second open is refused while the first holds the device', async () => {
  const dev = await connect();
  try {
    const second = await openDriver();
    assert.equal(second.ok, false);
    assert.ok(!second.ok && second.reason === 'open');
    assert.match(second.ok ? '' : second.message, /another client holds the device/);
    // The refused open's close leaves the client's session alone.
    ok(dev.stats());
  } finally {
    dev.close();
  }
  const again = await connect();
  again.close();
});

test('queue overflow: records past the capacity are dropped, counted, and reported by a loss record', async () => {
  const dev = await connect();
  try {
    await drain(dev);
    const before = ok(dev.stats());
    const extra = 10;
    const total = P.C.QUEUE_CAPACITY + extra;
    const one = canaryRecord(P.C.CANARY_PROCESS, 7n);
    for (let sent = 0; sent < total; ) {
      const n = Math.min(200, total - sent);
      ok(dev.inject(concatRecords(Array.from({ length: n }, () => one))));
      sent += n;
    }
    const full = ok(dev.stats());
    assert.equal(full.depth, P.C.QUEUE_CAPACITY);
    assert.equal(full.dropped - before.dropped, BigInt(extra));
    const got: DriverRecord[] = [];
    const reader = dev.startReader({ reads: 2, onRecords: (r) => got.push(...r), onError: (e) => assert.fail(`${e.call}: ${e.error}`) });
    await until(() => got.filter((r) => r.kind === 'canary').length === P.C.QUEUE_CAPACITY, 'the queued records');
    await reader.stop();
    const loss = got.find((r) => r.kind === 'loss');
    assert.ok(loss?.kind === 'loss', 'a loss record');
    assert.equal(loss.header.seq, 0n, 'loss records are outside the numbered stream');
    assert.equal(loss.rec.dropped_since, BigInt(extra));
    assert.equal(loss.rec.dropped_total, full.dropped);
    assert.equal(got.filter((r) => r.kind === 'loss').length, 1);
  } finally {
    dev.close();
  }
});

test('a client of another protocol major version is refused, by the driver and by the client', async () => {
  const c = await openDriver(undefined, { major: P.PROTOCOL_MAJOR + 1, minor: 0 });
  assert.equal(c.ok, false);
  assert.ok(!c.ok && c.reason === 'protocol');
  assert.deepEqual(c.driver, { major: P.PROTOCOL_MAJOR, minor: P.PROTOCOL_MINOR });
  assert.equal(c.message, `the driver speaks protocol ${P.PROTOCOL_MAJOR}.${P.PROTOCOL_MINOR}, this agent ${P.PROTOCOL_MAJOR + 1}.0: install the driver of this agent's release`);
  // The driver itself serves nothing to a client that did not negotiate its major version.
  const dev = await connect();
  try {
    ok(dev.hello(P.PROTOCOL_MAJOR + 1, 0));
    const r = dev.ioctl(P.IOCTL.GET_STATS, new Uint8Array(0), P.LAYOUT.STATS.size);
    assert.ok(!r.ok && r.error === ERROR_REVISION_MISMATCH, JSON.stringify(r));
    ok(dev.hello(P.PROTOCOL_MAJOR, P.PROTOCOL_MINOR));
    ok(dev.stats());
  } finally {
    dev.close();
  }
});

test('the protection policy is set and read back; an invalid one is refused and changes nothing', async () => {
  const dev = await connect();
  try {
    const initial = ok(dev.getPolicy());
    assert.equal(initial.protected[0]?.name, 'lsass.exe', 'lsass is protected from load on');
    const policy: P.POLICY = {
      ...P.ZERO_POLICY(),
      default_mode: P.C.MODE_ENFORCE,
      protected_count: 2,
      allow_count: 1,
      protected: [
        { pid: 0, mode: P.C.MODE_NONE, create_time: 0n, name: 'lsass.exe' },
        { pid: 1234, mode: P.C.MODE_MONITOR, create_time: 133_000_000_000_000_000n, name: '' },
      ],
      allow: [{ pid: 0, mode: 0, create_time: 0n, name: 'MsMpEng.exe' }],
    };
    ok(dev.setPolicy(policy));
    const back = ok(dev.getPolicy());
    assert.equal(back.default_mode, P.C.MODE_ENFORCE);
    assert.equal(back.protected_count, 2);
    assert.deepEqual(back.protected.slice(0, 2), policy.protected);
    assert.deepEqual(back.allow[0], policy.allow[0]);
    const bad = dev.setPolicy({ ...policy, protected: [{ pid: 99, mode: 1, create_time: 0n, name: '' }, ...policy.protected.slice(1)] });
    assert.ok(!bad.ok && bad.error === ERROR_INVALID_PARAMETER, JSON.stringify(bad));
    assert.deepEqual(ok(dev.getPolicy()).protected.slice(0, 2), policy.protected);
    const unknown = dev.ioctl(0x22e7fc, new Uint8Array(0), 0);
    assert.ok(!unknown.ok && unknown.error === ERROR_INVALID_FUNCTION, JSON.stringify(unknown));
  } finally {
    dev.close();
  }
});
