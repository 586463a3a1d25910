/**
 * The pure half of the Sysmon sensor, on any platform: EVT_VARIANT buffers laid out as EvtRender
 * lays them out, decoded with the DataView path, give records that lib/windows normalizes into
 * the very drafts the EVTX replay path gives for the same real Sysmon file. The koffi half runs
 * under Wine (test/windows/sysmon.wine.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { EvtVarType, VariantPointerError, VariantReader, decodeVariants } from '../../../../driver/ffi/windows/wevtapi.js';
import { readEvtxRecords } from '../../../../lib/evtx/index.js';
import { normalizeWindowsEvent } from '../../../../lib/windows/index.js';
import { dataVal, systemVals, variantBuffer, SYSMON_SAMPLE, type Val } from '../../../../test/windows/sysmon-fixture.js';
import { datasetsDir } from '../../../../testing/index.js';
import { dataFromValues, dataNamesOfXml, dataXPath, recordFromValues, systemFromBuffer, systemFromValues } from '../index.js';

const BASE = 0x7ff6_1234_0000;

/** 2019-08-14T14:06:44 plus `frac` 100 ns ticks, as a FILETIME. */
function fileTime(frac: bigint): Buffer {
  const ft = Buffer.alloc(8);
  ft.writeBigUInt64LE((BigInt(Date.UTC(2019, 7, 14, 14, 6, 44) / 1000) + 11644473600n) * 10000000n + frac);
  return ft;
}

function raw(type: number, bytes: number[]): Val {
  return { type, payload: Buffer.from(bytes) };
}

