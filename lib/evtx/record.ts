/**
 * Turning a decoded record (XElem tree) into Vigil's flat EvtxRecord shape, and rendering
 * it back to XML on request.
 */
import { textOf, type XElem } from './binxml.js';

export interface EvtxSystem {
  Provider_Name: string;
  Provider_Guid?: string;
  Provider_EventSourceName?: string;
  EventID: number;
  EventID_Qualifiers?: number;
  Version?: number;
  Level?: number;
  Task?: number;
  Opcode?: number;
  /** As the log renders it: 0x%016x. */
  Keywords?: string;
  /** ms since the Unix epoch (NaN when absent or unreadable). */
  TimeCreated: number;
  EventRecordID: number;
  Correlation_ActivityID?: string;
  Correlation_RelatedActivityID?: string;
  Execution_ProcessID?: number;
  Execution_ThreadID?: number;
  Channel: string;
  Computer: string;
  Security_UserID?: string;
}

/** The System fields every record has, before its System element is read (one object shape for both decoders). */
export function emptySystem(recordId: number): EvtxSystem {
  return { Provider_Name: '', EventID: NaN, TimeCreated: NaN, EventRecordID: recordId, Channel: '', Computer: '' };
}

export interface EvtxRecord {
  /** Record identifier from the record header. */
  recordId: number;
  /** Written time from the record header, ms since the Unix epoch. */
  timestamp: number;
  system: EvtxSystem;
  /** EventData / UserData values as text, rendered like evtxexport renders them. */
  data: Record<string, unknown>;
  /** Rendered XML, only with `renderXml: true`. */
  xml?: string;
  file: string;
  chunkIndex: number;
  /** Absolute file offset of the record header. */
  offset: number;
}

function num(s: string): number {
  if (s === '') return NaN;
  return Number(s);
}

/** "2019-08-14T14:06:44.495674800Z" → ms since epoch (sub-ms digits dropped). */
export function isoToMs(s: string): number {
  if (s.length < 19) return NaN;
  const base = Date.UTC(
    Number(s.slice(0, 4)),
    Number(s.slice(5, 7)) - 1,
    Number(s.slice(8, 10)),
    Number(s.slice(11, 13)),
    Number(s.slice(14, 16)),
    Number(s.slice(17, 19)),
  );
  let ms = 0;
  if (s[19] === '.') {
    const frac = s.slice(20, 23);
    ms = Number(frac.padEnd(3, '0'));
    if (Number.isNaN(ms)) ms = 0;
  }
  return base + ms;
}

function attr(e: XElem, name: string): string | undefined {
  const a = e.attrs;
  for (let i = 0; i < a.length; i += 2) if (a[i] === name) return a[i + 1];
  return undefined;
}

/** Store a value; a repeated key gets a numeric suffix (Data, Data1, Data2 …). */
export function put(data: Record<string, unknown>, key: string, value: string): void {
  if (data[key] === undefined) {
    data[key] = value;
    return;
  }
  for (let n = 1; ; n++) {
    const k = key + n;
    if (data[k] === undefined) {
      data[k] = value;
      return;
    }
  }
}

function fillSystem(sys: XElem, s: EvtxSystem): void {
  for (const c of sys.children) {
    if (typeof c === 'string') continue;
    switch (c.name) {
      case 'Provider': {
        const n = attr(c, 'Name');
        if (n !== undefined) s.Provider_Name = n;
        const g = attr(c, 'Guid');
        if (g !== undefined) s.Provider_Guid = g;
        const e = attr(c, 'EventSourceName');
        if (e !== undefined) s.Provider_EventSourceName = e;
        break;
      }
      case 'EventID': {
        s.EventID = num(textOf(c.children));
        const q = attr(c, 'Qualifiers');
        if (q !== undefined && q !== '') s.EventID_Qualifiers = num(q);
        break;
      }
      case 'Version':
        s.Version = num(textOf(c.children));
        break;
      case 'Level':
        s.Level = num(textOf(c.children));
        break;
      case 'Task':
        s.Task = num(textOf(c.children));
        break;
      case 'Opcode':
        s.Opcode = num(textOf(c.children));
        break;
      case 'Keywords':
        s.Keywords = textOf(c.children);
        break;
      case 'TimeCreated': {
        const t = attr(c, 'SystemTime');
        if (t !== undefined) s.TimeCreated = isoToMs(t);
        break;
      }
      case 'EventRecordID':
        s.EventRecordID = num(textOf(c.children));
        break;
      case 'Correlation': {
        const a = attr(c, 'ActivityID');
        if (a !== undefined) s.Correlation_ActivityID = a;
        const r = attr(c, 'RelatedActivityID');
        if (r !== undefined) s.Correlation_RelatedActivityID = r;
        break;
      }
      case 'Execution': {
        const p = attr(c, 'ProcessID');
        if (p !== undefined) s.Execution_ProcessID = num(p);
        const t = attr(c, 'ThreadID');
        if (t !== undefined) s.Execution_ThreadID = num(t);
        break;
      }
      case 'Channel':
        s.Channel = textOf(c.children);
        break;
      case 'Computer':
        s.Computer = textOf(c.children);
        break;
      case 'Security': {
        const u = attr(c, 'UserID');
        if (u !== undefined) s.Security_UserID = u;
        break;
      }
      default:
        break;
    }
  }
}

