/**
 * Damaged input: unreadable headers raise EvtxError naming the file; damage below the
 * header is reported through onIssue (with file and offset), counted in the summary, and
 * every readable record is still delivered.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { EvtxError, openEvtx, parseEvtxBuffer, readEvtxRecords, type EvtxIssue, type EvtxRecord } from '../index.js';
import { buildEvtx, utf16le } from '../evtx-builder.js';
import { CORPUS_SKIP, corpusFiles } from './corpus.js';

const dir = mkdtempSync(join(tmpdir(), 'vigil-evtx-damage-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function tmpFile(name: string, bytes: Uint8Array | string): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

/** 600 records over 3+ chunks, each with a distinctive value. */
const RECORDS = Array.from({ length: 600 }, (_, i) => ({
  id: 1 + i,
  eventId: 4688,
  values: [
    { name: 'NewProcessName', type: 0x01, bytes: utf16le(`C:\\Windows\\System32\\proc${i}.exe`) },
    { name: 'Index', type: 0x08, bytes: Uint8Array.of(i & 0xff, i >> 8, 0, 0) },
  ],
}));
const GOOD = buildEvtx(RECORDS);
const CHUNK0 = 4096;
const CHUNK1 = 4096 + 0x10000;

function collect(buf: Uint8Array, file = 'damaged.evtx'): { recs: EvtxRecord[]; issues: EvtxIssue[]; summary: ReturnType<typeof parseEvtxBuffer>['summary'] } {
  const issues: EvtxIssue[] = [];
  const it = parseEvtxBuffer(buf, { file, onIssue: (i) => issues.push(i) });
  const recs = [...it];
  return { recs, issues, summary: it.summary };
}

