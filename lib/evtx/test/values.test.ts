/**
 * Every substitution value type, written into a synthetic EVTX file, rendered by Vigil and
 * compared with evtxexport where the tool supports the type.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseEvtxBuffer } from '../index.js';
import { buildEvtx, concat, u16le, u32le, u64le, utf16le, type BuiltValue } from '../evtx-builder.js';
import { hasEvtxexport, parseEvtxexportXml, runEvtxexport } from '../evtxexport-reference.js';

const f32 = (v: number): Uint8Array => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setFloat32(0, v, true);
  return b;
};
const f64 = (v: number): Uint8Array => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setFloat64(0, v, true);
  return b;
};
const SYSTIME = Uint8Array.from([0xe8, 0x07, 2, 0, 3, 0, 15, 0, 13, 0, 14, 0, 15, 0, 0x7b, 0x00]);
const GUID = Uint8Array.from([0x78, 0x56, 0x34, 0x12, 0xcd, 0xab, 0x01, 0xef, 1, 2, 3, 4, 5, 6, 7, 8]);
const SID = Uint8Array.of(1, 2, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0, 32, 2, 0, 0);
const FT = u64le(132155000000000000n + 1234567n);

/** Values with the text Vigil must produce (as evtxexport prints them). */
const CASES: [BuiltValue, string | string[]][] = [
  [{ name: 'int8', type: 0x03, bytes: Uint8Array.of(100) }, '100'],
  [{ name: 'uint8', type: 0x04, bytes: Uint8Array.of(200) }, '200'],
  [{ name: 'int16', type: 0x05, bytes: u16le(30000) }, '30000'],
  [{ name: 'uint16', type: 0x06, bytes: u16le(65535) }, '65535'],
  [{ name: 'int32', type: 0x07, bytes: u32le(2000000000) }, '2000000000'],
  [{ name: 'uint32', type: 0x08, bytes: u32le(0xffffffff) }, '4294967295'],
  [{ name: 'int64', type: 0x09, bytes: u64le(1234567890123456789n) }, '1234567890123456789'],
  [{ name: 'uint64', type: 0x0a, bytes: u64le(18446744073709551615n) }, '18446744073709551615'],
  [{ name: 'real32', type: 0x0b, bytes: f32(1.5) }, '1.500000e+000'],
  [{ name: 'real32b', type: 0x0b, bytes: f32(0.1) }, '1.000000e-001'],
  [{ name: 'real64', type: 0x0c, bytes: f64(3.14159) }, '3.141590e+000'],
  [{ name: 'real64b', type: 0x0c, bytes: f64(1e300) }, '1.000000e+300'],
  [{ name: 'bool0', type: 0x0d, bytes: u32le(0) }, 'false'],
  [{ name: 'bool1', type: 0x0d, bytes: u32le(1) }, 'true'],
  [{ name: 'binary', type: 0x0e, bytes: Uint8Array.of(0, 0xab, 0x10) }, '00AB10'],
  [{ name: 'guid', type: 0x0f, bytes: GUID }, '{12345678-ABCD-EF01-0102-030405060708}'],
  [{ name: 'size4', type: 0x10, bytes: u32le(0x1234) }, '4660'],
  [{ name: 'size8', type: 0x10, bytes: u64le(0x123456789n) }, '4886718345'],
  [{ name: 'filetime', type: 0x11, bytes: FT }, '2019-10-14T04:13:20.123456700Z'],
  [{ name: 'systemtime', type: 0x12, bytes: SYSTIME }, '2024-02-15T13:14:15.123Z'],
  [{ name: 'sid', type: 0x13, bytes: SID }, 'S-1-5-32-544'],
  [{ name: 'hex32', type: 0x14, bytes: u32le(0xdeadbeef) }, '0xdeadbeef'],
  [{ name: 'hex64', type: 0x15, bytes: u64le(0xabcdefn) }, '0x0000000000abcdef'],
  [{ name: 'ansi', type: 0x02, bytes: Uint8Array.of(0x41, 0xe9, 0x42, 0) }, 'AéB'],
  [{ name: 'utf16', type: 0x01, bytes: utf16le('Grüße ✓ C:\\x') }, 'Grüße ✓ C:\\x'],
  [{ name: 'markup', type: 0x01, bytes: utf16le('a<b>&"c\'') }, 'a<b>&"c\''],
  [{ name: 'emptystr', type: 0x01, bytes: new Uint8Array(0) }, ''],
  [{ name: 'emptyopt', type: 0x01, bytes: new Uint8Array(0), optional: true }, ''],
  [{ name: 'strarr', type: 0x81, bytes: concat(utf16le('ab'), u16le(0), utf16le('cd'), u16le(0)) }, ['ab', 'cd']],
  [{ name: 'u32arr', type: 0x88, bytes: concat(u32le(1), u32le(2)) }, ['1', '2']],
  [{ name: 'u16arr', type: 0x86, bytes: concat(u16le(7), u16le(8)) }, ['7', '8']],
  [{ name: 'u64arr', type: 0x8a, bytes: concat(u64le(5n), u64le(6n)) }, ['5', '6']],
  [{ name: 'guidarr', type: 0x8f, bytes: concat(GUID, GUID) }, ['{12345678-ABCD-EF01-0102-030405060708}', '{12345678-ABCD-EF01-0102-030405060708}']],
  [{ name: 'hex32arr', type: 0x94, bytes: concat(u32le(10), u32le(11)) }, ['0x0000000a', '0x0000000b']],
  [{ name: 'ftarr', type: 0x91, bytes: concat(FT, FT) }, ['2019-10-14T04:13:20.123456700Z', '2019-10-14T04:13:20.123456700Z']],
  [{ name: 'starr', type: 0x92, bytes: concat(SYSTIME, SYSTIME) }, ['2024-02-15T13:14:15.123Z', '2024-02-15T13:14:15.123Z']],
  [{ name: 'r64arr', type: 0x8c, bytes: concat(f64(1.25), f64(2)) }, ['1.250000e+000', '2.000000e+000']],
  [{ name: '', type: 0x01, bytes: utf16le('unnamed') }, 'unnamed'],
];

