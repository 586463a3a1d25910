/**
 * Real telemetry: Sysmon 10 (process access) then Sysmon 8 (CreateRemoteThread) into LSASS
 * by the same source process, as recorded in EVTX-ATTACK-SAMPLES. Needs the shared EVTX
 * reader and Windows normalizer; skips with a message while they are missing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EventDraft, VigilEvent, DetectionDraft } from '../../../../core/index.js';
import { testCorrelationRules, loadCorrelationFiles, CorrelationEngine, VirtualClock } from '../index.js';

const ROOT = process.env['VIGIL_PROJECT_ROOT'] ?? resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../..');
const SAMPLES = join(process.env['VIGIL_DATASETS'] ?? resolve(ROOT, '../shared/datasets'), 'evtx-attack-samples');
const RULE = 'win.cred.lsass_access_then_remote_thread';

/** Both halves: 10 (0x1f1fff into lsass) and 8 into lsass by the same source GUID. */
const BOTH = 'Credential Access/CA_sysmon_hashdump_cmd_meterpreter.evtx';
/** Only the access half (Sysmon 10 into lsass, no 8). */
const ACCESS_ONLY = 'Credential Access/sysmon_10_lsass_mimikatz_sekurlsa_logonpasswords.evtx';
/** Only the thread half (Sysmon 8 into lsass, no 10). */
const THREAD_ONLY = 'Credential Access/sysmon_rdrleakdiag_lsass_dump.evtx';

type ReadFn = (path: string) => unknown;
type NormFn = (rec: unknown) => unknown;

async function optional(spec: string, name: string): Promise<unknown> {
  try {
    const mod = (await import(spec)) as Record<string, unknown>;
    return mod[name];
  } catch (err) {
    return `${spec}: ${(err as Error).message}`;
  }
}

async function* records(read: ReadFn, path: string): AsyncGenerator<unknown> {
  let r = read(path);
  if (r instanceof Promise) r = await r;
  if (r !== null && typeof r === 'object' && 'records' in r && Array.isArray((r as { records: unknown }).records)) r = (r as { records: unknown[] }).records;
  if (r !== null && typeof r === 'object' && Symbol.asyncIterator in r) {
    for await (const x of r as AsyncIterable<unknown>) yield x;
  } else if (r !== null && typeof r === 'object' && Symbol.iterator in r) {
    for (const x of r as Iterable<unknown>) yield x;
  } else throw new Error(`readEvtxRecords returned ${typeof r}`);
}

async function replay(read: ReadFn, norm: NormFn, file: string): Promise<DetectionDraft[]> {
  const loaded = loadCorrelationFiles([join(ROOT, 'rules/correlation')]);
  const rule = loaded.compiled.find((c) => c.doc.id === RULE);
  assert.ok(rule, `${RULE} is in the pack`);
  const clock = new VirtualClock(0);
  const fired: DetectionDraft[] = [];
  const engine = new CorrelationEngine({ clock, onDetection: (d) => fired.push(d) });
  engine.load([rule]);
  let seq = 0;
  for await (const rec of records(read, join(SAMPLES, file))) {
    const out = norm(rec);
    const drafts = (Array.isArray(out) ? out : [out]).filter((d): d is EventDraft => d !== null && typeof d === 'object' && typeof (d as EventDraft).type === 'string');
    for (const d of drafts) {
      seq++;
      const e = { ...d, id: `r-${seq}`, seq, received: d.time, source: 'evtx', host: d.host ?? { name: 'evtx' } } as VigilEvent;
      if (e.time > clock.now()) clock.set(e.time);
      engine.onEvents([e]);
    }
  }
  engine.drain();
  return fired;
}

test('real EVTX: lsass access then remote thread fires only where both halves are recorded', async (t) => {
  if (!existsSync(SAMPLES)) {
    t.skip(`EVTX samples not found at ${SAMPLES} (set VIGIL_DATASETS)`);
    return;
  }
  const read = await optional('../../../../lib/evtx/index.js', 'readEvtxRecords');
  const norm = await optional('../../../../lib/windows/index.js', 'normalizeWindowsEvent');
  if (typeof read !== 'function' || typeof norm !== 'function') {
    t.skip(`needs lib/evtx readEvtxRecords and lib/windows normalizeWindowsEvent (${[read, norm].filter((x) => typeof x === 'string').join('; ')})`);
    return;
  }
  const both = await replay(read as ReadFn, norm as NormFn, BOTH);
  assert.ok(both.length >= 1, `${BOTH}: expected the sequence to fire`);
  const ev = both[0]?.evidence ?? [];
  assert.deepEqual([...new Set(ev.map((e) => e.type))], ['process.access', 'thread.remote_create']);
  assert.match(ev[0]?.target?.image ?? '', /lsass\.exe$/i);
  assert.equal(ev[0]?.proc?.guid?.toLowerCase(), ev[1]?.proc?.guid?.toLowerCase());
  assert.equal((await replay(read as ReadFn, norm as NormFn, ACCESS_ONLY)).length, 0, `${ACCESS_ONLY} has only the access`);
  assert.equal((await replay(read as ReadFn, norm as NormFn, THREAD_ONLY)).length, 0, `${THREAD_ONLY} has only the thread`);
});

test('the pack rule itself passes its fixtures (independent of the EVTX modules)', () => {
  const rep = testCorrelationRules([join(ROOT, 'rules/correlation', `${RULE}.json`)]);
  assert.equal(rep.failed, 0, JSON.stringify(rep.failures));
});
