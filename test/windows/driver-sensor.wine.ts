/**
 * Runs under Wine's node.exe with the test build of the Vigil driver loaded: the `driver`
 * sensor through recordingContext and its own start(), fed by records injected through the
 * sensor's own handle (the driver allows one client).
 */
import { test } from 'node:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import * as P from '../../driver/protocol/protocol.js';
import { canaryRecord, handleAccessRecord, processStartRecord, threadCreateRecord } from '../../driver/protocol/records.js';
import { plugin, type DriverSensor } from '../../plugins/sensors/driver/index.js';
import { instantiate, recordingContext, sampleDetection } from '../../testing/index.js';
import { plugin as enforcePlugin } from '../../plugins/responders/driver-enforce/index.js';
import type { ActionRequest } from '../../core/index.js';
import { until } from './support.js';

const LSASS = 'C:\\Windows\\System32\\lsass.exe';
const LSASS_CT = 133_400_000_000_000_000n;
const X_CT = 133_400_000_100_000_000n;
const T0 = 133_400_000_200_000_000n;

async function started(config: Record<string, unknown>) {
  const rec = recordingContext(plugin, { config });
  const sensor = instantiate(plugin, rec) as DriverSensor;
  await sensor.start();
  const dev = sensor.connection;
  assert.ok(dev);
  return { rec, sensor, dev };
}

function records(mode: number): Uint8Array[] {
  const desired = 0x1fffff;
  const stripped = mode === P.C.MODE_ENFORCE ? desired & P.C.PROCESS_STRIP_MASK : 0;
  return [
    processStartRecord({ pid: 700, ppid: 600, creator_pid: 600, creator_tid: 604, create_time: LSASS_CT, parent_create_time: 1n, creator_create_time: 1n }, LSASS, 'lsass.exe', T0),
    processStartRecord({ pid: 4242, ppid: 600, creator_pid: 600, creator_tid: 604, create_time: X_CT, parent_create_time: 1n, creator_create_time: 1n }, 'C:\\Users\\bob\\x.exe', 'x.exe', T0),
    handleAccessRecord(
      { caller_pid: 4242, caller_tid: 4300, target_pid: 700, target_tid: 0, caller_create_time: X_CT, target_create_time: LSASS_CT, object_type: P.C.OBJ_PROCESS, operation: P.C.OP_CREATE, mode, desired, granted: desired & ~stripped, stripped, would_strip: desired & P.C.PROCESS_STRIP_MASK },
      'x.exe',
      'lsass.exe',
      T0 + 10_000_000n,
    ),
    threadCreateRecord({ pid: 700, tid: 9000, creator_pid: 4242, creator_tid: 4300, create_time: LSASS_CT, creator_create_time: X_CT, start_address: 0x7ff6a1b2c000n }, T0 + 20_000_000n),
  ];
}

for (const mode of ['monitor', 'enforce'] as const) {
  test(`${mode}: the policy reaches the driver (lsass always) and injected records become the events of their Sysmon equivalents`, async () => {
    const { rec, sensor, dev } = await started({ mode, protect_images: ['notepad.exe'], canary_interval_ms: 0 });
    try {
      const pol = dev.getPolicy();
      assert.ok(pol.ok);
      assert.deepEqual(pol.value.protected.slice(0, pol.value.protected_count).map((e) => e.name), ['lsass.exe', 'notepad.exe']);
      assert.equal(pol.value.default_mode, mode === 'enforce' ? P.C.MODE_ENFORCE : P.C.MODE_MONITOR);
      const code = mode === 'enforce' ? P.C.MODE_ENFORCE : P.C.MODE_MONITOR;
      for (const r of records(code)) assert.ok(dev.inject(r).ok);
      await until(() => rec.emitted.length === 4, 'four events');
      assert.deepEqual(rec.emitted.map((e) => e.type), ['process.start', 'process.start', 'process.access', 'thread.remote_create']);
      const access = rec.emitted[2] as unknown as { access: Record<string, unknown>; target: Record<string, unknown>; proc: Record<string, unknown> };
      assert.equal(access.target.image, LSASS);
      assert.equal(access.proc.image, 'C:\\Users\\bob\\x.exe');
      assert.equal(access.access.mode, mode);
      assert.equal(access.access.stripped, mode === 'enforce' ? P.C.PROCESS_STRIP_MASK : 0, 'enforce shows the stripped rights, monitor none');
      const thread = rec.emitted[3] as unknown as { target: Record<string, unknown> };
      assert.equal(thread.target.image, LSASS);
      // The correlation engine needs re2 (a Linux native module here): the shipped lsass
      // sequence is run over these same normalized events on Linux (test/driver/driver-events).
      assert.equal(access.access.granted, mode === 'enforce' ? 0x1fffff & ~P.C.PROCESS_STRIP_MASK : 0x1fffff);
      assert.equal((rec.emitted[3] as unknown as { proc: { guid: string } }).proc.guid, (access.proc as { guid: string }).guid, 'same actor');
      // The Linux side replays these events through the agent (wine.test.ts).
      const out = process.env.VIGIL_DRIVER_EVENTS_DIR;
      if (out) writeFileSync(join(out, `${mode}.jsonl`), rec.emitted.map((e) => JSON.stringify(e)).join('\n') + '\n');
    } finally {
      await sensor.stop();
    }
  });
}