test('decodeVariants renders each type as the EVTX parser renders it', () => {
  const vals: Val[] = [
    { type: EvtVarType.String, payload: Buffer.from('C:\\Windows\\System32\\cmd.exe', 'utf16le') },
    dataVal('{5770385F-C22A-43E0-BF4C-06F5698FFBD9}'),
    dataVal('4294967295'),
    dataVal('true'),
    dataVal('0x8000000000000000'),
    dataVal('0x0000abcd'),
    raw(EvtVarType.Null, []),
    raw(EvtVarType.Int16, [0xfe, 0xff]),
    raw(EvtVarType.Byte, [200]),
    raw(EvtVarType.Int64, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
    raw(EvtVarType.UInt64, [0, 0, 0, 0, 0, 0, 0, 0x80]),
    { type: EvtVarType.FileTime, payload: fileTime(4956748n) },
    raw(EvtVarType.Sid, [1, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0]),
    raw(EvtVarType.SysTime, [0xe3, 0x07, 8, 0, 3, 0, 14, 0, 14, 0, 6, 0, 44, 0, 0xef, 0x01]),
    raw(EvtVarType.Binary, [0xde, 0xad, 0xbe, 0xef]),
  ];
  const buf = variantBuffer(vals, BASE);
  // Binary's Count is its byte length.
  new DataView(buf.buffer, buf.byteOffset).setUint32(14 * 16 + 8, 4, true);
  assert.deepEqual(decodeVariants(buf, BASE, vals.length), [
    'C:\\Windows\\System32\\cmd.exe',
    '{5770385F-C22A-43E0-BF4C-06F5698FFBD9}',
    '4294967295',
    'true',
    '0x8000000000000000',
    '0x0000abcd',
    null,
    '-2',
    '200',
    '-1',
    '9223372036854775808',
    '2019-08-14T14:06:44.495674800Z',
    'S-1-5-18',
    '2019-08-14T14:06:44.495Z',
    'DEADBEEF',
  ]);
});

test('a FILETIME decodes to 100 ns precision and a pointer outside the buffer is refused', () => {
  const buf = variantBuffer([{ type: EvtVarType.FileTime, payload: fileTime(1n) }], BASE);
  assert.deepEqual(decodeVariants(buf, BASE, 1), ['2019-08-14T14:06:44.000000100Z']);
  const bad = variantBuffer([{ type: EvtVarType.String, payload: Buffer.from('x', 'utf16le') }], BASE);
  new DataView(bad.buffer, bad.byteOffset).setUint32(0, 0x10, true);
  assert.throws(() => decodeVariants(bad, BASE, 1), VariantPointerError);
});

test('a string array decodes to a list', () => {
  const s1 = Buffer.from('a\0', 'utf16le');
  const s2 = Buffer.from('bc\0', 'utf16le');
  // [variant][ptr0][ptr1][s1][s2]
  const buf = Buffer.alloc(16 + 16 + 8 + 8);
  buf.writeBigUInt64LE(BigInt(BASE + 16), 0);
  buf.writeUInt32LE(2, 8);
  buf.writeUInt32LE(EvtVarType.String | EvtVarType.ArrayFlag, 12);
  buf.writeBigUInt64LE(BigInt(BASE + 32), 16);
  buf.writeBigUInt64LE(BigInt(BASE + 40), 24);
  s1.copy(buf, 32);
  s2.copy(buf, 40);
  assert.deepEqual(decodeVariants(buf, BASE, 1), [['a', 'bc']]);
});

test('EventData names come from the XML, and only when every value can be selected by name', () => {
  assert.deepEqual(dataNamesOfXml(`<Event><System/><EventData><Data Name="RuleName">-</Data><Data Name='UtcTime'>x</Data></EventData></Event>`), ['RuleName', 'UtcTime']);
  assert.equal(dataNamesOfXml('<Event><System/><UserData><X>1</X></UserData></Event>'), undefined);
  assert.equal(dataNamesOfXml('<Event><EventData><Data>1</Data></EventData></Event>'), undefined);
  assert.equal(dataNamesOfXml('<Event><EventData><Data Name="A">1</Data><Data Name="A">2</Data></EventData></Event>'), undefined);
  assert.equal(dataXPath('Image'), "Event/EventData/Data[@Name='Image']");
});

const sample = join(datasetsDir(), ...SYSMON_SAMPLE);

test('values rendered from a real Sysmon file normalize exactly as the EVTX path normalizes the same records', { skip: existsSync(sample) ? false : `${sample} is missing (shared datasets)` }, async () => {
  let n = 0;
  for await (const r of readEvtxRecords(sample, { renderXml: true })) {
    const names = dataNamesOfXml(r.xml ?? '');
    assert.ok(names, `record ${r.recordId}: named EventData`);
    const sysBuf = variantBuffer(systemVals(r), BASE);
    const sys = decodeVariants(sysBuf, BASE, 18);
    const vals = decodeVariants(variantBuffer(names.map((k) => dataVal(r.data[k])), BASE), BASE, names.length);
    const want = normalizeWindowsEvent(r);
    assert.deepEqual(normalizeWindowsEvent(recordFromValues(sys, names, vals)), want, `record ${r.recordId} (values as text)`);
    // The live path reads the System values straight from the buffer: the same record.
    assert.deepEqual(systemFromBuffer(sysBuf, BASE), systemFromValues(sys), `record ${r.recordId}: System from the buffer`);
    assert.deepEqual(normalizeWindowsEvent({ system: systemFromBuffer(sysBuf, BASE), data: dataFromValues(names, vals) }), want, `record ${r.recordId}`);
    n++;
  }
  assert.ok(n >= 20, `${n} records`);
});

test('a reader reused over a rewritten buffer (as the render buffer is) never returns a stale interned string', () => {
  const buf = variantBuffer([{ type: EvtVarType.String, payload: Buffer.from('C:\\a\\b.exe', 'utf16le') }], BASE);
  const r = new VariantReader(buf, BASE);
  assert.equal(r.value(0), 'C:\\a\\b.exe');
  assert.equal(r.value(0), 'C:\\a\\b.exe');
  // Same length, one code unit different.
  Buffer.from('C:\\a\\c.exe', 'utf16le').copy(buf, 16);
  assert.equal(r.value(0), 'C:\\a\\c.exe');
  Buffer.from('C:\\a\\b.exe', 'utf16le').copy(buf, 16);
  assert.equal(r.value(0), 'C:\\a\\b.exe');
  assert.equal(r.internRefused, 0);
});

test('past its bound the intern table keeps no more strings, counts the refusals and still decodes every value', () => {
  const buf = variantBuffer([{ type: EvtVarType.String, payload: Buffer.from('value-00000', 'utf16le') }], BASE);
  const r = new VariantReader(buf, BASE);
  for (let i = 0; i < 9000; i++) {
    const s = `value-${String(i).padStart(5, '0')}`;
    Buffer.from(s, 'utf16le').copy(buf, 16);
    assert.equal(r.value(0), s);
  }
  assert.ok(r.internRefused > 0, `${r.internRefused} refused`);
});
