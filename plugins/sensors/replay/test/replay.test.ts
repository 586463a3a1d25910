import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { EVENT_TYPES, type EventDraft, type SensorContext, type VigilPlugin } from '../../../../core/index.js';
import { datasetsDir, projectRoot, recordingContext, type Recording, type RecordingOptions } from '../../../../testing/index.js';
import { windowsEventTypes } from '../../../../lib/windows/index.js';
import { plugin, type ReplayConfig } from '../index.js';

const REAL_XML = join(projectRoot(), 'lib', 'windows', 'test', 'fixtures', 'real-events.xml');
const SYSMON = 'Microsoft-Windows-Sysmon/Operational';

async function tmp(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'vigil-replay-'));
}

function cfg(paths: string[], extra: Partial<ReplayConfig> = {}): ReplayConfig {
  return { paths, formats: ['evtx', 'jsonl', 'xml'], merge_by_time: false, max_line_bytes: 1024 * 1024, ...extra };
}

type Rec = Recording<SensorContext<ReplayConfig>>;

/** The sensor's context as the core builds it, recording what it does; logs kept from debug up. */
function context(config: ReplayConfig, opts: RecordingOptions = {}): Rec {
  return recordingContext(plugin, { config, logLevel: 'debug', ...opts });
}

interface Run {
  ctx: Rec;
  sensor: ReturnType<typeof plugin.create>;
}

/** Start a replay and wait for finished() (or for `until` when given). */
async function replay(config: ReplayConfig, opts: RecordingOptions = {}, until?: (r: Run) => Promise<void>): Promise<Run> {
  const ctx = context(config, opts);
  const sensor = plugin.create(ctx.ctx);
  const run = { ctx, sensor };
  await sensor.start();
  await (until ? until(run) : ctx.whenFinished);
  await sensor.stop();
  return run;
}

function vigilLine(type: string, time: number, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ type, time, ...extra });
}

function discarded(ctx: Rec, reason: string): number {
  return ctx.counters.snapshot().discarded[reason]?.count ?? 0;
}

function warnings(ctx: Rec): string[] {
  return ctx.logs.filter((l) => l.level === 40).map((l) => l.msg);
}

test('JSONL: a malformed line in the middle is counted and reported, the rest delivered in order', { timeout: 20_000 }, async () => {
  const dir = await tmp();
  const file = join(dir, 'events.jsonl');
  await writeFile(
    file,
    [
      vigilLine('process.start', 1000, { proc: { pid: 1, image: 'C:\\a.exe' } }),
      vigilLine('process.stop', 2000, { id: 'boot-1', seq: 7, received: 5, source: 'sysmon', host: { name: 'h1' } }),
      '{"type": "file.create", "time": 30', // truncated
      '',
      '[1, 2, 3]',
      vigilLine('dns.query', '2020-01-01T00:00:00.500Z' as unknown as number, { dns: { query: 'example.org' } }),
      vigilLine('net.connect', 4000) + '\r',
    ].join('\n'),
  );
  const { ctx, sensor } = await replay(cfg([file]));
  assert.deepEqual(
    ctx.emitted.map((d) => d.type),
    ['process.start', 'process.stop', 'dns.query', 'net.connect'],
  );
  const stop = ctx.emitted[1] as EventDraft & Record<string, unknown>;
  assert.equal(stop['id'], undefined, 'envelope stamps of an exported event are dropped');
  assert.equal(stop['seq'], undefined);
  assert.deepEqual(stop.host, { name: 'h1' });
  assert.equal(ctx.emitted[2]?.time, Date.UTC(2020, 0, 1, 0, 0, 0, 500), 'ISO time accepted');
  const snap = ctx.counters.snapshot();
  assert.equal(snap.received, 6, 'blank line is not a record');
  assert.equal(snap.emitted, 4);
  assert.equal(discarded(ctx, 'parse_error'), 1);
  assert.equal(discarded(ctx, 'unrecognized_record'), 1);
  assert.equal(snap.errors['receive:parse:json'], 1);
  assert.equal(snap.errors['receive:parse:record'], 1);
  assert.equal(snap.received, snap.emitted + discarded(ctx, 'parse_error') + discarded(ctx, 'unrecognized_record'));
  assert.equal(snap.custom['files'], 1);
  assert.equal(snap.custom['records'], 6);
  const w = warnings(ctx);
  assert.ok(w.some((m) => m.includes(file) && m.includes('line 3')), `warning names file and line: ${w.join(' | ')}`);
  assert.ok(w.some((m) => m.includes('line 5')));
  assert.equal(ctx.finishedCalls, 1);
  assert.equal(sensor.summary?.()['state'], 'finished');
  await rm(dir, { recursive: true });
});

