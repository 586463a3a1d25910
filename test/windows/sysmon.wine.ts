/**
 * Runs under Wine's node.exe (scripts/wine/harness.mjs; launched by wine.test.ts): the Sysmon
 * sensor, unchanged, against the wevtapi test double (scripts/wine/wevtapi.dll.c) serving the
 * events of a real Sysmon .evtx, compared field by field with what `vigil replay` of the same
 * file emitted on Linux; bookmarks across restarts; the adaptive batch size; the clear errors;
 * and the EVT_VARIANT layouts against a mingw-compiled probe.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { windowsKoffi } from '../../driver/ffi/windows/koffi.js';
import { WEVT_LAYOUTS, checkWevtLayouts, wevtStructTypes } from '../../driver/ffi/windows/wevtapi.js';
import type { EventDraft } from '../../core/index.js';
import { BOOKMARK_FILE, createSysmonSensor, plugin, type SysmonSensor } from '../../plugins/sensors/sysmon/index.js';
import { recordingContext, type Recording } from '../../testing/index.js';
import { until } from './support.js';

function required(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run this entry through wine.test.ts`);
  return v;
}

const DOUBLE = required('VIGIL_WINE_WEVTAPI_DLL');
const PROBE = required('VIGIL_WINE_WEVT_LAYOUT');
const EVTX = required('VIGIL_SYSMON_EVTX');
process.env['VIGIL_WEVTAPI_EVENTS'] = required('VIGIL_SYSMON_EVENTS');
/** What replay emitted for the same file, computed on Linux. */
const EXPECTED = JSON.parse(readFileSync(required('VIGIL_SYSMON_EXPECTED'), 'utf8')) as Record<string, unknown>[];
const N = EXPECTED.length;

/** The double's controls, read by it at each call (cleared between tests). */
function controls(c: { LIMIT?: number; MAX_BATCH?: number; FAIL?: string } = {}): void {
  for (const k of ['LIMIT', 'MAX_BATCH', 'FAIL'] as const) {
    const v = c[k];
    if (v === undefined) delete process.env[`VIGIL_WEVTAPI_${k}`];
    else process.env[`VIGIL_WEVTAPI_${k}`] = String(v);
  }
}

interface Run {
  rec: Recording;
  sensor: SysmonSensor;
}

function sensorWith(config: object, dataDir: string, initialRenderBytes?: number): Run {
  const rec = recordingContext(plugin, { config, dataDir, logLevel: 'warn' });
  return { rec, sensor: createSysmonSensor(rec.ctx, { dlls: { wevtapi: DOUBLE }, ...(initialRenderBytes === undefined ? {} : { initialRenderBytes }) }) };
}

async function stop(r: Run): Promise<void> {
  await r.sensor.stop();
  await r.rec.dispose();
}

function recordId(d: EventDraft | Record<string, unknown>): unknown {
  return (d['raw' as keyof typeof d] as Record<string, unknown> | undefined)?.['EventRecordID'];
}

/** Each delivered draft equals replay's, field by field (raw fields one by one). */
function assertSameAsReplay(got: readonly EventDraft[], want: readonly Record<string, unknown>[]): void {
  assert.equal(got.length, want.length, 'as many events as replay');
  for (let i = 0; i < want.length; i++) {
    const g = JSON.parse(JSON.stringify(got[i])) as Record<string, unknown>;
    const w = want[i] as Record<string, unknown>;
    assert.deepEqual(Object.keys(g).sort(), Object.keys(w).sort(), `event ${i}: fields`);
    for (const k of Object.keys(w)) {
      if (k === 'raw') continue;
      assert.deepEqual(g[k], w[k], `event ${i} (record ${String(recordId(w))}): ${k}`);
    }
    const gr = g['raw'] as Record<string, unknown>;
    const wr = w['raw'] as Record<string, unknown>;
    assert.deepEqual(Object.keys(gr).sort(), Object.keys(wr).sort(), `event ${i}: raw fields`);
    for (const k of Object.keys(wr)) assert.deepEqual(gr[k], wr[k], `event ${i} (record ${String(recordId(w))}): raw.${k}`);
  }
}

const fresh = (): string => mkdtempSync(join(tmpdir(), 'vigil-sysmon-'));