async function rejection(p: Promise<unknown>): Promise<EvtxError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof EvtxError, `expected EvtxError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a rejection');
}

test('a zero-length file is refused with VIGIL_ERR_EVTX_TRUNCATED naming the file', async () => {
  const p = tmpFile('empty.evtx', new Uint8Array(0));
  const e = await rejection(openEvtx(p));
  assert.equal(e.code, 'VIGIL_ERR_EVTX_TRUNCATED');
  assert.equal(e.file, p);
  assert.match(e.message, /empty\.evtx/);
  assert.match(e.message, /offset 0/);
  const e2 = await rejection((async () => {
    for await (const _r of readEvtxRecords(p)) assert.fail('no record expected');
  })());
  assert.equal(e2.code, 'VIGIL_ERR_EVTX_TRUNCATED');
  assert.throws(() => parseEvtxBuffer(new Uint8Array(0), { file: 'x.evtx' }), (err: unknown) => err instanceof EvtxError && /x\.evtx/.test(err.message));
});

test('a file that is not EVTX is refused with VIGIL_ERR_EVTX_NOT_EVTX', async () => {
  const p = tmpFile('notes.evtx', 'This is a text file, not a Windows event log.\n'.repeat(200));
  const e = await rejection(openEvtx(p));
  assert.equal(e.code, 'VIGIL_ERR_EVTX_NOT_EVTX');
  assert.match(e.message, /notes\.evtx/);
  assert.match(e.message, /ElfFile/);
  const jsonl = tmpFile('events.evtx', '{"EventID":1}\n');
  assert.equal((await rejection(openEvtx(jsonl))).code, 'VIGIL_ERR_EVTX_NOT_EVTX');
});

test('a file cut inside its header is refused with VIGIL_ERR_EVTX_TRUNCATED', async () => {
  const p = tmpFile('head.evtx', GOOD.subarray(0, 60));
  const e = await rejection(openEvtx(p));
  assert.equal(e.code, 'VIGIL_ERR_EVTX_TRUNCATED');
  assert.match(e.message, /head\.evtx/);
});

test('a missing file is an EvtxError, not a crash', async () => {
  const e = await rejection(openEvtx(join(dir, 'does-not-exist.evtx')));
  assert.equal(e.code, 'VIGIL_ERR_EVTX_IO');
  assert.match(e.message, /does-not-exist\.evtx/);
});

test('a file truncated inside a chunk still yields every complete record before the cut', async () => {
  const cut = CHUNK1 + 30000;
  const p = tmpFile('cut.evtx', GOOD.subarray(0, cut));
  const issues: EvtxIssue[] = [];
  const stream = readEvtxRecords(p, { onIssue: (i) => issues.push(i) });
  const recs: EvtxRecord[] = [];
  for await (const r of stream) recs.push(r);
  const full = collect(GOOD).recs;
  const expected = full.filter((r) => r.offset + 8 < cut && r.offset < cut);
  // Every record wholly inside the kept bytes comes out, in order, with its values.
  const wholly = full.filter((r) => {
    const size = new DataView(GOOD.buffer, GOOD.byteOffset).getUint32(r.offset + 4, true);
    return r.offset + size <= cut;
  });
  assert.deepEqual(recs.map((r) => r.recordId), wholly.map((r) => r.recordId));
  assert.ok(wholly.length > 0 && wholly.length < full.length);
  assert.ok(expected.length >= wholly.length);
  const t = issues.find((i) => i.kind === 'chunk-truncated');
  assert.ok(t, 'truncation reported');
  assert.equal(t.file, p);
  assert.equal(t.chunk, 1);
  assert.equal(t.offset, cut);
  assert.equal(stream.summary.records, wholly.length);
  assert.ok(stream.summary.badRecords <= 1);
  assert.equal(recs[recs.length - 1]?.data['NewProcessName'], `C:\\Windows\\System32\\proc${wholly.length - 1}.exe`);
});

test('a flipped byte in a record value is a checksum warning; all records still come out', () => {
  const buf = GOOD.slice();
  const full = collect(GOOD).recs;
  const target = full[5] as EvtxRecord;
  // Change one character of proc5.exe inside the record's value data.
  const text = utf16le('proc5.exe');
  let at = -1;
  for (let i = target.offset; i < target.offset + 2000 && at < 0; i++) {
    if (text.every((b, k) => buf[i + k] === b)) at = i;
  }
  assert.ok(at > 0);
  buf[at] = 'X'.charCodeAt(0);
  const { recs, issues, summary } = collect(buf);
  assert.equal(recs.length, 600);
  assert.equal(recs[5]?.data['NewProcessName'], 'C:\\Windows\\System32\\Xroc5.exe');
  const i = issues.find((x) => x.kind === 'chunk-data-checksum');
  assert.ok(i);
  assert.equal(i.chunk, 0);
  assert.equal(i.file, 'damaged.evtx');
  assert.equal(summary.checksumMismatches, 1);
  assert.equal(summary.badRecords, 0);
});

test('a broken record header is skipped and parsing resumes at the next record', () => {
  const buf = GOOD.slice();
  const full = collect(GOOD).recs;
  const target = full[10] as EvtxRecord;
  buf[target.offset] = 0x00; // record signature
  const { recs, issues, summary } = collect(buf);
  assert.equal(recs.length, 599);
  assert.ok(!recs.some((r) => r.recordId === target.recordId));
  const bad = issues.find((x) => x.kind === 'record-bad');
  assert.ok(bad);
  assert.equal(bad.offset, target.offset);
  assert.match(bad.message, /resuming/);
  assert.equal(summary.badRecords, 1);
});

test('damaged BinXml inside one record drops that record only, with its offset', () => {
  const buf = GOOD.slice();
  const full = collect(GOOD).recs;
  const target = full[20] as EvtxRecord;
  // Records start their BinXml at +24 with a fragment header then a template instance (0x0c).
  buf[target.offset + 28] = 0x77;
  const { recs, issues, summary } = collect(buf);
  assert.equal(recs.length, 599);
  const bx = issues.find((x) => x.kind === 'binxml');
  assert.ok(bx);
  assert.match(bx.message, new RegExp(`record ${target.recordId} at file offset ${target.offset}`));
  assert.equal(summary.badRecords, 1);
});

test('a chunk with a wrong signature is reported and skipped; other chunks are read', () => {
  const buf = GOOD.slice();
  buf[CHUNK1] = 0x58;
  const { recs, issues, summary } = collect(buf);
  const full = collect(GOOD).recs;
  const inChunk1 = full.filter((r) => r.chunkIndex === 1).length;
  assert.ok(inChunk1 > 0);
  assert.equal(recs.length, full.length - inChunk1);
  assert.ok(recs.some((r) => r.chunkIndex === 2));
  const i = issues.find((x) => x.kind === 'chunk-bad-signature');
  assert.ok(i);
  assert.equal(i.offset, CHUNK1);
  assert.equal(i.chunk, 1);
  assert.equal(summary.skippedChunks, 1);
});

test('a dirty header that declares fewer chunks than the file holds: every chunk is read', () => {
  const buf = buildEvtx(RECORDS, { dirty: true, declaredChunks: 1 });
  const { recs, issues } = collect(buf);
  assert.equal(recs.length, 600);
  assert.ok(issues.some((i) => i.kind === 'header-dirty'));
  assert.ok(issues.some((i) => i.kind === 'header-chunk-count' && /declares 1 chunks/.test(i.message)));
});

test('header and chunk header checksum mismatches are warnings, never fatal', () => {
  const buf = GOOD.slice();
  buf[60] = 0xff; // unused (zero) header bytes: covered by the header CRC
  buf[CHUNK0 + 100] = 0xff; // unused (zero) chunk header bytes: covered by the chunk header CRC
  const { recs, issues, summary } = collect(buf);
  assert.equal(recs.length, 600);
  assert.ok(issues.some((i) => i.kind === 'header-checksum' && i.offset === 124));
  assert.ok(issues.some((i) => i.kind === 'chunk-checksum' && i.chunk === 0));
  assert.equal(summary.checksumMismatches, 2);
  const quiet = parseEvtxBuffer(buf, { verifyChecksums: false });
  assert.equal([...quiet].length, 600);
  assert.equal(quiet.summary.checksumMismatches, 0);
});

test('a real log cut in half still yields its first chunk of records', { skip: corpusFiles().length === 0 ? CORPUS_SKIP : false }, async () => {
  const files = corpusFiles().filter((f) => statSync(f).size > 3 * 0x10000);
  const src = files[0];
  assert.ok(src);
  const bytes = readFileSync(src);
  const full = [...parseEvtxBuffer(bytes)];
  const cut = 4096 + 0x10000 + 12345;
  const p = tmpFile('real-cut.evtx', bytes.subarray(0, cut));
  const issues: EvtxIssue[] = [];
  const got: EvtxRecord[] = [];
  for await (const r of readEvtxRecords(p, { onIssue: (i) => issues.push(i) })) got.push(r);
  const chunk0 = full.filter((r) => r.chunkIndex === 0);
  assert.ok(got.length >= chunk0.length);
  assert.deepEqual(got.slice(0, chunk0.length).map((r) => r.data), chunk0.map((r) => r.data));
  assert.ok(issues.some((i) => i.kind === 'chunk-truncated' && i.file === p));
});

test('zero-filled chunks: silent at the end of a log, reported when written chunks follow', () => {
  const trailing = new Uint8Array(GOOD.length + 2 * 0x10000);
  trailing.set(GOOD, 0);
  const t = collect(trailing);
  assert.equal(t.recs.length, 600);
  assert.equal(t.summary.emptyChunks, 2);
  assert.equal(t.summary.skippedChunks, 0);
  assert.deepEqual(t.issues, []);

  const holed = GOOD.slice();
  holed.fill(0, CHUNK1, CHUNK1 + 0x10000);
  const h = collect(holed);
  const full = collect(GOOD).recs;
  assert.equal(h.recs.length, full.filter((r) => r.chunkIndex !== 1).length);
  assert.equal(h.summary.emptyChunks, 1);
  const i = h.issues.find((x) => x.kind === 'chunk-empty');
  assert.ok(i, 'a zeroed chunk between written chunks is reported');
  assert.equal(i.offset, CHUNK1);
  assert.equal(i.chunk, 1);
});
