/**
 * Linux side of the Sysmon sensor's Wine test: reads a real Sysmon .evtx with Vigil's EVTX
 * parser and writes (1) the events file the wevtapi test double serves (format described in
 * scripts/wine/wevtapi.dll.c) and (2) what `vigil replay` of the same file emits, as JSON, for
 * the field-by-field comparison on the Windows side.
 *
 * The double serves typed values where the EVTX text round-trips through the type (GUIDs,
 * unsigned decimals, booleans, hex numbers, SIDs, FILETIME), so the binding's EVT_VARIANT
 * decoding of those types is what turns them back into the text replay sees.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readEvtxRecords, type EvtxRecord } from '../../lib/evtx/index.js';
import { plugin as replay } from '../../plugins/sensors/replay/index.js';
import { instantiate, recordingContext } from '../../testing/index.js';

/** The file the test uses: Sysmon 1, 3, 12 and 13 events of a SharpRDP lateral movement. */
export const SYSMON_SAMPLE = ['evtx-attack-samples', 'Lateral Movement', 'LM_sysmon_3_12_13_1_SharpRDP.evtx'];

const T = { Null: 0, String: 1, Byte: 4, UInt16: 6, UInt32: 8, UInt64: 10, Boolean: 13, Guid: 15, FileTime: 17, Sid: 19, HexInt32: 20, HexInt64: 21 } as const;

export interface Val {
  type: number;
  payload: Buffer;
}

const GUID = /^\{([0-9A-F]{8})-([0-9A-F]{4})-([0-9A-F]{4})-([0-9A-F]{4})-([0-9A-F]{12})\}$/;

function str(s: string): Val {
  return { type: T.String, payload: Buffer.from(s, 'utf16le') };
}

function int(type: number, bytes: number, v: bigint): Val {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(v);
  return { type, payload: b.subarray(0, Math.max(bytes, 1)) };
}

function guid(s: string): Val | undefined {
  const m = GUID.exec(s);
  if (!m) return undefined;
  const b = Buffer.alloc(16);
  b.writeUInt32LE(parseInt(m[1] as string, 16), 0);
  b.writeUInt16LE(parseInt(m[2] as string, 16), 4);
  b.writeUInt16LE(parseInt(m[3] as string, 16), 6);
  Buffer.from(`${m[4]}${m[5]}`, 'hex').copy(b, 8);
  return { type: T.Guid, payload: b };
}

function sid(s: string): Val | undefined {
  const m = /^S-(\d+)-(\d+)((?:-\d+)*)$/.exec(s);
  if (!m) return undefined;
  const subs = (m[3] as string).split('-').filter(Boolean).map(Number);
  const b = Buffer.alloc(8 + subs.length * 4);
  b[0] = Number(m[1]);
  b[1] = subs.length;
  const auth = Number(m[2]);
  b.writeUInt16BE(Math.floor(auth / 2 ** 32), 2);
  b.writeUInt32BE(auth % 2 ** 32, 4);
  subs.forEach((v, i) => b.writeUInt32LE(v, 8 + i * 4));
  return { type: T.Sid, payload: b };
}

/** "2019-08-14T14:06:44.495674800Z" → FILETIME ticks, exactly (100 ns digits kept). */
function fileTime(iso: string): Val {
  const m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?Z$/.exec(iso);
  if (!m) throw new Error(`unreadable SystemTime ${iso}`);
  const secs = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])) / 1000;
  const frac = BigInt(((m[7] ?? '') + '0000000').slice(0, 7));
  return int(T.FileTime, 8, (BigInt(secs) + 11644473600n) * 10000000n + frac);
}

/** A data value, typed when its text comes back unchanged from the type's rendering. */
export function dataVal(v: unknown): Val {
  const s = typeof v === 'string' ? v : String(v);
  const g = guid(s);
  if (g) return g;
  if (/^(0|[1-9]\d{0,9})$/.test(s) && Number(s) <= 0xffffffff) return int(T.UInt32, 4, BigInt(s));
  if (s === 'true' || s === 'false') return int(T.Boolean, 4, s === 'true' ? 1n : 0n);
  if (/^0x[0-9a-f]{16}$/.test(s)) return int(T.HexInt64, 8, BigInt(s));
  if (/^0x[0-9a-f]{8}$/.test(s)) return int(T.HexInt32, 4, BigInt(s));
  return str(s);
}

const NULL: Val = { type: T.Null, payload: Buffer.alloc(0) };