test('the replay side is a real Sysmon file of a few dozen events', () => {
  assert.ok(N >= 20 && N <= 100, `${N} events`);
  assert.ok(EXPECTED.every((e) => (e['raw'] as Record<string, unknown>)['Channel'] === 'Microsoft-Windows-Sysmon/Operational'));
  assert.ok(new Set(EXPECTED.map((e) => e['type'])).size >= 3, 'several event types');
});

test('EVT_VARIANT, SYSTEMTIME and GUID layouts equal the table and the mingw headers', async () => {
  const koffi = await windowsKoffi();
  const types = await wevtStructTypes();
  assert.deepEqual(checkWevtLayouts(koffi, types), []);
  const probe = JSON.parse(execFileSync(PROBE, { encoding: 'utf8' })) as Record<string, number>;
  for (const [name, want] of Object.entries(WEVT_LAYOUTS)) {
    const t = types[name as keyof typeof WEVT_LAYOUTS] as Parameters<typeof koffi.sizeof>[0];
    assert.equal(probe[name], want.size, `mingw sizeof ${name}`);
    assert.equal(koffi.sizeof(t), want.size, `koffi sizeof ${name}`);
    for (const [field, off] of Object.entries(want.offsets)) {
      assert.equal(probe[`${name}.${field}`], off, `mingw offsetof ${name}.${field}`);
      assert.equal(koffi.offsetof(t, field), off, `koffi offsetof ${name}.${field}`);
    }
  }
});

test('read_existing delivers exactly the events of the file, normalized identically to vigil replay', async () => {
  controls();
  const r = sensorWith({ read_existing: true }, fresh());
  try {
    await r.sensor.start();
    assert.equal(r.sensor.startedFrom, 'oldest');
    await until(() => r.rec.emitted.length >= N, `${N} events`);
    // Nothing more comes: the reader has gone back to waiting on the signal event.
    await new Promise((res) => setTimeout(res, 300));
    assertSameAsReplay(r.rec.emitted, EXPECTED);
    const c = r.rec.counters.snapshot();
    assert.equal(c.received, N);
    assert.equal(c.custom['rendered_as_xml'] ?? 0, 0, 'every event rendered as values');
    assert.deepEqual(c.errors, {});
    assert.equal(r.rec.failures.length, 0);
  } finally {
    await stop(r);
  }
});

test('the two-call buffer sizing: a 64-byte first buffer grows on ERROR_INSUFFICIENT_BUFFER and every event still renders', async () => {
  controls();
  const r = sensorWith({ read_existing: true }, fresh(), 64);
  try {
    await r.sensor.start();
    await until(() => r.rec.emitted.length >= N, `${N} events`);
    assertSameAsReplay(r.rec.emitted, EXPECTED);
    assert.deepEqual(r.rec.counters.snapshot().errors, {});
  } finally {
    await stop(r);
  }
});

test('the XML fallback: past max_schemas, events render as XML and still normalize like replay', async () => {
  controls();
  const r = sensorWith({ read_existing: true, max_schemas: 1 }, fresh());
  try {
    await r.sensor.start();
    await until(() => r.rec.emitted.length >= N, `${N} events`);
    const c = r.rec.counters.snapshot();
    const first = (EXPECTED[0] as Record<string, unknown>)['type'];
    const viaXml = c.custom['rendered_as_xml'] ?? 0;
    assert.ok(viaXml > 0 && viaXml < N, `${viaXml} of ${N} as XML (the first schema's as values)`);
    assert.ok(EXPECTED.filter((e) => e['type'] !== first).length <= viaXml);
    assertSameAsReplay(r.rec.emitted, EXPECTED);
  } finally {
    await stop(r);
  }
});