test('JSONL in the evtx_dump layout is normalized like EVTX', { timeout: 20_000 }, async () => {
  const dir = await tmp();
  const file = join(dir, 'dump.ndjson');
  const sysmon1 = {
    Event: {
      '#attributes': { xmlns: 'http://schemas.microsoft.com/win/2004/08/events/event' },
      System: {
        Provider: { '#attributes': { Name: 'Microsoft-Windows-Sysmon', Guid: '5770385F-C22A-43E0-BF4C-06F5698FFBD9' } },
        EventID: 1,
        Version: 5,
        Level: 4,
        Task: 1,
        Opcode: 0,
        Keywords: '0x8000000000000000',
        TimeCreated: { '#attributes': { SystemTime: '2019-03-19T23:40:02.510283Z' } },
        EventRecordID: 5497,
        Correlation: null,
        Execution: { '#attributes': { ProcessID: 1844, ThreadID: 2932 } },
        Channel: SYSMON,
        Computer: 'PC01.example.corp',
        Security: { '#attributes': { UserID: 'S-1-5-18' } },
      },
      EventData: {
        RuleName: '',
        UtcTime: '2019-03-19 23:40:02.506',
        ProcessGuid: '365ABB72-7D22-5C91-0000-0010A5B30F00',
        ProcessId: 3884,
        Image: 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe',
        CommandLine: 'powershell.exe -nop -w hidden -enc SQBFAFgA',
        Hashes: 'SHA1=1B3B40FBC889FD4C645CC12C85D0805AC36BA254,MD5=95000560239032BC68B4C2FDFCDEF913',
        ParentProcessId: 4488,
        ParentImage: 'C:\\Windows\\System32\\cmd.exe',
      },
    },
  };
  const service = {
    Event: {
      System: {
        Provider: { '#attributes': { Name: 'Service Control Manager' } },
        EventID: { '#attributes': { Qualifiers: 16384 }, '#text': 7045 },
        TimeCreated: { '#attributes': { SystemTime: '2019-05-12T12:52:43.702578Z' } },
        Channel: 'System',
        Computer: 'IEWIN7',
      },
      EventData: { ServiceName: 'WinPwnage', ImagePath: '%COMSPEC% /c ping -n 1 127.0.0.1', StartType: 'demand start' },
    },
  };
  // evtx_dump --separate-json-attributes puts attributes in `<name>_attributes`.
  const separate = {
    Event: {
      System: {
        Provider_attributes: { Name: 'Microsoft-Windows-Security-Auditing' },
        EventID: '4688',
        TimeCreated_attributes: { SystemTime: '2019-05-11T17:10:10.342Z' },
        Channel: 'Security',
        Computer: 'IEWIN7',
      },
      EventData: { NewProcessId: '0x4f0', NewProcessName: 'C:\\Python27\\python.exe', ProcessId: '0x12c' },
    },
  };
  const noEventId = { Event: { System: { Channel: 'Security' }, EventData: {} } };
  await writeFile(file, [sysmon1, service, separate, noEventId].map((o) => JSON.stringify(o)).join('\n') + '\n');
  const { ctx } = await replay(cfg([file]));
  assert.deepEqual(
    ctx.emitted.map((d) => d.type),
    ['process.start', 'service.install', 'process.start'],
  );
  const [p1, svc, p2] = ctx.emitted;
  assert.equal(p1?.proc?.pid, 3884);
  assert.equal(p1?.proc?.name, 'powershell.exe');
  assert.equal(p1?.parent?.name, 'cmd.exe');
  assert.deepEqual(p1?.proc?.hashes, { sha1: '1B3B40FBC889FD4C645CC12C85D0805AC36BA254', md5: '95000560239032BC68B4C2FDFCDEF913' });
  assert.equal(p1?.time, Date.UTC(2019, 2, 19, 23, 40, 2, 506));
  assert.equal(p1?.raw?.['EventID'], 1);
  assert.equal(p1?.raw?.['Execution_ProcessID'], 1844);
  assert.deepEqual(p1?.host, { name: 'PC01.example.corp' });
  assert.equal(svc?.raw?.['EventID'], 7045);
  assert.equal(svc?.raw?.['EventID_Qualifiers'], 16384);
  assert.equal(svc?.service?.start_type, 'demand start');
  assert.equal(p2?.proc?.pid, 0x4f0);
  assert.equal(p2?.raw?.['Provider_Name'], 'Microsoft-Windows-Security-Auditing');
  assert.equal(p2?.time, Date.UTC(2019, 4, 11, 17, 10, 10, 342));
  assert.equal(discarded(ctx, 'unrecognized_record'), 1, 'event without EventID');
  assert.ok(warnings(ctx).some((m) => m.includes('line 4') && m.includes('EventID')));
  await rm(dir, { recursive: true });
});