/** The 18 EvtRenderContextSystem values of a record, typed as Windows renders them. */
export function systemVals(r: EvtxRecord): Val[] {
  const s = r.system;
  const xml = r.xml ?? '';
  const opt = <X>(v: X | undefined, f: (x: X) => Val | undefined): Val => (v === undefined || (typeof v === 'number' && Number.isNaN(v)) ? NULL : (f(v) ?? NULL));
  const time = /SystemTime="([^"]+)"/.exec(xml)?.[1];
  return [
    str(s.Provider_Name),
    opt(s.Provider_Guid, guid),
    int(T.UInt16, 2, BigInt(s.EventID)),
    opt(s.EventID_Qualifiers, (q) => int(T.UInt16, 2, BigInt(q))),
    opt(s.Level, (v) => int(T.Byte, 1, BigInt(v))),
    opt(s.Task, (v) => int(T.UInt16, 2, BigInt(v))),
    opt(s.Opcode, (v) => int(T.Byte, 1, BigInt(v))),
    opt(s.Keywords, (k) => (/^0x[0-9a-f]{16}$/.test(k) ? int(T.HexInt64, 8, BigInt(k)) : str(k))),
    time === undefined ? NULL : fileTime(time),
    int(T.UInt64, 8, BigInt(s.EventRecordID)),
    opt(s.Correlation_ActivityID, guid),
    opt(s.Correlation_RelatedActivityID, guid),
    opt(s.Execution_ProcessID, (v) => int(T.UInt32, 4, BigInt(v))),
    opt(s.Execution_ThreadID, (v) => int(T.UInt32, 4, BigInt(v))),
    str(s.Channel),
    str(s.Computer),
    opt(s.Security_UserID, sid),
    opt(s.Version, (v) => int(T.Byte, 1, BigInt(v))),
  ];
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

function val(v: Val): Buffer {
  return Buffer.concat([u32(v.type), u32(0), u32(v.payload.length), v.payload]);
}

/**
 * An EvtRender values buffer as the event log lays it out (and the test double writes it):
 * the EVT_VARIANTs, then each pointed-to payload 8-byte aligned; pointers are absolute,
 * counted from `base`, the buffer's native address.
 */
export function variantBuffer(vals: readonly Val[], base: number): Uint8Array {
  const pointed = (v: Val): boolean => v.type === T.String || v.type === T.Guid || v.type === T.Sid || v.type === 14 || v.type === 18;
  const size = (v: Val): number => (pointed(v) ? (v.payload.length + (v.type === T.String ? 2 : 0) + 7) & ~7 : 0);
  const buf = Buffer.alloc(vals.length * 16 + vals.reduce((n, v) => n + size(v), 0));
  let tail = vals.length * 16;
  vals.forEach((v, i) => {
    const at = i * 16;
    if (pointed(v)) {
      buf.writeBigUInt64LE(BigInt(base + tail), at);
      v.payload.copy(buf, tail);
      tail += size(v);
    } else v.payload.copy(buf, at, 0, Math.min(8, v.payload.length));
    buf.writeUInt32LE(0, at + 8);
    buf.writeUInt32LE(v.type, at + 12);
  });
  return buf;
}

export interface SysmonFixture {
  /** The events file for VIGIL_WEVTAPI_EVENTS. */
  readonly events: string;
  /** What replay emitted, one JSON array. */
  readonly expected: string;
  readonly recordIds: number[];
}

/** Write the double's events file and replay's drafts for `evtx` into `dir`. */
export async function writeSysmonFixture(evtx: string, dir: string): Promise<SysmonFixture> {
  const parts: Buffer[] = [];
  const ids: number[] = [];
  for await (const r of readEvtxRecords(evtx, { renderXml: true })) {
    ids.push(r.recordId);
    const id = Buffer.alloc(8);
    id.writeBigUInt64LE(BigInt(r.system.EventRecordID));
    const xml = Buffer.from(r.xml ?? '', 'utf16le');
    const data = Object.entries(r.data);
    parts.push(id, u32(xml.length), xml, ...systemVals(r).map(val), u32(data.length));
    for (const [name, v] of data) {
      const n = Buffer.from(name, 'utf16le');
      parts.push(u32(n.length), n, val(dataVal(v)));
    }
  }
  const events = join(dir, 'sysmon-events.bin');
  writeFileSync(events, Buffer.concat([Buffer.from('VGWEVT1\0', 'latin1'), u32(ids.length), ...parts]));

  const rec = recordingContext(replay, { config: { paths: [evtx] } });
  const sensor = instantiate(replay, rec);
  await sensor.start();
  await rec.whenFinished;
  await sensor.stop();
  await rec.dispose();
  const expected = join(dir, 'sysmon-expected.json');
  writeFileSync(expected, JSON.stringify(rec.emitted));
  return { events, expected, recordIds: ids };
}
