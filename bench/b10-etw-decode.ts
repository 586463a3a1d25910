/**
 * B10 (EVENT_RECORD half): decoding recorded ETW EVENT_RECORD blobs the way the trace thread
 * does inside ProcessTrace's callback — header fields and the UserData read with DataView
 * along a TDH schema from the per-(provider, id, version) cache — against JSON.parse of the
 * same events as JSON text, in the same run. Runs on Linux: the blobs are made from
 * descriptions with the manifests' field layouts (test/support/etw-records.ts), as the Wine
 * test double delivers them. Floor: ≥ 1× JSON.parse.
 */
import { performance } from 'node:perf_hooks';
import { SchemaCache, decodeEvent, parseEventInfo, schemaKey, type DecodedEvent, type EventSchema } from '../plugins/sensors/etw/decode.js';
import { DNS_CLIENT, KERNEL_NETWORK, POWERSHELL } from '../plugins/sensors/etw/config.js';
import { encodeRecord, eventRecordBytes, processStart, processStop, threadStart, type EncodedRecord, type RecordDesc } from '../test/support/etw-records.js';
import { printJson, round } from './common.js';

const RECORDS = Number(process.env['B10_RECORDS'] ?? 200_000);
const ROUNDS = Number(process.env['B10_ROUNDS'] ?? 5);
const T0 = Date.UTC(2026, 11, 8, 6, 0, 0);

/** A mix like a desktop's: thread and image-ish kernel events dominate, then network, DNS, process, script blocks. */
function describe(i: number): RecordDesc {
  const pid = 1000 + (i % 5000) * 4;
  const t = T0 + i;
  switch (i % 10) {
    case 0:
      return processStart({ creatorPid: 900, creatorTid: 904, time: t, pid, createTime: t - 1, ppid: 900, session: 1, image: `\\Device\\HarddiskVolume3\\Windows\\System32\\prog${i % 97}.exe` });
    case 1:
      return processStop({ pid, tid: pid + 4, time: t, createTime: t - 5000, exitCode: 0, image: `prog${i % 97}.exe` });
    case 2:
    case 3:
    case 4:
      return threadStart({ creatorPid: pid, creatorTid: pid + 4, time: t, pid, tid: pid + 8, start: `0x7ffa${(i & 0xffff).toString(16).padStart(8, '0')}` });
    case 5:
    case 6:
      return {
        provider: KERNEL_NETWORK, id: 12, version: 0, pid: 4, tid: 8, time: t,
        fields: [
          { name: 'PID', type: 'u32', value: pid }, { name: 'size', type: 'u32', value: 0 }, { name: 'daddr', type: 'ipv4', value: `93.184.${i % 256}.34` },
          { name: 'saddr', type: 'ipv4', value: '10.0.0.5' }, { name: 'dport', type: 'port', value: 443 }, { name: 'sport', type: 'port', value: 49152 + (i % 16000) },
          { name: 'mss', type: 'u16', value: 1460 }, { name: 'sackopt', type: 'u16', value: 1 }, { name: 'tsopt', type: 'u16', value: 0 }, { name: 'wsopt', type: 'u16', value: 1 },
          { name: 'rcvwin', type: 'u32', value: 65535 }, { name: 'rcvwinscale', type: 'u16', value: 8 }, { name: 'sndwinscale', type: 'u16', value: 8 },
          { name: 'seqnum', type: 'u32', value: i }, { name: 'connid', type: 'pointer', value: `0x${(0xffff800000000000n + BigInt(i)).toString(16)}` },
        ],
      };
    case 7:
    case 8:
      return {
        provider: DNS_CLIENT, id: 3008, version: 0, pid, tid: pid + 4, time: t,
        fields: [
          { name: 'QueryName', type: 'wstring', value: `host${i % 1000}.example.org` }, { name: 'QueryType', type: 'u32', value: 1 }, { name: 'QueryOptions', type: 'u64', value: 0x40000000n },
          { name: 'QueryStatus', type: 'u32', value: 0 }, { name: 'QueryResults', type: 'wstring', value: `93.184.216.${i % 256};` },
        ],
      };
    default:
      return {
        provider: POWERSHELL, id: 4104, version: 1, pid, tid: pid + 4, time: t,
        fields: [
          { name: 'MessageNumber', type: 'i32', value: 1 }, { name: 'MessageTotal', type: 'i32', value: 1 },
          { name: 'ScriptBlockText', type: 'wstring', value: `Get-ChildItem -Path C:\\Users\\u${i % 50} -Recurse | Where-Object { $_.Length -gt ${i % 4096} } | Select-Object -First 10` },
          { name: 'ScriptBlockId', type: 'wstring', value: `6b3c2b8e-0000-4000-8000-${i.toString(16).padStart(12, '0')}` }, { name: 'Path', type: 'wstring', value: '' },
        ],
      };
  }
}

