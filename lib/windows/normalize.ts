/**
 * Windows event record → Vigil EventDraft, driven by the tables in field-map.ts.
 *
 * The tables are compiled once, at module load, into one list of setter closures per
 * event ID, so the per-event work is a map lookup, one closure call per mapped field and
 * a copy of the source fields into `raw`.
 */
import type { EventDraft } from '../../core/index.js';
import { baseName, CONVERTERS, parseUtcTime, type Converter } from './convert.js';
import { parseFieldSpec, SYSMON_CHANNEL, SYSMON_EVENTS, WINDOWS_EVENTS, type FieldKind } from './field-map.js';

/** The System part of a Windows event, flattened (`Execution_ProcessID` for `<Execution ProcessID=…>`). */
export interface WindowsSystem {
  Provider_Name?: string | undefined;
  Provider_Guid?: string | undefined;
  Provider_EventSourceName?: string | undefined;
  EventID: number;
  /** Classic providers: the high word of the event identifier. */
  EventID_Qualifiers?: number | undefined;
  Version?: number | undefined;
  Level?: number | undefined;
  Task?: number | undefined;
  Opcode?: number | undefined;
  /** 64-bit mask, kept as written (`0x8000000000000000`). */
  Keywords?: string | number | undefined;
  /** ms since the epoch (fractions allowed). */
  TimeCreated?: number | undefined;
  EventRecordID?: number | undefined;
  Correlation_ActivityID?: string | undefined;
  Correlation_RelatedActivityID?: string | undefined;
  Execution_ProcessID?: number | undefined;
  Execution_ThreadID?: number | undefined;
  Channel?: string | undefined;
  Computer?: string | undefined;
  Security_UserID?: string | undefined;
}

/** One Windows event as the EVTX parser yields it and the XML / JSON readers build it. */
export interface WindowsRecord {
  system: WindowsSystem;
  /** EventData (by Data Name) or the flattened UserData fields, values as read. */
  data: Readonly<Record<string, unknown>>;
}

/** The generic type for Windows events without a dedicated mapping. */
export const GENERIC_WINDOWS_TYPE = 'windows.event';

const SYSMON_PROVIDER = 'Microsoft-Windows-Sysmon';
const SYSMON_CHANNEL_LC = SYSMON_CHANNEL.toLowerCase();

/** System fields that always describe the record, even if EventData reuses the name. */
const SYSTEM_WINS: ReadonlySet<string> = new Set(['EventID', 'Channel', 'Provider_Name', 'Computer']);

type Out = Record<string, unknown>;
type Setter = (data: Readonly<Record<string, unknown>>, out: Out) => void;

interface Compiled {
  readonly type: string;
  readonly setters: readonly Setter[];
}

function makeSetter(field: string, spec: string): Setter {
  const { path, kind } = parseFieldSpec(spec);
  const convert: Converter = CONVERTERS[kind as FieldKind] ?? CONVERTERS.str;
  const dot = path.indexOf('.');
  if (dot < 0 || path.indexOf('.', dot + 1) >= 0) {
    // Every path in the table is `group.key`; a deeper or flat one is a table error.
    throw new Error(`field-map: path "${path}" for ${field} must be group.key`);
  }
  const group = path.slice(0, dot);
  const key = path.slice(dot + 1);
  return (data, out) => {
    const v = data[field];
    if (v === undefined || v === null) return;
    const c = convert(v);
    if (c === undefined) return;
    let g = out[group] as Out | undefined;
    if (g === undefined) {
      g = {};
      out[group] = g;
    }
    g[key] = c;
  };
}

function compile(type: string, fields: Readonly<Record<string, string>>): Compiled {
  return { type, setters: Object.entries(fields).map(([f, s]) => makeSetter(f, s)) };
}

const SYSMON: ReadonlyMap<number, Compiled> = new Map(
  Object.entries(SYSMON_EVENTS).map(([id, m]) => [Number(id), compile(m.type, m.fields)]),
);

interface CompiledWindows extends Compiled {
  readonly channels: ReadonlySet<string>;
}

const WINDOWS: ReadonlyMap<number, CompiledWindows> = new Map(
  Object.entries(WINDOWS_EVENTS).map(([id, m]) => [
    Number(id),
    { ...compile(m.type, m.fields), channels: new Set(m.channels.map((c) => c.toLowerCase())) },
  ]),
);