test('a canary that comes back raises nothing; one held back raises the tamper finding (sensor.error)', async () => {
  const a = await started({ canary_interval_ms: 600_000, canary_deadline_ms: 1500, canary_process: false });
  try {
    const nonces = a.sensor.canary.pending();
    assert.equal(nonces.length, 1, 'armed at start');
    assert.ok(a.dev.inject(canaryRecord(P.C.CANARY_HANDLE, nonces[0] ?? 0n)).ok);
    await until(() => a.sensor.canary.seen === 1, 'the canary seen');
    await new Promise((r) => setTimeout(r, 2500));
    assert.deepEqual(a.rec.emitted.filter((e) => e.type === 'sensor.error'), []);
  } finally {
    await a.sensor.stop();
  }
  const b = await started({ canary_interval_ms: 600_000, canary_deadline_ms: 1500, canary_process: false });
  try {
    // Held back: under Wine the driver's own callback never reports it, and nothing is injected.
    await until(() => b.rec.emitted.some((e) => e.type === 'sensor.error'), 'the tamper finding', 20_000);
    const err = b.rec.emitted.find((e) => e.type === 'sensor.error') as unknown as { raw: Record<string, unknown>; message: string };
    assert.equal(err.raw.reason, 'driver_canary_missed');
    assert.match(err.message, /driver callbacks silent/);
    assert.equal(b.sensor.canary.missed, 1);
  } finally {
    await b.sensor.stop();
  }
});

test('driver-enforce: a process a rule flagged joins the driver policy on the sensor\'s connection; monitor only says so', async () => {
  const { sensor, dev } = await started({ canary_interval_ms: 0 });
  try {
    const rec = recordingContext(enforcePlugin, { config: {} });
    const responder = instantiate(enforcePlugin, rec);
    await responder.start();
    const startTime = 1_765_000_000_123;
    const req = (dry: boolean): ActionRequest => ({ id: `r-${String(dry)}`, action: 'protect', params: {}, detection: sampleDetection({ pid: 4242, time: Date.now() }), target: { pid: 4242, start_time: startTime }, dry_run: dry });
    await responder.onActions?.([req(true)]);
    assert.equal(rec.results[0]?.outcome, 'would_have');
    const before = dev.getPolicy();
    assert.ok(before.ok);
    assert.equal(before.value.protected_count, 1, 'monitor touched nothing');
    await responder.onActions?.([req(false)]);
    assert.equal(rec.results[1]?.status, 'done', JSON.stringify(rec.results[1]));
    const after = dev.getPolicy();
    assert.ok(after.ok);
    assert.deepEqual(after.value.protected.slice(0, after.value.protected_count).map((e) => [e.name, e.pid, e.mode]), [['lsass.exe', 0, 0], ['', 4242, P.C.MODE_ENFORCE]]);
    assert.equal(after.value.protected[1]?.create_time, BigInt(startTime) * 10_000n + 116444736000000000n);
    await responder.stop();
  } finally {
    await sensor.stop();
  }
});

test('the process canary: the agent\'s short-lived child must be reported as started; held back, it is a tamper finding', async () => {
  const { rec, sensor, dev } = await started({ canary_interval_ms: 600_000, canary_deadline_ms: 3000 });
  try {
    // Under Wine the process callback never fires: report the handle canary and the child's start by injection.
    await until(() => sensor.canary.pending().length === 2, 'both canaries armed');
    const [handle, child] = [...sensor.canary.pending()].sort((a, b) => (a < b ? -1 : 1));
    assert.ok(handle !== undefined && child !== undefined && child >= 1n << 63n);
    assert.ok(dev.inject(canaryRecord(P.C.CANARY_HANDLE, handle)).ok);
    const pid = Number(child & 0xffffffffn);
    assert.ok(dev.inject(processStartRecord({ pid, ppid: process.pid, creator_pid: process.pid, creator_tid: 1, create_time: T0, parent_create_time: 1n, creator_create_time: 1n }, 'C:\\windows\\system32\\cmd.exe', 'cmd /d /c exit 0', T0)).ok);
    await until(() => sensor.canary.seen === 2, 'both canaries seen');
    assert.deepEqual(rec.emitted.filter((e) => e.type === 'sensor.error'), []);
  } finally {
    await sensor.stop();
  }
  const b = await started({ canary_interval_ms: 600_000, canary_deadline_ms: 1500 });
  try {
    await until(() => b.sensor.canary.pending().length === 2, 'both canaries armed');
    const handle = b.sensor.canary.pending().find((n) => n < 1n << 63n) ?? 0n;
    assert.ok(b.dev.inject(canaryRecord(P.C.CANARY_HANDLE, handle)).ok);
    await until(() => b.rec.emitted.some((e) => e.type === 'sensor.error'), 'the process canary missed', 20_000);
    const err = b.rec.emitted.find((e) => e.type === 'sensor.error') as unknown as { raw: Record<string, unknown> };
    assert.equal(err.raw.kind, 'process');
  } finally {
    await b.sensor.stop();
  }
});
