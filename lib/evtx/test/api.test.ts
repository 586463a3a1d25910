/** The public API: streaming and in-memory parsing agree; header and summary are exposed. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { openEvtx, parseEvtxBuffer, readEvtxRecords, type EvtxRecord } from '../index.js';
import { buildEvtx, utf16le } from '../evtx-builder.js';
import { CORPUS_SKIP, corpusFiles } from './corpus.js';

const dir = mkdtempSync(join(tmpdir(), 'vigil-evtx-api-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('streaming a file gives the same records and summary as parsing it in memory', { skip: corpusFiles().length === 0 ? CORPUS_SKIP : false }, async () => {
  const files = corpusFiles();
  const pick = [files[0], files[Math.floor(files.length / 3)], files[Math.floor((2 * files.length) / 3)], files[files.length - 1]];
  for (const f of pick) {
    assert.ok(f);
    const mem = parseEvtxBuffer(readFileSync(f), { file: f });
    const a = [...mem];
    const stream = readEvtxRecords(f);
    const b: EvtxRecord[] = [];
    for await (const r of stream) b.push(r);
    assert.deepEqual(b, a, f);
    assert.deepEqual(stream.summary, mem.summary);
    assert.equal(stream.summary.records, a.length);
  }
});

test('a Sysmon process creation record has its System fields and EventData', { skip: corpusFiles().length === 0 ? CORPUS_SKIP : false }, async () => {
  let found: EvtxRecord | undefined;
  for (const f of corpusFiles()) {
    for await (const r of readEvtxRecords(f)) {
      if (r.system.Provider_Name === 'Microsoft-Windows-Sysmon' && r.system.EventID === 1) {
        found = r;
        break;
      }
    }
    if (found) break;
  }
  assert.ok(found, 'the corpus holds a Sysmon event 1');
  const s = found.system;
  assert.equal(s.Channel, 'Microsoft-Windows-Sysmon/Operational');
  assert.match(s.Provider_Guid ?? '', /^\{[0-9A-F-]{36}\}$/);
  assert.ok(Number.isFinite(s.TimeCreated) && s.TimeCreated > Date.UTC(2010, 0, 1));
  assert.ok(Math.abs(s.TimeCreated - found.timestamp) < 24 * 3600 * 1000);
  assert.equal(typeof s.Execution_ProcessID, 'number');
  assert.match(s.Keywords ?? '', /^0x[0-9a-f]{16}$/);
  assert.equal(typeof found.data['Image'], 'string');
  assert.equal(typeof found.data['CommandLine'], 'string');
  assert.match(String(found.data['ProcessGuid']), /^\{[0-9A-F-]{36}\}$/);
  assert.ok(found.offset >= 4096 + 512);
});

test('renderXml adds the XML only when asked', () => {
  const buf = buildEvtx([{ id: 3, eventId: 104, values: [{ name: 'Channel', type: 0x01, bytes: utf16le('Security') }] }]);
  const [r] = [...parseEvtxBuffer(buf, { renderXml: true })];
  const xml = r?.xml ?? '';
  assert.ok(xml.startsWith('<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event">'));
  assert.match(xml, /<Data Name="Channel">Security<\/Data>/);
  assert.equal([...parseEvtxBuffer(buf)][0]?.xml, undefined);
});

const LOG_CLEARED = corpusFiles().find((f) => f.endsWith('DE_1102_security_log_cleared.evtx'));

test('UserData is flattened to its leaf element names', { skip: LOG_CLEARED ? false : CORPUS_SKIP }, () => {
  assert.ok(LOG_CLEARED);
  const [r] = [...parseEvtxBuffer(readFileSync(LOG_CLEARED))];
  assert.ok(r);
  assert.equal(r.system.EventID, 1102);
  assert.equal(r.system.Provider_Name, 'Microsoft-Windows-Eventlog');
  assert.deepEqual(r.data, {
    SubjectUserSid: 'S-1-5-21-1587066498-1489273250-1035260531-1106',
    SubjectUserName: 'user01',
    SubjectDomainName: 'EXAMPLE',
    SubjectLogonId: '0x0000000000017dad',
  });
});

test('openEvtx exposes the header; a file is iterated once and closed', async () => {
  const p = join(dir, 'small.evtx');
  writeFileSync(p, buildEvtx([{ id: 1, eventId: 1, values: [] }], { dirty: true }));
  const f = await openEvtx(p);
  assert.equal(f.header.majorVersion, 3);
  assert.equal(f.header.minorVersion, 1);
  assert.equal(f.header.dirty, true);
  assert.equal(f.header.chunksInFile, 1);
  const got: EvtxRecord[] = [];
  for await (const r of f) got.push(r);
  assert.equal(got.length, 1);
  assert.equal(got[0]?.file, p);
  assert.equal(got[0]?.chunkIndex, 0);
  assert.equal(f.summary.records, 1);
  assert.equal(f.summary.chunks, 1);
  await assert.rejects(async () => {
    for await (const _r of f.records()) assert.fail();
  }, /iterated once/);
  await f.close();
});
