/**
 * B9: decoding Windows live telemetry without koffi.decode (performance.md), on any platform
 * against recorded buffers. Each half compares its DataView path with JSON.parse of the
 * equivalent JSON in the same run; floor ≥ 1× JSON.parse.
 *
 * Output: { bench, sysmon: {...}, ratio: { sysmon }, floors: { sysmon }, ok }. A half added
 * later adds its own key to each of those objects.
 */
import { performance } from 'node:perf_hooks';
import { VariantReader } from '../driver/ffi/windows/wevtapi.js';
import { readEvtxRecords } from '../lib/evtx/index.js';
import { normalizeWindowsEvent, SYSMON_CHANNEL } from '../lib/windows/index.js';
import { dataFromReader, dataNamesOfXml, systemFromReader } from '../plugins/sensors/sysmon/records.js';
import { dataVal, systemVals, variantBuffer } from '../test/windows/sysmon-fixture.js';
import { evtxCorpusDir, evtxFiles, printJson, round, skip } from './common.js';

const BENCH = 'b9-windows-decode';
/** Least measuring time per variant per round, and rounds (the best round counts: the machine is shared). */
const MIN_MS = Number(process.env['B9_MIN_MS'] ?? 1500);
const ROUNDS = 3;

/** Run `fn` over all items until MIN_MS have passed; items per second. */
function rate(items: number, fn: () => void): number {
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < MIN_MS) {
    fn();
    n += items;
    t = performance.now();
  }
  return (n * 1000) / (t - t0);
}

// ───────────────────────── Sysmon half: EvtRender values → events ─────────────────────────

interface Rendered {
  /** Offsets of the system and the EventData EVT_VARIANT arrays in the one render buffer. */
  sys: number;
  data: number;
  names: string[];
  json: string;
}

/** An address like a heap allocation's on x64 Windows; pointers in the buffers count from it. */
const BASE = 0x1f0_0000_0000;

async function sysmonHalf(): Promise<Record<string, unknown>> {
  const dir = evtxCorpusDir();
  if (dir === undefined) skip(BENCH, 'the EVTX corpus (shared datasets) is absent');
  const files = (await evtxFiles(dir)).filter((f) => /sysmon/i.test(f));
  const items: Rendered[] = [];
  // One buffer holds every rendering, as the sensor reuses one native render buffer (and one
  // reader over it); each array's pointers count from its own place in it.
  const parts: Uint8Array[] = [];
  let size = 0;
  const place = (vals: Parameters<typeof variantBuffer>[0]): number => {
    const at = size;
    const b = variantBuffer(vals, BASE + at);
    parts.push(b, new Uint8Array((8 - (b.length % 8)) % 8));
    size += b.length + ((8 - (b.length % 8)) % 8);
    return at;
  };
  for (const f of files) {
    for await (const r of readEvtxRecords(f, { renderXml: true })) {
      if (r.system.Channel !== SYSMON_CHANNEL) continue;
      const names = dataNamesOfXml(r.xml ?? '');
      if (names === undefined) continue;
      // The EVT_VARIANT arrays EvtRender returns for the system context and the per-schema XPath context.
      const sys = place(systemVals(r));
      const data = place(names.map((k) => dataVal(r.data[k])));
      // The same event as JSON (the evtx_dump-like object form a JSON reader would parse).
      items.push({ sys, data, names, json: JSON.stringify({ system: r.system, data: r.data }) });
    }
  }
  if (items.length === 0) skip(BENCH, 'no Sysmon records with named EventData in the corpus');
  const reader = new VariantReader(Buffer.concat(parts), BASE);
  const bytesValues = size;
  const bytesJson = items.reduce((n, i) => n + Buffer.byteLength(i.json), 0);
  // The events themselves as JSON: what a reader of already-normalized events (Vigil's own
  // JSONL) parses to get the same objects the values → events path produces.
  const eventJson = items.map((it) => JSON.stringify(normalizeWindowsEvent({ system: systemFromReader(reader.seek(it.sys)), data: dataFromReader(reader.seek(it.data), it.names) })));
  const bytesEventJson = eventJson.reduce((n, j) => n + Buffer.byteLength(j), 0);

  let sink = 0;
  const toEvents = (): void => {
    for (const it of items) {
      const rec = { system: systemFromReader(reader.seek(it.sys)), data: dataFromReader(reader.seek(it.data), it.names) };
      sink += normalizeWindowsEvent(rec).time;
    }
  };
  const toRecords = (): void => {
    for (const it of items) sink += systemFromReader(reader.seek(it.sys)).EventID + (dataFromReader(reader.seek(it.data), it.names)['UtcTime'] === undefined ? 0 : 1);
  };
  const parseJson = (): void => {
    for (const it of items) sink += (JSON.parse(it.json) as { system: { EventID: number } }).system.EventID;
  };
  const parseEventJson = (): void => {
    for (const j of eventJson) sink += (JSON.parse(j) as { time: number }).time;
  };
  const best = { events: 0, records: 0, json: 0, eventJson: 0 };
  for (let i = 0; i < ROUNDS; i++) {
    best.json = Math.max(best.json, rate(items.length, parseJson));
    best.eventJson = Math.max(best.eventJson, rate(items.length, parseEventJson));
    best.events = Math.max(best.events, rate(items.length, toEvents));
    best.records = Math.max(best.records, rate(items.length, toRecords));
  }
  return {
    files: files.length,
    records: items.length,
    bytes_per_record_values: round(bytesValues / items.length),
    bytes_per_record_json: round(bytesJson / items.length),
    values_to_events_per_s: round(best.events),
    values_to_records_per_s: round(best.records),
    json_parse_per_s: round(best.json),
    bytes_per_event_json: round(bytesEventJson / items.length),
    json_parse_events_per_s: round(best.eventJson),
    ratio_events_vs_json_parse_of_events: round(best.events / best.eventJson, 2),
    ratio_events_vs_json_parse: round(best.events / best.json, 2),
    ratio_records_vs_json_parse: round(best.records / best.json, 2),
    sink: sink > 0,
  };
}

// ────────────────────────────────────────────────────────────────────────────────────────────

const sysmon = await sysmonHalf();
const ratio = { sysmon: sysmon['ratio_events_vs_json_parse'] as number };
const floors = { sysmon: 1 };
printJson({ bench: BENCH, sysmon, ratio, floors, ok: Object.entries(floors).every(([k, f]) => (ratio as Record<string, number>)[k]! >= f) });