test('XML: real rendered events, a damaged event and UTF-16 files, folders searched recursively', { timeout: 20_000 }, async () => {
  const dir = await tmp();
  await mkdir(join(dir, 'a', 'b'), { recursive: true });
  await copyFile(REAL_XML, join(dir, 'a', 'b', 'real.xml'));
  const real = await readFile(REAL_XML, 'utf8');
  const events = real.split('</Event>').filter((s) => s.includes('<Event')).map((s) => s.slice(s.indexOf('<Event')) + '</Event>');
  const damaged = (events[0] ?? '').replace('</System>', '</Sistem>');
  // Event Viewer "Save as XML" wraps in <Events>; wevtutil often writes UTF-16LE with a BOM.
  const wrapped = `<?xml version="1.0" encoding="utf-16"?>\r\n<Events>${events[1]}${damaged}${events[2]}</Events>`;
  await writeFile(join(dir, 'a', 'saved.XML'), Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(wrapped, 'utf16le')]));
  await writeFile(join(dir, 'notes.txt'), 'not telemetry');
  const { ctx } = await replay(cfg([dir]));
  assert.equal(ctx.emitted.length, 29 + 2);
  // Folder order is by name: a/b/real.xml before a/saved.XML.
  const types = ctx.emitted.map((d) => d.type);
  for (const t of ['process.start', 'process.access', 'net.connect', 'registry.delete', 'service.install', 'logon.success', 'script.block', 'windows.event']) {
    assert.ok(types.includes(t), `replayed a ${t}`);
  }
  const snap = ctx.counters.snapshot();
  assert.equal(snap.received, 32);
  assert.equal(discarded(ctx, 'parse_error'), 1);
  assert.equal(snap.errors['receive:parse:xml'], 1);
  assert.equal(snap.custom['files'], 2);
  assert.equal(snap.custom['files_skipped'], 1, 'notes.txt');
  assert.ok(warnings(ctx).some((m) => m.includes('saved.XML') && /line \d+/.test(m) && m.includes('Sistem')));
  const last = ctx.emitted.at(-1);
  assert.equal(last?.raw?.['EventRecordID'], Number(/<EventRecordID>(\d+)</.exec(events[2] ?? '')?.[1]));
  await rm(dir, { recursive: true });
});

test('formats and channels filter what is replayed', { timeout: 20_000 }, async () => {
  const dir = await tmp();
  await copyFile(REAL_XML, join(dir, 'real.xml'));
  await writeFile(join(dir, 'x.jsonl'), vigilLine('process.start', 1) + '\n');
  const onlyJson = await replay(cfg([dir], { formats: ['jsonl'] }));
  assert.deepEqual(onlyJson.ctx.emitted.map((d) => d.type), ['process.start']);
  assert.equal(onlyJson.ctx.counters.snapshot().custom['files_skipped'], 1);

  const security = await replay(cfg([join(dir, 'real.xml')], { channels: ['security'] }));
  assert.ok(security.ctx.emitted.length >= 6);
  assert.ok(security.ctx.emitted.every((d) => d.raw?.['Channel'] === 'Security'));
  const snap = security.ctx.counters.snapshot();
  assert.equal(snap.discarded['channel_filtered']?.intended, true);
  assert.equal(snap.received, snap.emitted + (snap.discarded['channel_filtered']?.count ?? 0));
  assert.equal(security.ctx.counters.lostTotal, 0, 'filtering is not loss');
  await rm(dir, { recursive: true });
});

