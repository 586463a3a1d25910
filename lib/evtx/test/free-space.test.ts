/**
 * A chunk whose free-space offset is wrong: the walk must not run into the slack (stale
 * copies of records from an earlier fill of the chunk) and deliver records twice. Each record
 * of a chunk is delivered at most once and the damage is reported.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseEvtxBuffer, type EvtxIssue, type EvtxRecord } from '../index.js';
import { crc32 } from '../crc32.js';
import { buildEvtx, utf16le, type BuiltRecord } from '../evtx-builder.js';
import { CORPUS_SKIP, EVTX_CORPUS } from './corpus.js';

const CHUNK0 = 4096;

const rec = (id: number, tag: string): BuiltRecord => ({
  id,
  eventId: 4688,
  values: [{ name: 'NewProcessName', type: 0x01, bytes: utf16le(`C:\\Windows\\System32\\${tag}${id}.exe`) }],
});
const LIVE = Array.from({ length: 40 }, (_, i) => rec(i + 1, 'live'));
/** What an earlier fill of the chunk left behind: records 1–31 again, with other content. */
const STALE = Array.from({ length: 31 }, (_, i) => rec(i + 1, 'stale'));

function parse(buf: Uint8Array): { recs: EvtxRecord[]; issues: EvtxIssue[]; summary: ReturnType<typeof parseEvtxBuffer>['summary'] } {
  const issues: EvtxIssue[] = [];
  const it = parseEvtxBuffer(buf, { file: 'free-space.evtx', onIssue: (i) => issues.push(i) });
  const recs = [...it];
  return { recs, issues, summary: it.summary };
}

const u32 = (buf: Uint8Array, at: number): number => new DataView(buf.buffer, buf.byteOffset).getUint32(at, true);
function setU32(buf: Uint8Array, at: number, v: number): void {
  new DataView(buf.buffer, buf.byteOffset).setUint32(at, v >>> 0, true);
}
/** Recompute the chunk header CRC so that only the fields we changed are wrong. */
function fixHeaderCrc(buf: Uint8Array, chunk: number): void {
  setU32(buf, chunk + 124, crc32(buf, chunk + 128, chunk + 512, crc32(buf, chunk, chunk + 120)));
}

/**
 * One chunk holding the 40 live records followed by the 31 stale ones, and the header values
 * of the live part alone (where its last record starts and where it ends).
 */
function chunkWithSlack(): { buf: Uint8Array; liveLast: number; liveEnd: number; fullEnd: number } {
  const live = buildEvtx(LIVE);
  const buf = buildEvtx([...LIVE, ...STALE]);
  assert.equal(buf.length, CHUNK0 + 0x10000, 'one chunk');
  return { buf, liveLast: u32(live, CHUNK0 + 44), liveEnd: u32(live, CHUNK0 + 48), fullEnd: u32(buf, CHUNK0 + 48) };
}

const ids = (recs: EvtxRecord[]): number[] => recs.map((r) => r.recordId);
const ONE_TO_40 = Array.from({ length: 40 }, (_, i) => i + 1);

test('a free-space offset past the records, with a matching checksum: 31 repeated ids are delivered once and reported', () => {
  const { buf, liveLast, fullEnd } = chunkWithSlack();
  // The header names the live part's last record, but the free space (and the checksum over
  // the data up to it) take in the slack: the damage the reader used to walk into.
  setU32(buf, CHUNK0 + 44, liveLast);
  fixHeaderCrc(buf, CHUNK0);
  const { recs, issues, summary } = parse(buf);
  assert.deepEqual(ids(recs), ONE_TO_40, 'every record once, in order');
  assert.ok(recs.every((r) => /live/.test(String(r.data['NewProcessName']))), 'the first (live) copy is the one delivered');
  assert.equal(summary.records, 40);
  assert.equal(summary.duplicateRecords, 31);
  const dup = issues.filter((i) => i.kind === 'record-duplicate');
  assert.equal(dup.length, 31);
  assert.match(dup[0]!.message, /^record 1 at chunk offset \d+ repeats the record at chunk offset 512; delivered once$/);
  assert.ok(dup.every((i) => i.chunk === 0 && i.file === 'free-space.evtx' && i.offset > CHUNK0 + liveLast));
  const fs = issues.filter((i) => i.kind === 'chunk-free-space');
  assert.equal(fs.length, 1);
  assert.equal(fs[0]!.offset, CHUNK0 + 48);
  assert.match(fs[0]!.message, new RegExp(`free-space offset ${fullEnd} does not match the end of its last record`));
  assert.ok(!issues.some((i) => i.kind === 'chunk-checksum' || i.kind === 'chunk-data-checksum'), 'the header and data checksums hold');
});

