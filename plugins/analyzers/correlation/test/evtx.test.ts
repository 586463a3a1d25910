/**
 * Real telemetry: Sysmon 10 (process access) then Sysmon 8 (CreateRemoteThread) into LSASS
 * by the same source process, as recorded in EVTX-ATTACK-SAMPLES, read with lib/evtx and
 * normalized with lib/windows as replay does. Skips with a message when the samples are absent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { VigilEvent, DetectionDraft } from '../../../../core/index.js';
import { readEvtxRecords } from '../../../../lib/evtx/index.js';
import { normalizeWindowsEvent } from '../../../../lib/windows/index.js';
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

async function replay(file: string): Promise<DetectionDraft[]> {
  const loaded = await loadCorrelationFiles([join(ROOT, 'rules/correlation')]);
  const rule = loaded.compiled.find((c) => c.doc.id === RULE);
  assert.ok(rule, `${RULE} is in the pack`);
  const clock = new VirtualClock(0);
  const fired: DetectionDraft[] = [];
  const engine = new CorrelationEngine({ clock, onDetection: (d) => fired.push(d) });
  engine.load([rule]);
  let seq = 0;
  for await (const rec of readEvtxRecords(join(SAMPLES, file))) {
    const d = normalizeWindowsEvent(rec);
    seq++;
    const e = { ...d, id: `r-${seq}`, seq, received: d.time, source: 'evtx', host: d.host ?? { name: 'evtx' } } as VigilEvent;
    if (e.time > clock.now()) clock.set(e.time);
    engine.onEvents([e]);
  }
  engine.drain();
  return fired;
}

test('real EVTX: lsass access then remote thread fires only where both halves are recorded', async (t) => {
  if (!existsSync(SAMPLES)) {
    t.skip(`EVTX samples not found at ${SAMPLES} (set VIGIL_DATASETS)`);
    return;
  }
  const both = await replay(BOTH);
  assert.ok(both.length >= 1, `${BOTH}: expected the sequence to fire`);
  const ev = both[0]?.evidence ?? [];
  assert.deepEqual([...new Set(ev.map((e) => e.type))], ['process.access', 'thread.remote_create']);
  assert.match(ev[0]?.target?.image ?? '', /lsass\.exe$/i);
  assert.equal(ev[0]?.proc?.guid?.toLowerCase(), ev[1]?.proc?.guid?.toLowerCase());
  assert.equal((await replay(ACCESS_ONLY)).length, 0, `${ACCESS_ONLY} has only the access`);
  assert.equal((await replay(THREAD_ONLY)).length, 0, `${THREAD_ONLY} has only the thread`);
});

test('the pack rule itself passes its fixtures (independent of the EVTX modules)', async () => {
  const rep = await testCorrelationRules([join(ROOT, 'rules/correlation', `${RULE}.json`)]);
  assert.equal(rep.failed, 0, JSON.stringify(rep.failures));
});