function fillEventData(ed: XElem, data: Record<string, unknown>): void {
  for (const c of ed.children) {
    if (typeof c === 'string') continue;
    const text = textOf(c.children);
    if (c.name === 'Data') {
      const n = attr(c, 'Name');
      put(data, n !== undefined && n !== '' ? n : 'Data', text);
    } else {
      put(data, c.name, text);
    }
  }
}

/** Leaf elements (no child elements) become name → text; their attributes name_attr. */
export function flattenLeaves(e: XElem, data: Record<string, unknown>): void {
  let hasElem = false;
  for (const c of e.children) {
    if (typeof c !== 'string') {
      hasElem = true;
      flattenLeaves(c, data);
    }
  }
  const a = e.attrs;
  for (let i = 0; i < a.length; i += 2) {
    const an = a[i] as string;
    if (an === 'xmlns' || an.startsWith('xmlns:')) continue;
    put(data, e.name + '_' + an, a[i + 1] as string);
  }
  if (!hasElem) put(data, e.name, textOf(e.children));
}

export function buildRecord(
  roots: XElem[],
  recordId: number,
  timestamp: number,
  file: string,
  chunkIndex: number,
  offset: number,
  renderXml: boolean,
): EvtxRecord {
  const system = emptySystem(recordId);
  const data: Record<string, unknown> = {};
  const ev = roots.find((r) => r.name === 'Event') ?? roots[0];
  if (ev) {
    for (const sec of ev.children) {
      if (typeof sec === 'string') continue;
      if (sec.name === 'System') fillSystem(sec, system);
      else if (sec.name === 'EventData') fillEventData(sec, data);
      else for (const c of sec.children) if (typeof c !== 'string') flattenLeaves(c, data);
    }
  }
  const rec: EvtxRecord = { recordId, timestamp, system, data, file, chunkIndex, offset };
  if (renderXml) rec.xml = renderRecordXml(roots);
  return rec;
}

function esc(s: string, quote: boolean): string {
  if (!/[&<>"]/.test(s)) return s;
  let r = s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  if (quote) r = r.replace(/"/g, '&quot;');
  return r;
}

function renderElem(e: XElem, indent: string, out: string[]): void {
  let open = indent + '<' + e.name;
  for (let i = 0; i < e.attrs.length; i += 2) open += ' ' + e.attrs[i] + '="' + esc(e.attrs[i + 1] as string, true) + '"';
  const elems = e.children.some((c) => typeof c !== 'string');
  const text = textOf(e.children);
  if (!elems) {
    out.push(text === '' ? open + '/>' : open + '>' + esc(text, false) + '</' + e.name + '>');
    return;
  }
  out.push(open + '>' + esc(text, false));
  for (const c of e.children) if (typeof c !== 'string') renderElem(c, indent + '  ', out);
  out.push(indent + '</' + e.name + '>');
}

/** XML in the layout evtxexport -f xml uses (two-space indent, empty elements self-closed). */
export function renderRecordXml(roots: XElem[]): string {
  const out: string[] = [];
  for (const r of roots) renderElem(r, '', out);
  return out.join('\n');
}
