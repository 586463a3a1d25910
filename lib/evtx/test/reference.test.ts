/**
 * Vigil's EVTX parser against libevtx's evtxexport on the whole shared corpus: same record
 * count for every file, every EventData value equal for every record, and the full
 * rendered XML equal for a sample of records per file (first, middle, last).
 */
import { readFile } from 'node:fs/promises';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseEvtxBuffer, type EvtxRecord } from '../index.js';
import { hasEvtxexport, parseEvtxexportXml, runEvtxexport } from '../evtxexport-reference.js';
import { CORPUS_SKIP, corpusFiles, mapLimit } from './corpus.js';

const files = corpusFiles();
const tool = hasEvtxexport();
const skip = files.length === 0 ? CORPUS_SKIP : !tool ? 'evtxexport not installed (apt-get install libevtx-utils)' : false;

test('every corpus file: record count, EventData values and sampled XML equal evtxexport', { skip, timeout: 180_000 }, async () => {
  let records = 0;
  let fields = 0;
  let xmlCompared = 0;
  const problems: string[] = [];
  await mapLimit(files, 2, async (file) => {
    const [buf, out] = await Promise.all([readFile(file), runEvtxexport(file)]);
    const ours: EvtxRecord[] = [...parseEvtxBuffer(buf, { file, renderXml: true })];
    const refXml = out.split(/\n(?=<Event xmlns)/).slice(1).map((s) => s.trim());
    const ref = parseEvtxexportXml(out);
    if (ours.length !== ref.length) {
      problems.push(`${file}: ${ours.length} records, evtxexport ${ref.length}`);
      return;
    }
    records += ours.length;
    for (let i = 0; i < ours.length; i++) {
      const r = ours[i] as EvtxRecord;
      const e = ref[i];
      if (!e) continue;
      if (String(r.system.EventRecordID) !== e.recordId) problems.push(`${file} #${i}: EventRecordID ${r.system.EventRecordID} vs ${e.recordId}`);
      if (String(r.system.EventID) !== e.eventId) problems.push(`${file} #${i}: EventID ${r.system.EventID} vs ${e.eventId}`);
      for (const [k, v] of e.data) {
        fields++;
        if (r.data[k] !== v) problems.push(`${file} #${i} ${k}: ${JSON.stringify(r.data[k])} vs ${JSON.stringify(v)}`);
      }
    }
    const sample = new Set([0, 1, Math.floor(ours.length / 2), ours.length - 2, ours.length - 1]);
    for (const i of sample) {
      if (i < 0 || i >= ours.length) continue;
      xmlCompared++;
      if (ours[i]?.xml?.trim() !== refXml[i]) problems.push(`${file} #${i}: rendered XML differs`);
    }
  });
  assert.deepEqual(problems.slice(0, 20), [], `${problems.length} differences`);
  assert.ok(records > 0 && fields > 0 && xmlCompared > 0);
  console.log(`compared ${files.length} files, ${records} records, ${fields} EventData values, ${xmlCompared} full XML renderings`);
});

test('the fast field path and the element-tree path give identical records on the corpus', { skip: files.length === 0 ? CORPUS_SKIP : false }, async () => {
  let n = 0;
  for (const file of files) {
    const buf = await readFile(file);
    const direct = [...parseEvtxBuffer(buf, { file })];
    const tree = [...parseEvtxBuffer(buf, { file, extraction: 'tree' })];
    assert.equal(direct.length, tree.length, file);
    for (let i = 0; i < direct.length; i++) {
      assert.deepEqual(direct[i], tree[i], `${file} record #${i}`);
      n++;
    }
  }
  assert.ok(n > 0);
});