test('merge_by_time interleaves files by event time; without it files go one after another', { timeout: 20_000 }, async () => {
  const dir = await tmp();
  await writeFile(join(dir, '1.jsonl'), [10, 30, 50, 70].map((t) => vigilLine('process.start', t, { raw: { f: 1 } })).join('\n'));
  await writeFile(join(dir, '2.jsonl'), [20, 30, 40, 80, 90].map((t) => vigilLine('process.stop', t, { raw: { f: 2 } })).join('\n'));
  await writeFile(join(dir, '3.jsonl'), [5, 60].map((t) => vigilLine('file.create', t, { raw: { f: 3 } })).join('\n'));
  const seq = await replay(cfg([dir]));
  assert.deepEqual(seq.ctx.emitted.map((d) => d.time), [10, 30, 50, 70, 20, 30, 40, 80, 90, 5, 60]);
  const merged = await replay(cfg([dir], { merge_by_time: true }));
  assert.deepEqual(merged.ctx.emitted.map((d) => d.time), [5, 10, 20, 30, 30, 40, 50, 60, 70, 80, 90]);
  // Equal times keep file order.
  assert.deepEqual(merged.ctx.emitted.filter((d) => d.time === 30).map((d) => d.raw?.['f']), [1, 2]);
  assert.equal(merged.ctx.finishedCalls, 1);
  assert.equal(merged.sensor.summary?.()['files_done'], 3);
  await rm(dir, { recursive: true });
});

test('back-pressure: every emit Promise is awaited and nothing is lost', { timeout: 20_000 }, async () => {
  const dir = await tmp();
  let inFlight = 0;
  let maxInFlight = 0;
  await writeFile(join(dir, 'e.jsonl'), Array.from({ length: 50 }, (_, i) => vigilLine('process.start', i)).join('\n'));
  const ctx = context(cfg([dir]));
  const emit = ctx.ctx.emit.bind(ctx.ctx);
  const wrapped = Object.assign(Object.create(ctx.ctx) as typeof ctx.ctx, {
    emit(d: EventDraft): Promise<void> {
      emit(d);
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      return new Promise<void>((r) => setImmediate(() => {
        inFlight--;
        r();
      }));
    },
  });
  const sensor = plugin.create(wrapped);
  await sensor.start();
  await ctx.whenFinished;
  assert.equal(ctx.emitted.length, 50);
  assert.equal(maxInFlight, 1, 'never emits while the previous emit is pending');
  await rm(dir, { recursive: true });
});

test('stop() ends a replay promptly, is idempotent and safe without start', { timeout: 20_000 }, async () => {
  const idle = plugin.create(context(cfg(['/nonexistent'])).ctx);
  await idle.stop();
  await idle.stop();

  const dir = await tmp();
  await writeFile(join(dir, 'big.jsonl'), Array.from({ length: 20_000 }, (_, i) => vigilLine('process.start', i)).join('\n'));
  const holder: { sensor?: ReturnType<typeof plugin.create> } = {};
  let stopping: Promise<void> | undefined;
  const ctx = context(cfg([dir]), {
    onEmit: (_d, n) => {
      if (n === 100) stopping = holder.sensor?.stop();
    },
  });
  const sensor = plugin.create(ctx.ctx);
  holder.sensor = sensor;
  await sensor.start();
  while (stopping === undefined) await new Promise((r) => setTimeout(r, 5));
  await stopping;
  await sensor.stop();
  assert.ok(ctx.emitted.length >= 100 && ctx.emitted.length < 20_000, `stopped after ${ctx.emitted.length}`);
  const n = ctx.emitted.length;
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(ctx.emitted.length, n, 'nothing emitted after stop');
  assert.equal(ctx.finishedCalls, 0, 'a stopped replay is not finished');
  assert.equal(sensor.summary?.()['state'], 'stopped');

  // Stopping while blocked on a full queue (an emit Promise that never resolves in time).
  const blocked = context(cfg([dir]), { onEmit: () => new Promise<void>((r) => setTimeout(r, 600_000).unref()) });
  const s2 = plugin.create(blocked.ctx);
  await s2.start();
  while (blocked.emitted.length === 0) await new Promise((r) => setTimeout(r, 5));
  await s2.stop();
  assert.equal(blocked.emitted.length, 1);

  // The core aborting the plugin's signal stops it too.
  const core = context(cfg([dir]), { onEmit: (_d, k) => k === 10 && core.abort() });
  const s3 = plugin.create(core.ctx);
  await s3.start();
  while (s3.summary?.()['state'] === 'running') await new Promise((r) => setTimeout(r, 5));
  assert.equal(s3.summary?.()['state'], 'stopped');
  assert.ok(core.emitted.length < 20_000);
  await s3.stop();
  await rm(dir, { recursive: true });
});