test('a stop and a restart with the bookmark neither lose nor repeat events, and new events are delivered live', async () => {
  const dir = fresh();
  const first = 15;
  controls({ LIMIT: first });
  const a = sensorWith({ read_existing: true, batch_size: 4 }, dir);
  try {
    await a.sensor.start();
    await until(() => a.rec.emitted.length >= first, `${first} events`);
    await new Promise((res) => setTimeout(res, 300));
    assert.equal(a.rec.emitted.length, first);
  } finally {
    await stop(a);
  }
  const saved = readFileSync(join(dir, BOOKMARK_FILE), 'utf8');
  assert.match(saved, new RegExp(`RecordId='${String(recordId(EXPECTED[first - 1] as Record<string, unknown>))}'`));

  // The restart: more events are in the log now, and the rest arrive while it runs.
  controls({ LIMIT: first + 10 });
  const b = sensorWith({ read_existing: true, batch_size: 4 }, dir);
  try {
    await b.sensor.start();
    assert.equal(b.sensor.startedFrom, 'after_bookmark');
    await until(() => b.rec.emitted.length >= 10, '10 events after the bookmark');
    controls();
    await until(() => b.rec.emitted.length >= N - first, `${N - first} events after the bookmark`);
    await new Promise((res) => setTimeout(res, 300));
    assertSameAsReplay([...a.rec.emitted, ...b.rec.emitted], EXPECTED);
  } finally {
    await stop(b);
  }
});

test('without a bookmark and without read_existing only new events are delivered', async () => {
  controls({ LIMIT: 30 });
  const r = sensorWith({}, fresh());
  try {
    await r.sensor.start();
    assert.equal(r.sensor.startedFrom, 'future');
    await new Promise((res) => setTimeout(res, 300));
    assert.equal(r.rec.emitted.length, 0);
    controls();
    await until(() => r.rec.emitted.length >= N - 30, `${N - 30} new events`);
    await new Promise((res) => setTimeout(res, 300));
    assertSameAsReplay(r.rec.emitted, EXPECTED.slice(30));
  } finally {
    await stop(r);
  }
});

test('RPC_S_INVALID_BOUND halves the batch and resubscribes from the bookmark: nothing lost or repeated', async () => {
  controls({ MAX_BATCH: 5 });
  const r = sensorWith({ read_existing: true, batch_size: 64 }, fresh());
  try {
    await r.sensor.start();
    await until(() => r.rec.emitted.length >= N, `${N} events`);
    await new Promise((res) => setTimeout(res, 300));
    // 64 → 32 → 16 → 8 → 4: four refusals, then batches of 4.
    assert.equal(r.sensor.batchSize, 4);
    const c = r.rec.counters.snapshot();
    assert.equal(c.custom['batch_halved'], 4, JSON.stringify(c));
    assert.equal(c.custom['batch_size'], 4);
    assertSameAsReplay(r.rec.emitted, EXPECTED);
  } finally {
    await stop(r);
    controls();
  }
});

test('from: an .evtx file is read once through EvtQuery, identically to replay, without a bookmark', async () => {
  controls();
  const dir = fresh();
  const r = sensorWith({ from: EVTX, batch_size: 7 }, dir);
  try {
    await r.sensor.start();
    assert.equal(r.sensor.startedFrom, 'file');
    await until(() => r.rec.emitted.length >= N, `${N} events`);
    await new Promise((res) => setTimeout(res, 300));
    assertSameAsReplay(r.rec.emitted, EXPECTED);
    assert.equal(existsSync(join(dir, BOOKMARK_FILE)), false);
    assert.equal(r.rec.failures.length, 0);
  } finally {
    await stop(r);
  }
});

test('access denied fails the start with VIGIL_ERR_SYSMON_ACCESS_DENIED saying to run elevated', async () => {
  controls({ FAIL: 'access_denied' });
  const r = sensorWith({}, fresh());
  try {
    await assert.rejects(r.sensor.start(), (err: Error & { code?: string; details?: Record<string, unknown> }) => {
      assert.equal(err.code, 'VIGIL_ERR_SYSMON_ACCESS_DENIED');
      assert.match(err.message, /run the agent elevated/);
      assert.equal(err.details?.['win32'], 5);
      return true;
    });
  } finally {
    await stop(r);
    controls();
  }
});

test('a missing channel fails the start with VIGIL_ERR_SYSMON_CHANNEL_NOT_FOUND saying to install Sysmon', async () => {
  controls();
  const r = sensorWith({ channel: 'Microsoft-Windows-Sysmon/NotThere' }, fresh());
  try {
    await assert.rejects(r.sensor.start(), (err: Error & { code?: string; details?: Record<string, unknown> }) => {
      assert.equal(err.code, 'VIGIL_ERR_SYSMON_CHANNEL_NOT_FOUND');
      assert.match(err.message, /install Sysmon/);
      assert.equal(err.details?.['win32'], 15007);
      return true;
    });
  } finally {
    await stop(r);
  }
});
