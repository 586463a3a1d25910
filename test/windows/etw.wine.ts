/**
 * Runs under Wine's node.exe (scripts/wine/harness.mjs; launched by wine.test.ts): the ETW
 * binding and the etw sensor, unchanged, against the advapi32 / tdh test double
 * (scripts/wine/advapi32-etw.dll.c, loaded by path through the binding's DLL parameters):
 * struct layouts against the mingw headers, recorded Kernel-Process records decoded into
 * events, injected lost counts reported as drops, the session-name-in-use and access-denied
 * errors, and the session stopped on stop and on the core's disposal.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { windowsKoffi } from '../../driver/ffi/windows/koffi.js';
import { LAYOUTS, checkLayouts, etwStructTypes, guidText, koffiField } from '../../driver/ffi/windows/etw.js';
import type { EventDraft } from '../../core/index.js';
import { recordingContext } from '../../testing/index.js';
import { createEtwSensor, plugin, KERNEL_PROCESS, KERNEL_NETWORK, DNS_CLIENT, POWERSHELL, EtwError } from '../../plugins/sensors/etw/index.js';
import { encodeRecord, processStart, processStop, recordFile, threadStart } from '../support/etw-records.js';
import { until } from './support.js';

function required(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run this entry through scripts/wine/harness.mjs`);
  return v;
}
const DOUBLE = required('VIGIL_WINE_ADVAPI32_ETW_DLL');
const PROBE = required('VIGIL_WINE_ETW_LAYOUT');
const dlls = { advapi32: DOUBLE, tdh: DOUBLE };

const koffi = await windowsKoffi();
const lib = koffi.load(DOUBLE);
const Reset = lib.func('uint32_t __stdcall VigilEtwDoubleReset(const char16_t *path, uint32_t flags)');
const SetLost = lib.func('void __stdcall VigilEtwDoubleSetLost(uint32_t events, uint32_t buffers)');
const Count = lib.func('uint32_t __stdcall VigilEtwDoubleCount(const char *name)');
const LastEnable = lib.func('void __stdcall VigilEtwDoubleLastEnable(_Out_ uint8_t *guid, _Out_ uint32_t *level, _Out_ uint64_t *keywords)');
const Release = lib.func('void __stdcall VigilEtwDoubleRelease()');
const count = (name: string): number => Count(name) as number;
const LEFTOVER = 1;
const STUCK = 2;
const DENIED = 4;
const STUCK_CONSUMER = 8;

const dir = mkdtempSync(join(tmpdir(), 'vigil-etw-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const T0 = Date.UTC(2026, 11, 8, 6, 30, 0, 125);
const CMD = '\\Device\\HarddiskVolume3\\Windows\\System32\\cmd.exe';
const WHOAMI = '\\Device\\HarddiskVolume3\\Windows\\System32\\whoami.exe';
const recorded = recordFile(
  [
    processStart({ creatorPid: 900, creatorTid: 904, time: T0 + 2, pid: 4100, createTime: T0, ppid: 900, session: 1, image: CMD }),
    threadStart({ creatorPid: 900, creatorTid: 904, time: T0 + 3, pid: 4100, tid: 4104, start: '0x7ff6a0001000' }),
    processStart({ creatorPid: 4100, creatorTid: 4104, time: T0 + 40, pid: 4200, createTime: T0 + 38, ppid: 4100, session: 1, image: WHOAMI }),
    threadStart({ creatorPid: 4100, creatorTid: 4104, time: T0 + 60, pid: 900, tid: 912, start: '0x7ffb00020000' }),
    processStop({ pid: 4200, tid: 4208, time: T0 + 90, createTime: T0 + 38, exitCode: 0, image: WHOAMI }),
  ].map(encodeRecord),
);
const recordsPath = join(dir, 'records.vetw');
writeFileSync(recordsPath, recorded);

function sensor(config: Record<string, unknown> = {}) {
  const rec = recordingContext(plugin, { config: { session_name: 'Vigil-ETW-Test', stats_interval_ms: 100, ...config }, logLevel: 'warn' });
  return { rec, s: createEtwSensor(rec.ctx, { dlls }) };
}

test('koffi ETW struct layouts equal the table and the mingw headers', async () => {
  const types = await etwStructTypes();
  assert.deepEqual(checkLayouts(koffi, types), []);
  const probe = JSON.parse(execFileSync(PROBE, { encoding: 'utf8' })) as Record<string, number>;
  for (const [name, want] of Object.entries(LAYOUTS)) {
    const t = types[name as keyof typeof LAYOUTS] as Parameters<typeof koffi.sizeof>[0];
    assert.equal(probe[name], want.size, `mingw sizeof ${name}`);
    assert.equal(koffi.sizeof(t), want.size, `koffi sizeof ${name}`);
    for (const [field, off] of Object.entries(want.offsets)) {
      assert.equal(probe[`${name}.${field}`], off, `mingw offsetof ${name}.${field}`);
      assert.equal(koffi.offsetof(t, koffiField(field)), off, `koffi offsetof ${name}.${field}`);
    }
  }
});

test('recorded Kernel-Process records are decoded through TDH into process.start / stop and thread.remote_create; the session is stopped on stop', async () => {
  assert.equal(Reset(recordsPath, 0), 0);
  const { rec, s } = sensor();
  await s.start();
  const stop = await rec.waitFor((d) => d.type === 'process.stop', 20_000);
  const starts = rec.emitted.filter((d) => d.type === 'process.start');
  assert.equal(starts.length, 2);
  assert.deepEqual(starts[0]!.proc, { pid: 4100, ppid: 900, start_time: T0, guid: `4100@${T0}`, image: CMD, name: 'cmd.exe', session_id: 1, integrity: 'Medium' });
  assert.equal(starts[0]!.raw?.['MandatoryLabel'], 'S-1-16-8192');
  assert.deepEqual(starts[0]!.parent, { pid: 900 });
  assert.equal(starts[0]!.time, T0 + 2);
  assert.equal(starts[0]!.raw?.['ImageChecksum'], 0x1f2e3);
  assert.deepEqual(starts[1]!.proc, {
    pid: 4200,
    ppid: 4100,
    start_time: T0 + 38,
    guid: `4200@${T0 + 38}`,
    image: WHOAMI,
    name: 'whoami.exe',
    session_id: 1,
    integrity: 'Medium',
    parent_guid: `4100@${T0}`,
  });
  assert.equal(starts[1]!.parent?.image, CMD);
  const remote = rec.emitted.filter((d) => d.type === 'thread.remote_create');
  assert.equal(remote.length, 1, 'the first thread of cmd.exe, created by its parent, is not remote');
  assert.equal(remote[0]!.proc?.guid, `4100@${T0}`);
  assert.deepEqual(remote[0]!.target, { pid: 900 });
  assert.deepEqual(remote[0]!.thread, { id: 912, start_address: '0x7ffb00020000' });
  assert.equal(stop.proc?.guid, `4200@${T0 + 38}`);
  assert.equal(stop.proc?.image, WHOAMI);
  assert.equal(count('delivered'), 5);
  assert.equal(count('tdh'), 3, 'one TDH lookup per (provider, id, version): ProcessStart, ThreadStart, ProcessStop');
  assert.equal(count('enable'), 4, 'the four default providers');
  const guid = new Uint8Array(16);
  const level = [0];
  const kw = [0n];
  LastEnable(guid, level, kw);
  assert.equal(guidText(new DataView(guid.buffer), 0), 'A0C1853B-5C40-4B15-8766-3CF1C58F985A');
  assert.equal(level[0], 5);
  assert.equal(count('start'), 1);
  assert.equal(count('stop'), 1, 'the stop by name before the start (no leftover)');
  assert.equal(count('running'), 1);

  SetLost(7, 2);
  await until(() => rec.counters.snapshot().discarded['etw_events_lost']?.count === 7, 'EventsLost reported as drops');
  await until(() => rec.counters.snapshot().discarded['etw_realtime_buffers_lost']?.count === 2, 'RealTimeBuffersLost reported as drops');
  SetLost(10, 2);
  await until(() => rec.counters.snapshot().discarded['etw_events_lost']?.count === 10, 'only the growth is added');
  assert.equal(rec.counters.snapshot().discarded['etw_realtime_buffers_lost']?.count, 2);
  assert.ok(count('query') >= 2, 'each new total was read by its own QUERY');

  await s.stop();
  assert.equal(count('stop'), 2, 'ControlTraceW(STOP) of the session at stop');
  assert.equal(count('close'), 1, 'CloseTrace of the consumer (ERROR_CTX_CLOSE_PENDING while ProcessTrace runs is success)');
  assert.equal(count('running'), 0);
  assert.equal(rec.counters.snapshot().errors['stop:close_trace:7007'], undefined);
  await rec.dispose();
  assert.equal(count('stop'), 2, 'the disposer finds nothing more to stop');
  assert.deepEqual(rec.failures, []);
});

test('a leftover session of the name is stopped first, then the session starts', async () => {
  assert.equal(Reset(recordsPath, LEFTOVER), 0);
  const { rec, s } = sensor();
  await s.start();
  assert.equal(count('stop'), 1);
  assert.equal(count('start'), 1);
  assert.equal(rec.counters.snapshot().custom['sessions_stopped_by_name'], 1);
  assert.ok(rec.logs.some((l) => /stopped a leftover session named Vigil-ETW-Test/.test(l.msg)));
  await rec.waitFor((d: EventDraft) => d.type === 'process.stop', 20_000);
  await s.stop();
  await rec.dispose();
  assert.equal(count('running'), 0);
});

test('session name in use: one stop and retry, then VIGIL_ERR_ETW_SESSION_IN_USE', async () => {
  assert.equal(Reset('', LEFTOVER | STUCK), 0);
  const { rec, s } = sensor();
  await assert.rejects(s.start(), (err: unknown) => {
    assert.ok(err instanceof EtwError);
    assert.equal(err.code, 'VIGIL_ERR_ETW_SESSION_IN_USE');
    assert.match(err.message, /session name Vigil-ETW-Test is in use: .*183.* again after stopping the session of that name once.*logman stop Vigil-ETW-Test -ets/);
    return true;
  });
  assert.equal(count('start'), 2, 'started once, retried once');
  assert.equal(count('stop'), 2, 'the leftover stop, then one stop before the retry');
  assert.equal(count('open'), 0);
  await rec.dispose();
});

test('access denied (not elevated) is VIGIL_ERR_ETW_ACCESS_DENIED saying to elevate', async () => {
  assert.equal(Reset('', DENIED), 0);
  const { rec, s } = sensor();
  await assert.rejects(s.start(), (err: unknown) => {
    assert.ok(err instanceof EtwError);
    assert.equal(err.code, 'VIGIL_ERR_ETW_ACCESS_DENIED');
    assert.match(err.message, /not elevated.*Run as administrator/);
    return true;
  });
  assert.equal(count('start'), 1);
  await rec.dispose();
});

test('without stop (a crash: the core runs the disposers) the session is still stopped and the trace thread ends', async () => {
  assert.equal(Reset(recordsPath, 0), 0);
  const { rec, s } = sensor();
  await s.start();
  await rec.waitFor((d) => d.type === 'process.stop', 20_000);
  assert.equal(count('running'), 1);
  await rec.dispose();
  assert.equal(count('stop'), 2);
  assert.equal(count('close'), 1);
  assert.equal(count('running'), 0);
  await until(() => count('process') === 1 && rec.failures.length === 0, 'ProcessTrace ran once');
  await s.stop();
});

test('the provider enabled is the one configured, with its level and keywords', async () => {
  assert.equal(Reset(recordsPath, 0), 0);
  const { rec, s } = sensor({ providers: [{ name: 'Microsoft-Windows-Kernel-Process', guid: `{${KERNEL_PROCESS.toLowerCase()}}`, level: 5, keywords: '0x10' }] });
  await s.start();
  assert.equal(count('enable'), 1);
  const guid = new Uint8Array(16);
  const level = [0];
  const kw = [0n];
  LastEnable(guid, level, kw);
  assert.equal(guidText(new DataView(guid.buffer), 0), KERNEL_PROCESS);
  assert.deepEqual([level[0], BigInt(kw[0]!)], [5, 0x10n]);
  await s.stop();
  await rec.dispose();
});

test('an agent that exits without stopping its plugins still stops the session (the process exit hook)', () => {
  const out = join(dir, 'exit.json');
  const child = fileURLToPath(new URL('./etw-exit-child.js', import.meta.url));
  const r = spawnSync(process.execPath, [...process.execArgv, child, out, recordsPath], { env: process.env, encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  const seen = JSON.parse(readFileSync(out, 'utf8')) as { before: { stop: number; running: number }; after: { stop: number; close: number; running: number } };
  assert.deepEqual(seen.before, { stop: 1, running: 1 }, 'running until the exit');
  assert.deepEqual(seen.after, { stop: 2, close: 1, running: 0 }, 'stopped and closed by the exit hook');
});

test('image load, TCP connect, DNS query and script block records come through the whole path', async () => {
  const path = join(dir, 'mixed.vetw');
  const ps = 'Write-Output vigil-etw-check';
  writeFileSync(
    path,
    recordFile(
      [
        processStart({ creatorPid: 900, creatorTid: 904, time: T0, pid: 6000, createTime: T0 - 1, ppid: 900, session: 1, image: '\\Device\\HarddiskVolume3\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe' }),
        {
          provider: KERNEL_PROCESS, id: 5, version: 0, pid: 6000, tid: 6004, time: T0 + 1,
          fields: [
            { name: 'ImageBase', type: 'pointer' as const, value: '0x7ffb10000000' }, { name: 'ImageSize', type: 'pointer' as const, value: '0x1f000' },
            { name: 'ProcessID', type: 'u32' as const, value: 6000 }, { name: 'ImageCheckSum', type: 'u32' as const, value: 0 },
            { name: 'TimeDateStamp', type: 'u32' as const, value: 0 }, { name: 'DefaultBase', type: 'pointer' as const, value: '0x7ffb10000000' },
            { name: 'ImageName', type: 'wstring' as const, value: '\\Device\\HarddiskVolume3\\Windows\\System32\\amsi.dll' },
          ],
        },
        {
          provider: KERNEL_NETWORK, id: 12, version: 0, pid: 4, tid: 8, time: T0 + 2,
          fields: [
            { name: 'PID', type: 'u32' as const, value: 6000 }, { name: 'size', type: 'u32' as const, value: 0 }, { name: 'daddr', type: 'ipv4' as const, value: '93.184.216.34' },
            { name: 'saddr', type: 'ipv4' as const, value: '10.0.2.15' }, { name: 'dport', type: 'port' as const, value: 443 }, { name: 'sport', type: 'port' as const, value: 50000 },
          ],
        },
        {
          provider: DNS_CLIENT, id: 3008, version: 0, pid: 6000, tid: 6008, time: T0 + 3,
          fields: [
            { name: 'QueryName', type: 'wstring' as const, value: 'example.org' }, { name: 'QueryType', type: 'u32' as const, value: 1 },
            { name: 'QueryOptions', type: 'u64' as const, value: 0n }, { name: 'QueryStatus', type: 'u32' as const, value: 0 }, { name: 'QueryResults', type: 'wstring' as const, value: '93.184.216.34;' },
          ],
        },
        {
          provider: POWERSHELL, id: 4104, version: 1, pid: 6000, tid: 6012, time: T0 + 4,
          fields: [
            { name: 'MessageNumber', type: 'i32' as const, value: 1 }, { name: 'MessageTotal', type: 'i32' as const, value: 1 }, { name: 'ScriptBlockText', type: 'wstring' as const, value: ps },
            { name: 'ScriptBlockId', type: 'wstring' as const, value: '0f3b1c52-7a55-4b8e-9a51-1f1e2d3c4b5a' }, { name: 'Path', type: 'wstring' as const, value: '' },
          ],
        },
      ].map(encodeRecord),
    ),
  );
  assert.equal(Reset(path, 0), 0);
  const { rec, s } = sensor();
  await s.start();
  const block = await rec.waitFor((d) => d.type === 'script.block', 20_000);
  const guid = `6000@${T0 - 1}`;
  assert.deepEqual(block.script, { text: ps, block_id: '0f3b1c52-7a55-4b8e-9a51-1f1e2d3c4b5a' });
  assert.equal(block.proc?.guid, guid);
  const img = rec.emitted.find((d) => d.type === 'image.load');
  assert.equal(img?.image?.path, '\\Device\\HarddiskVolume3\\Windows\\System32\\amsi.dll');
  assert.equal(img?.proc?.guid, guid);
  const net = rec.emitted.find((d) => d.type === 'net.connect');
  assert.deepEqual(net?.net, { protocol: 'tcp', initiated: true, ipv6: false, dst_ip: '93.184.216.34', dst_port: 443, src_ip: '10.0.2.15', src_port: 50000 });
  assert.equal(net?.proc?.guid, guid);
  const dns = rec.emitted.find((d) => d.type === 'dns.query');
  assert.deepEqual(dns?.dns, { query: 'example.org', status: '0', answers: '93.184.216.34;' });
  assert.deepEqual(rec.emitted.map((d) => d.type), ['process.start', 'image.load', 'net.connect', 'dns.query', 'script.block']);
  await s.stop();
  await rec.dispose();
});

test('a trace thread stuck in ProcessTrace after the close does not hold stop past stop_timeout_ms', async () => {
  assert.equal(Reset(recordsPath, STUCK_CONSUMER), 0);
  const { rec, s } = sensor({ stop_timeout_ms: 300 });
  await s.start();
  await rec.waitFor((d) => d.type === 'process.stop', 20_000);
  await s.stop();
  assert.equal(count('running'), 0, 'the session is stopped all the same');
  assert.equal(count('close'), 1);
  assert.equal(rec.counters.snapshot().errors['stop:trace_thread_timeout'], 1);
  assert.ok(rec.logs.some((l) => /did not end after the session was closed/.test(l.msg)));
  Release();
  await rec.dispose();
});