function isSysmon(sys: WindowsSystem): boolean {
  const ch = sys.Channel;
  if (ch === SYSMON_CHANNEL) return true;
  if (ch !== undefined && ch.length === SYSMON_CHANNEL.length && ch.toLowerCase() === SYSMON_CHANNEL_LC) return true;
  return sys.Provider_Name === SYSMON_PROVIDER;
}

/** The mapping that applies to a record, or undefined for the generic `windows.event`. */
function mappingFor(sys: WindowsSystem): Compiled | undefined {
  if (isSysmon(sys)) return SYSMON.get(sys.EventID);
  const m = WINDOWS.get(sys.EventID);
  if (m === undefined) return undefined;
  // Without a channel the event ID is the best evidence there is.
  if (sys.Channel === undefined || sys.Channel === '' || m.channels.has(sys.Channel.toLowerCase())) return m;
  return undefined;
}

/** The event type a record maps to (without building the event). */
export function windowsEventType(sys: WindowsSystem): string {
  return mappingFor(sys)?.type ?? GENERIC_WINDOWS_TYPE;
}

function addName(group: unknown, from: 'image' | 'path'): void {
  if (group === undefined) return;
  const g = group as Out;
  const p = g[from];
  if (typeof p === 'string' && p.length > 0 && g['name'] === undefined) g['name'] = baseName(p);
}

function buildRaw(rec: WindowsRecord): Record<string, unknown> {
  const raw: Record<string, unknown> = {};
  const data = rec.data;
  for (const k in data) {
    // A field named __proto__ (possible in JSON or XML input) must stay a plain field.
    if (k === '__proto__') Object.defineProperty(raw, k, { value: data[k], enumerable: true, writable: true, configurable: true });
    else raw[k] = data[k];
  }
  const sys = rec.system as unknown as Readonly<Record<string, unknown>>;
  for (const k in sys) {
    const v = sys[k];
    if (v === undefined) continue;
    if (SYSTEM_WINS.has(k) || !Object.hasOwn(raw, k)) raw[k] = v;
  }
  return raw;
}

/**
 * Normalize one Windows event. Never throws on odd data: a value that cannot be converted
 * stays in `raw` only. The time is Sysmon's UtcTime when readable, else System
 * TimeCreated, else 0 (callers may count such events).
 */
export function normalizeWindowsEvent(rec: WindowsRecord): EventDraft {
  const sys = rec.system;
  const data = rec.data;
  const m = mappingFor(sys);
  const out: Out = { type: m?.type ?? GENERIC_WINDOWS_TYPE, time: 0 };

  let time: number | undefined;
  const utc = data['UtcTime'];
  if (typeof utc === 'string') time = parseUtcTime(utc);
  if (time === undefined) {
    const tc = sys.TimeCreated;
    if (typeof tc === 'number' && Number.isFinite(tc)) time = tc;
  }
  if (time !== undefined) out['time'] = time;

  if (m !== undefined) {
    const setters = m.setters;
    for (let i = 0; i < setters.length; i++) (setters[i] as Setter)(data, out);

    addName(out['proc'], 'image');
    addName(out['parent'], 'image');
    addName(out['target'], 'image');
    addName(out['file'], 'path');

    if (m.type === 'process.start') {
      const proc = out['proc'] as Out | undefined;
      const parent = out['parent'] as Out | undefined;
      if (proc !== undefined && parent !== undefined) {
        if (parent['pid'] !== undefined) proc['ppid'] = parent['pid'];
        if (parent['guid'] !== undefined) proc['parent_guid'] = parent['guid'];
      }
    } else if (m.type === 'registry.create') {
      // Sysmon 12 carries both creations and deletions; EventType tells them apart.
      const op = data['EventType'];
      if (op === 'DeleteKey' || op === 'DeleteValue') out['type'] = 'registry.delete';
    }
  }

  const computer = sys.Computer;
  if (typeof computer === 'string' && computer.length > 0) out['host'] = { name: computer };
  out['raw'] = buildRaw(rec);
  return out as unknown as EventDraft;
}

/** Every type normalizeWindowsEvent can return. */
export function windowsEventTypes(): string[] {
  const types = new Set<string>([GENERIC_WINDOWS_TYPE, 'registry.delete']);
  for (const m of SYSMON.values()) types.add(m.type);
  for (const m of WINDOWS.values()) types.add(m.type);
  return [...types].sort();
}
