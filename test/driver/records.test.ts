/** Driver record decoding and the sequence reorder (pure TypeScript, no driver needed). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as P from '../../driver/protocol/protocol.js';
import { RecordDecodeError, SeqReorder, canaryRecord, concatRecords, decodeRecords, handleAccessRecord, type DriverRecord } from '../../driver/protocol/records.js';

function withSeq(rec: Uint8Array, seq: bigint): Uint8Array {
  new DataView(rec.buffer, rec.byteOffset).setBigUint64(P.LAYOUT.RECORD_HEADER.offsets.seq, seq, true);
  return rec;
}

test('records decode with their strings; a malformed one is refused', () => {
  const h = handleAccessRecord({ ...P.ZERO_HANDLE_ACCESS(), caller_pid: 8, target_pid: 12, desired: 0x1fffff }, 'x.exe', 'lsass.exe');
  const buf = concatRecords([h, canaryRecord(P.C.CANARY_HANDLE, 9n)]);
  const recs = decodeRecords(new DataView(buf.buffer), buf.length);
  assert.deepEqual(recs.map((r) => r.kind), ['handle_access', 'canary']);
  assert.ok(recs[0]?.kind === 'handle_access' && recs[0].callerImage === 'x.exe' && recs[0].targetImage === 'lsass.exe');
  assert.equal(h.length % 8, 0);
  const bad = new Uint8Array(h);
  new DataView(bad.buffer).setUint16(P.LAYOUT.HANDLE_ACCESS.offsets.target_image + 2, 4000, true);
  assert.throws(() => decodeRecords(new DataView(bad.buffer), bad.length), RecordDecodeError);
  const unknown = new Uint8Array(h);
  new DataView(unknown.buffer).setUint16(P.LAYOUT.RECORD_HEADER.offsets.type, 99, true);
  assert.throws(() => decodeRecords(new DataView(unknown.buffer), unknown.length), /unknown record type 99/);
});

test('the reorder puts reads completed out of order back in sequence and passes loss records through', () => {
  const rec = (seq: bigint): DriverRecord => decodeRecords(new DataView(withSeq(canaryRecord(1, seq), seq).buffer), P.LAYOUT.CANARY.size)[0] as DriverRecord;
  const r = new SeqReorder();
  assert.deepEqual(r.push([rec(5n)]).map((x) => x.header.seq), [5n]);
  assert.deepEqual(r.push([rec(7n), rec(8n)]).map((x) => x.header.seq), []);
  assert.equal(r.holding, 2);
  assert.deepEqual(r.push([rec(0n)]).map((x) => x.header.seq), [0n]);
  assert.deepEqual(r.push([rec(6n)]).map((x) => x.header.seq), [6n, 7n, 8n]);
  r.push([rec(10n)]);
  assert.deepEqual(r.flush().map((x) => x.header.seq), [10n]);
  assert.deepEqual(r.push([rec(9n), rec(11n)]).map((x) => x.header.seq), [9n, 11n]);
  assert.equal(r.late, 1);
});
