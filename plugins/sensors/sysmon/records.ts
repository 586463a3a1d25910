/**
 * Rendered event log values → the record shape Vigil's EVTX parser builds (lib/evtx
 * record.ts), so that lib/windows normalizes a live event and the same event replayed from an
 * .evtx file into identical drafts. Values arrive as the text the event XML carries (the
 * binding renders them as the EVTX parser renders substitution values); the System part is
 * converted from that text exactly as the EVTX parser converts its XML text.
 */
import { EvtVarType, VariantReader, type EvtValue } from '../../../driver/ffi/windows/wevtapi.js';
// The EVTX parser's own conversion of TimeCreated, so both paths round alike.
import { isoToMs } from '../../../lib/evtx/record.js';
import type { WindowsRecord, WindowsSystem } from '../../../lib/windows/index.js';

/** Array items inside one value are joined as the EVTX parser joins them. */
const ARRAY_SEP = ', ';

function num(s: string): number {
  return s === '' ? NaN : Number(s);
}

function text(v: EvtValue | undefined): string | undefined {
  if (v === null || v === undefined) return undefined;
  return typeof v === 'string' ? v : v.join(ARRAY_SEP);
}

type FullSystem = WindowsSystem & { Provider_Name: string; Channel: string; Computer: string };

/**
 * The System part from the 18 values of an EvtRenderContextSystem rendering (EVT_SYSTEM_PROPERTY_ID
 * order), read straight from the render buffer: numbers as numbers, TimeCreated as whole ms
 * (what the EVTX parser gets from the same value's text). The fields every EVTX record has
 * are always present, as in lib/evtx's emptySystem.
 */
export function systemFromBuffer(buf: Uint8Array, base: number): FullSystem {
  return systemFromReader(new VariantReader(buf, base));
}

/** systemFromBuffer over a reader positioned at the 18 values. */
export function systemFromReader(r: VariantReader): FullSystem {
  const str = (i: number): string | undefined => text(r.value(i));
  const s: FullSystem = {
    Provider_Name: str(0) ?? '',
    EventID: r.number(2) ?? NaN,
    TimeCreated: r.type(8) === EvtVarType.FileTime ? (r.number(8) as number) : isoOf(str(8)),
    EventRecordID: r.number(9) ?? NaN,
    Channel: str(14) ?? '',
    Computer: str(15) ?? '',
  };
  const set = <K extends keyof WindowsSystem>(k: K, v: WindowsSystem[K] | undefined): void => {
    if (v !== undefined) (s as WindowsSystem)[k] = v;
  };
  set('Provider_Guid', str(1));
  const q = str(3);
  if (q !== undefined && q !== '') s.EventID_Qualifiers = r.number(3) as number;
  set('Level', r.number(4));
  set('Task', r.number(5));
  set('Opcode', r.number(6));
  set('Keywords', str(7));
  set('Correlation_ActivityID', str(10));
  set('Correlation_RelatedActivityID', str(11));
  set('Execution_ProcessID', r.number(12));
  set('Execution_ThreadID', r.number(13));
  set('Security_UserID', str(16));
  set('Version', r.number(17));
  return s;
}

function isoOf(t: string | undefined): number {
  return t === undefined ? NaN : isoToMs(t);
}

/** The same System part from values already decoded to text (the XML rendering's strings). */
export function systemFromValues(v: readonly EvtValue[]): FullSystem {
  const recordId = text(v[9]);
  const s: FullSystem = {
    Provider_Name: text(v[0]) ?? '',
    EventID: NaN,
    TimeCreated: NaN,
    EventRecordID: recordId === undefined ? NaN : num(recordId),
    Channel: text(v[14]) ?? '',
    Computer: text(v[15]) ?? '',
  };
  const guid = text(v[1]);
  if (guid !== undefined) s.Provider_Guid = guid;
  const id = text(v[2]);
  if (id !== undefined) s.EventID = num(id);
  const q = text(v[3]);
  if (q !== undefined && q !== '') s.EventID_Qualifiers = num(q);
  const level = text(v[4]);
  if (level !== undefined) s.Level = num(level);
  const task = text(v[5]);
  if (task !== undefined) s.Task = num(task);
  const opcode = text(v[6]);
  if (opcode !== undefined) s.Opcode = num(opcode);
  const kw = text(v[7]);
  if (kw !== undefined) s.Keywords = kw;
  const tc = text(v[8]);
  if (tc !== undefined) s.TimeCreated = isoToMs(tc);
  const act = text(v[10]);
  if (act !== undefined) s.Correlation_ActivityID = act;
  const rel = text(v[11]);
  if (rel !== undefined) s.Correlation_RelatedActivityID = rel;
  const pid = text(v[12]);
  if (pid !== undefined) s.Execution_ProcessID = num(pid);
  const tid = text(v[13]);
  if (tid !== undefined) s.Execution_ThreadID = num(tid);
  const user = text(v[16]);
  if (user !== undefined) s.Security_UserID = user;
  const ver = text(v[17]);
  if (ver !== undefined) s.Version = num(ver);
  return s;
}

/** EventData by name; an absent (null) value is left out, as the EVTX parser leaves out an empty optional value. */
export function dataFromValues(names: readonly string[], values: readonly EvtValue[]): Record<string, unknown> {
  const data: Record<string, unknown> = {};
  for (let i = 0; i < names.length; i++) {
    const t = text(values[i]);
    if (t !== undefined) data[names[i] as string] = t;
  }
  return data;
}

/** dataFromValues reading straight from the render buffer (no intermediate array). */
export function dataFromReader(r: VariantReader, names: readonly string[]): Record<string, unknown> {
  const data: Record<string, unknown> = {};
  for (let i = 0; i < names.length; i++) {
    const t = text(r.value(i));
    if (t !== undefined) data[names[i] as string] = t;
  }
  return data;
}

export function recordFromValues(system: readonly EvtValue[], names: readonly string[], values: readonly EvtValue[]): WindowsRecord {
  return { system: systemFromValues(system), data: dataFromValues(names, values) };
}

const DATA_NAME = /<Data\s+Name\s*=\s*(?:'([^']*)'|"([^"]*)")/g;
const UNNAMED_DATA = /<Data\s*\/?>/;

/**
 * The EventData names of an event, in order, from its XML; undefined when the values cannot be
 * selected by name (no EventData, an unnamed or repeated Data, a name an XPath cannot quote).
 */
export function dataNamesOfXml(xml: string): string[] | undefined {
  const start = xml.indexOf('<EventData');
  if (start < 0) return undefined;
  const end = xml.indexOf('</EventData>', start);
  const section = xml.slice(start, end < 0 ? undefined : end);
  if (UNNAMED_DATA.test(section)) return undefined;
  const names: string[] = [];
  const seen = new Set<string>();
  for (const m of section.matchAll(DATA_NAME)) {
    const n = m[1] ?? m[2] ?? '';
    if (n === '' || n.includes("'") || seen.has(n)) return undefined;
    seen.add(n);
    names.push(n);
  }
  return names;
}

/** The XPath that selects one named EventData value. */
export function dataXPath(name: string): string {
  return `Event/EventData/Data[@Name='${name}']`;
}