test('a corrupted free-space offset that the record checksum refutes: the walk ends at the last record', () => {
  const { buf, liveLast, liveEnd, fullEnd } = chunkWithSlack();
  // The true header of the live part, with only the free-space offset damaged.
  setU32(buf, CHUNK0 + 44, liveLast);
  setU32(buf, CHUNK0 + 52, crc32(buf, CHUNK0 + 512, CHUNK0 + liveEnd));
  setU32(buf, CHUNK0 + 48, fullEnd);
  const { recs, issues, summary } = parse(buf);
  assert.deepEqual(ids(recs), ONE_TO_40);
  assert.equal(summary.duplicateRecords, 0, 'the slack is not read at all');
  const fs = issues.find((i) => i.kind === 'chunk-free-space');
  assert.match(fs?.message ?? '', new RegExp(`the record checksum confirms the end of the last record: records read up to ${liveEnd}$`));
  // The header CRC was left as it was: that damage is reported too.
  assert.ok(issues.some((i) => i.kind === 'chunk-checksum'));
  assert.ok(issues.some((i) => i.kind === 'chunk-data-checksum'));
});

test('free-space and last-record offsets both unusable: the whole chunk is read and each record id delivered once', () => {
  const { buf } = chunkWithSlack();
  setU32(buf, CHUNK0 + 48, 0xffffffff);
  setU32(buf, CHUNK0 + 44, 0);
  fixHeaderCrc(buf, CHUNK0);
  const { recs, issues, summary } = parse(buf);
  assert.deepEqual(ids(recs), ONE_TO_40);
  assert.equal(summary.duplicateRecords, 31);
  assert.match(issues.find((i) => i.kind === 'chunk-free-space')?.message ?? '', /free-space offset 4294967295 is outside the chunk; the record checksum confirms neither: records read up to 65536$/);
});

test('an intact chunk reports nothing new', () => {
  const { recs, issues, summary } = parse(buildEvtx(LIVE));
  assert.deepEqual(ids(recs), ONE_TO_40);
  assert.deepEqual(issues, []);
  assert.equal(summary.duplicateRecords, 0);
});

const SAMPLE = join(EVTX_CORPUS, 'Lateral Movement', 'LM_wmiexec_impacket_sysmon_whoami.evtx');

test('a real log whose slack holds an older copy of a record: a corrupted free-space offset costs nothing and is reported', { skip: existsSync(SAMPLE) ? false : CORPUS_SKIP }, () => {
  const pristine = new Uint8Array(readFileSync(SAMPLE));
  const expected = ids(parse(pristine).recs);
  assert.deepEqual(expected, [1, 2, 3, 4, 5, 6, 7]);
  for (const bad of [0xffffffff, 0x10000, u32(pristine, CHUNK0 + 48) + 8]) {
    const buf = pristine.slice();
    setU32(buf, CHUNK0 + 48, bad);
    fixHeaderCrc(buf, CHUNK0);
    const { recs, issues } = parse(buf);
    assert.deepEqual(ids(recs), expected, `free space ${bad}`);
    const fs = issues.filter((i) => i.kind === 'chunk-free-space');
    assert.equal(fs.length, 1, `free space ${bad}: ${JSON.stringify(issues)}`);
    assert.match(fs[0]!.message, /the record checksum confirms the end of the last record/);
    assert.ok(!issues.some((i) => i.kind === 'chunk-checksum'));
  }
});