const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);

interface Blob {
  readonly record: DataView;
  readonly userData: DataView;
  readonly schema: DataView;
}

const encoded: EncodedRecord[] = [];
for (let i = 0; i < RECORDS; i++) encoded.push(encodeRecord(describe(i)));
const blobs: Blob[] = encoded.map((e) => ({ record: view(eventRecordBytes(e)), userData: view(e.userData), schema: view(e.schema) }));

function decodeAll(): { n: number; check: number } {
  // A fresh cache per round: the first record of each kind pays for parsing its TRACE_EVENT_INFO.
  const cache = new SchemaCache<EventSchema>(4096);
  let check = 0;
  for (const b of blobs) {
    let s = cache.get(b.record);
    if (s === undefined) {
      s = parseEventInfo(b.schema);
      cache.set(b.record, s);
    }
    const ev = decodeEvent(b.record, b.userData, s);
    check += ev.pid;
  }
  return { n: blobs.length, check };
}

// The peer: the same decoded events as JSON text, one document per event.
const sample = new Map<string, EventSchema>();
const json: string[] = blobs.map((b) => {
  const key = schemaKey(b.record);
  let s = sample.get(key);
  if (s === undefined) sample.set(key, (s = parseEventInfo(b.schema)));
  return JSON.stringify(decodeEvent(b.record, b.userData, s));
});
function parseAll(): { n: number; check: number } {
  let check = 0;
  for (const j of json) check += (JSON.parse(j) as DecodedEvent).pid;
  return { n: json.length, check };
}

function rate(fn: () => { n: number; check: number }): { perS: number; check: number } {
  const t0 = performance.now();
  const r = fn();
  return { perS: r.n / ((performance.now() - t0) / 1000), check: r.check };
}

// Warm both paths, then alternate rounds so drift on a shared machine hits both alike.
rate(decodeAll);
rate(parseAll);
const dv: number[] = [];
const jp: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  const a = rate(decodeAll);
  const b = rate(parseAll);
  if (a.check !== b.check) throw new Error(`decoded and parsed events differ (pid sums ${a.check} vs ${b.check})`);
  dv.push(a.perS);
  jp.push(b.perS);
}
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
const ratio = median(dv) / median(jp);
const jsonBytes = json.reduce((n, j) => n + j.length, 0);
const blobBytes = blobs.reduce((n, b) => n + b.record.byteLength + b.userData.byteLength, 0);
const pass = ratio >= 1;
printJson({
  bench: 'b10-etw-decode',
  records: RECORDS,
  rounds: ROUNDS,
  dataview_events_per_s: round(median(dv)),
  json_parse_events_per_s: round(median(jp)),
  ratio: round(ratio, 2),
  floor: 1,
  pass,
  dataview_rounds: dv.map((x) => round(x)),
  json_rounds: jp.map((x) => round(x)),
  mean_record_bytes: round(blobBytes / RECORDS, 1),
  mean_json_bytes: round(jsonBytes / RECORDS, 1),
  schemas: sample.size,
});
process.exitCode = pass ? 0 : 1;
