/**
 * Build a WindowsRecord from the object form of an `<Event>`: rendered event XML parsed by
 * fast-xml-parser (attributes under `#attributes`, text under `#text`), the evtx_dump JSON
 * layout (`{"Event":{"System":{…},"EventData":{…}}}`, attributes under `#attributes` or
 * in `<Name>_attributes` siblings) and xmltodict-like `@Name` attributes.
 */
import { toInt, parseUtcTime } from './convert.js';
import type { WindowsRecord, WindowsSystem } from './normalize.js';

type Obj = Record<string, unknown>;

/** Raised when an object is not a readable Windows event; the message says why. */
export class WindowsRecordError extends Error {
  override readonly name = 'WindowsRecordError';
}

/** Assign without letting a field named `__proto__` change the object's prototype. */
function put(o: Obj, k: string, v: unknown): void {
  if (k === '__proto__') Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  else o[k] = v;
}

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The attribute `name` of child `key` of `parent`, in any of the supported layouts. */
function attr(parent: Obj, key: string, name: string): unknown {
  const node = parent[key];
  if (isObj(node)) {
    const g = node['#attributes'];
    if (isObj(g) && g[name] !== undefined) return g[name];
    const at = node[`@${name}`] ?? node[`@_${name}`];
    if (at !== undefined) return at;
  }
  const sep = parent[`${key}_attributes`];
  if (isObj(sep)) return sep[name];
  return undefined;
}

/** The text of an element: a primitive as it is, `#text` of an element with attributes. */
function text(node: unknown): unknown {
  if (isObj(node)) {
    const t = node['#text'];
    // An element holding only attributes (`<Data Name="RuleName"/>`) has empty text.
    return t === undefined ? '' : t;
  }
  return node;
}

function optStr(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  return undefined;
}

function optInt(v: unknown): number | undefined {
  return toInt(text(v));
}

function timeOf(v: unknown): number | undefined {
  if (typeof v === 'string') return parseUtcTime(v);
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  return undefined;
}

function readSystem(sys: Obj): WindowsSystem {
  const eventId = optInt(sys['EventID']);
  if (eventId === undefined) throw new WindowsRecordError('System/EventID is missing or not a number');
  const out: WindowsSystem = { EventID: eventId };
  const set = <K extends keyof WindowsSystem>(k: K, v: WindowsSystem[K] | undefined): void => {
    if (v !== undefined) out[k] = v;
  };
  set('Provider_Name', optStr(attr(sys, 'Provider', 'Name')));
  set('Provider_Guid', optStr(attr(sys, 'Provider', 'Guid')));
  set('Provider_EventSourceName', optStr(attr(sys, 'Provider', 'EventSourceName')));
  set('EventID_Qualifiers', toInt(attr(sys, 'EventID', 'Qualifiers')));
  set('Version', optInt(sys['Version']));
  set('Level', optInt(sys['Level']));
  set('Task', optInt(sys['Task']));
  set('Opcode', optInt(sys['Opcode']));
  const kw = text(sys['Keywords']);
  set('Keywords', typeof kw === 'number' ? kw : optStr(kw));
  set('TimeCreated', timeOf(attr(sys, 'TimeCreated', 'SystemTime')));
  set('EventRecordID', optInt(sys['EventRecordID']));
  set('Correlation_ActivityID', optStr(attr(sys, 'Correlation', 'ActivityID')));
  set('Correlation_RelatedActivityID', optStr(attr(sys, 'Correlation', 'RelatedActivityID')));
  set('Execution_ProcessID', toInt(attr(sys, 'Execution', 'ProcessID')));
  set('Execution_ThreadID', toInt(attr(sys, 'Execution', 'ThreadID')));
  set('Channel', optStr(text(sys['Channel'])));
  set('Computer', optStr(text(sys['Computer'])));
  set('Security_UserID', optStr(attr(sys, 'Security', 'UserID')));
  return out;
}

function isMeta(key: string): boolean {
  return key.charCodeAt(0) === 35 /* # */ || key.charCodeAt(0) === 64 /* @ */ || key.endsWith('_attributes');
}