/** Types evtxexport 20181227 cannot render (it stops with an error) or renders wrongly. */
const VIGIL_ONLY: [BuiltValue, string | string[]][] = [
  // evtxexport prints negative signed integers as sign + magnitude of the low bits (-5 as -123).
  [{ name: 'int8neg', type: 0x03, bytes: Uint8Array.of(0xfb) }, '-5'],
  [{ name: 'int16neg', type: 0x05, bytes: u16le(0xfff0) }, '-16'],
  [{ name: 'int32neg', type: 0x07, bytes: u32le(-123456) }, '-123456'],
  [{ name: 'int64neg', type: 0x09, bytes: u64le(-1234567890123n) }, '-1234567890123'],
  [{ name: 'i8arr', type: 0x83, bytes: Uint8Array.of(1, 0xff) }, ['1', '-1']],
  [{ name: 'boolarr', type: 0x8d, bytes: concat(u32le(1), u32le(0)) }, ['true', 'false']],
  [{ name: 'sidarr', type: 0x93, bytes: concat(SID, Uint8Array.of(1, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0)) }, ['S-1-5-32-544', 'S-1-5-18']],
  [{ name: 'evthandle', type: 0x20, bytes: u64le(0x55n) }, '85'],
  [{ name: 'evtxml', type: 0x23, bytes: utf16le('<x>y</x>') }, '<x>y</x>'],
  [{ name: 'nullopt', type: 0x00, bytes: new Uint8Array(0), optional: true }, []],
];

function expectedData(cases: [BuiltValue, string | string[]][]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [v, want] of cases) {
    const key = v.name === '' ? 'Data' : v.name;
    const list = Array.isArray(want) ? want : [want];
    list.forEach((w, i) => (out[i === 0 ? key : key + i] = w));
  }
  return out;
}

test('every value type renders as evtxexport prints it (synthetic file)', async (t) => {
  const buf = buildEvtx([{ id: 7, eventId: 4688, computer: 'WS01', values: CASES.map(([v]) => v) }]);
  const recs = [...parseEvtxBuffer(buf)];
  assert.equal(recs.length, 1);
  const r = recs[0];
  assert.ok(r);
  assert.deepEqual(r.data, expectedData(CASES));
  assert.equal(r.system.EventID, 4688);
  assert.equal(r.system.Computer, 'WS01');
  assert.equal(r.system.EventRecordID, 7);
  assert.equal(r.system.TimeCreated, Date.UTC(2024, 0, 2, 3, 4, 5, 678));
  assert.equal(r.timestamp, Date.UTC(2024, 0, 2, 3, 4, 5, 678));

  if (!hasEvtxexport()) {
    t.skip('evtxexport not installed: compared with the documented renderings only');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'vigil-evtx-'));
  try {
    const file = join(dir, 'types.evtx');
    writeFileSync(file, buf);
    const ref = parseEvtxexportXml(await runEvtxexport(file));
    assert.equal(ref.length, 1);
    assert.deepEqual(Object.fromEntries(ref[0]?.data ?? []), r.data);
    const xml = [...parseEvtxBuffer(buf, { renderXml: true })][0]?.xml;
    const out = await runEvtxexport(file);
    assert.equal(xml, out.slice(out.indexOf('<Event')).trim());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('types evtxexport cannot render get their Windows rendering', () => {
  const buf = buildEvtx([{ id: 1, eventId: 1, values: VIGIL_ONLY.map(([v]) => v) }]);
  const r = [...parseEvtxBuffer(buf)][0];
  assert.ok(r);
  assert.deepEqual(r.data, expectedData(VIGIL_ONLY));
});

test('records spread over several chunks keep their order and ids', () => {
  const records = Array.from({ length: 600 }, (_, i) => ({
    id: 1000 + i,
    eventId: i % 7,
    values: [{ name: 'CommandLine', type: 0x01, bytes: utf16le(`cmd.exe /c echo ${'x'.repeat(i % 50)} ${i}`) }],
  }));
  const buf = buildEvtx(records);
  const it = parseEvtxBuffer(buf);
  const got = [...it];
  assert.ok(it.summary.chunks > 1, 'the file spans more than one chunk');
  assert.equal(got.length, 600);
  got.forEach((r, i) => {
    assert.equal(r.recordId, 1000 + i);
    assert.equal(r.system.EventID, i % 7);
    assert.equal(r.data['CommandLine'], `cmd.exe /c echo ${'x'.repeat(i % 50)} ${i}`);
  });
  assert.equal(it.summary.records, 600);
  assert.equal(it.summary.checksumMismatches, 0);
});