test('missing paths, unsupported files and refused events are counted; the rest goes on', { timeout: 20_000 }, async () => {
  const dir = await tmp();
  await writeFile(join(dir, 'ok.jsonl'), [vigilLine('x.acme.custom', 1), vigilLine('process.start', 2)].join('\n'));
  await writeFile(join(dir, 'data.csv'), 'a,b');
  await writeFile(join(dir, 'broken.evtx'), 'this is not an evtx file at all, far too short and no signature');
  const { ctx, sensor } = await replay(cfg([join(dir, 'missing'), join(dir, 'data.csv'), dir, join(dir, 'ok.jsonl')]));
  assert.deepEqual(ctx.emitted.map((d) => d.type), ['process.start'], 'the file listed twice is replayed once');
  const snap = ctx.counters.snapshot();
  assert.equal(discarded(ctx, 'file_unreadable'), 2, 'missing path and broken.evtx');
  assert.equal(discarded(ctx, 'unsupported_format'), 1);
  assert.equal(discarded(ctx, 'emit_rejected'), 1);
  assert.equal(snap.errors['send:VIGIL_ERR_PLUGIN_UNDECLARED_TYPE'], 1);
  assert.equal(snap.errors['receive:read:ENOENT'], 1);
  const w = warnings(ctx);
  assert.ok(w.some((m) => m.includes('missing')));
  assert.ok(w.some((m) => m.includes('broken.evtx')));
  assert.equal(ctx.finishedCalls, 1);
  assert.equal(sensor.summary?.()['files_failed'], 3);
  assert.deepEqual(ctx.failures, []);
  await rm(dir, { recursive: true });
});

test('manifest: declared types, config schema with defaults, create() does no I/O', () => {
  const m = plugin.manifest;
  assert.equal(m.id, 'replay');
  assert.equal(m.kind, 'sensor');
  assert.equal(m.delivery, 'replay');
  assert.deepEqual(m.platforms, ['any']);
  for (const t of [...EVENT_TYPES, ...windowsEventTypes()]) assert.ok(m.produces.includes(t), t);
  const asVigil: VigilPlugin = plugin as VigilPlugin;
  assert.equal(asVigil.manifest.id, 'replay');

  const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true });
  const validate = ajv.compile(m.configSchema);
  const c: Record<string, unknown> = { paths: ['logs'] };
  assert.equal(validate(c), true);
  assert.deepEqual(c, { paths: ['logs'], formats: ['evtx', 'jsonl', 'xml'], merge_by_time: false, max_line_bytes: 1048576 });
  assert.equal(validate({ paths: ['x'], bogus: 1 }), false, 'unknown keys refused');
  const empty: Record<string, unknown> = {};
  assert.equal(validate(empty), true, 'no paths is valid: an idle replay sensor (vigil replay fills paths in)');
  assert.deepEqual(empty['paths'], []);
  assert.equal(validate({ paths: ['x'], formats: ['csv'] }), false);

  const ctx = context(cfg(['/definitely/not/here']));
  plugin.create(ctx.ctx);
  assert.equal(ctx.logs.length, 0);
  assert.equal(ctx.counters.received, 0);
});

const SYSMON_EVTX = join(datasetsDir(), 'evtx-attack-samples', 'Defense Evasion', 'sysmon_10_1_ppid_spoofing.evtx');

test('EVTX: a real Sysmon log replays with the right event types', { timeout: 30_000 }, async (t) => {
  if (!existsSync(SYSMON_EVTX)) {
    t.skip(`dataset not found: ${SYSMON_EVTX} (set VIGIL_DATASETS)`);
    return;
  }
  const { ctx } = await replay(cfg([SYSMON_EVTX]));
  const snap = ctx.counters.snapshot();
  assert.ok(snap.received > 0);
  assert.equal(snap.emitted, snap.received, 'every record emitted');
  assert.equal(ctx.counters.lostTotal, 0);
  const types = new Set(ctx.emitted.map((d) => d.type));
  assert.ok(types.has('process.start') && types.has('process.access'), [...types].join(','));
  const access = ctx.emitted.find((d) => d.type === 'process.access');
  assert.equal(access?.access?.granted, 0x1f3fff);
  assert.equal(access?.proc?.name, 'powershell.exe');
  assert.equal(access?.target?.pid, 4668);
  assert.equal(access?.host?.name, 'MSEDGEWIN10');
  assert.equal(access?.raw?.['Channel'], SYSMON);
  // Record order within the file is kept.
  const ids = ctx.emitted.map((d) => d.raw?.['EventRecordID'] as number);
  assert.deepEqual(ids, [...ids].sort((a, b) => a - b));
});