/**
 * Add a field; a name already taken gets a number (`Data`, `Data1`, `Data2`…), the same
 * convention as the EVTX reader so that every replay format yields the same raw fields.
 */
function putUnique(data: Obj, key: string, value: unknown): void {
  // Own properties only: `constructor` or `__proto__` are field names like any other here.
  if (!Object.hasOwn(data, key)) {
    put(data, key, value);
    return;
  }
  for (let n = 1; ; n++) {
    const k = key + n;
    if (!Object.hasOwn(data, k)) {
      put(data, k, value);
      return;
    }
  }
}

function attrsOf(node: Obj): Obj | undefined {
  const g = node['#attributes'];
  return isObj(g) ? g : undefined;
}

/** `<Data Name="x">v</Data>` items (XML), or unnamed values, into `data`. */
function readDataItems(items: unknown, data: Obj): void {
  const list = Array.isArray(items) ? items : [items];
  for (const item of list) {
    const name = isObj(item) ? (attrsOf(item)?.['Name'] ?? item['@Name'] ?? item['@_Name']) : undefined;
    if (typeof name === 'string' && name.length > 0) {
      putUnique(data, name, text(item));
      continue;
    }
    const t = text(item);
    // evtx_dump renders several unnamed <Data> as one array.
    if (Array.isArray(t)) for (const v of t as unknown[]) putUnique(data, 'Data', v);
    else putUnique(data, 'Data', t);
  }
}

function readEventData(ed: unknown, data: Obj): void {
  if (!isObj(ed)) return;
  for (const [k, v] of Object.entries(ed)) {
    if (isMeta(k)) continue;
    if (k === 'Data') readDataItems(v, data);
    else if (Array.isArray(v)) for (const x of v as unknown[]) putUnique(data, k, text(x));
    else putUnique(data, k, text(v));
  }
}

/**
 * UserData holds provider-specific elements: every leaf element becomes name → text and
 * every attribute `<element>_<attribute>` (namespace declarations left out).
 */
function flattenLeaves(name: string, node: unknown, data: Obj): void {
  if (Array.isArray(node)) {
    for (const n of node as unknown[]) flattenLeaves(name, n, data);
    return;
  }
  if (!isObj(node)) {
    putUnique(data, name, node);
    return;
  }
  let hasElem = false;
  for (const [k, v] of Object.entries(node)) {
    if (isMeta(k)) continue;
    hasElem = true;
    flattenLeaves(k, v, data);
  }
  const attrs = attrsOf(node);
  if (attrs !== undefined) {
    for (const [a, v] of Object.entries(attrs)) if (a !== 'xmlns' && !a.startsWith('xmlns:')) putUnique(data, `${name}_${a}`, v);
  }
  if (!hasElem) putUnique(data, name, text(node));
}

/** UserData, ProcessingErrorData and other sections: their elements, flattened. */
function readSection(section: unknown, data: Obj): void {
  if (!isObj(section)) return;
  for (const [k, inner] of Object.entries(section)) if (!isMeta(k)) flattenLeaves(k, inner, data);
}

/**
 * Build a record from an `Event` object (the value under the `Event` key). Throws
 * WindowsRecordError when it has no System block or no numeric EventID.
 */
export function windowsRecordFromEventObject(event: unknown): WindowsRecord {
  if (!isObj(event)) throw new WindowsRecordError('Event is not an object');
  const sys = event['System'];
  if (!isObj(sys)) throw new WindowsRecordError('Event has no System block');
  const system = readSystem(sys);
  const data: Obj = {};
  for (const [k, v] of Object.entries(event)) {
    if (k === 'System' || isMeta(k)) continue;
    if (k === 'EventData') readEventData(v, data);
    // RenderingInfo is the rendered message (EvtFormatMessage), not event data.
    else if (k !== 'RenderingInfo') readSection(v, data);
  }
  return { system, data };
}

/** The evtx_dump JSON layout `{"Event":{…}}`; undefined when `obj` has no `Event` object. */
export function windowsRecordFromEvtxJson(obj: unknown): WindowsRecord | undefined {
  if (!isObj(obj) || !isObj(obj['Event'])) return undefined;
  return windowsRecordFromEventObject(obj['Event']);
}
