/**
 * The reader thread: binds wevtapi, subscribes in the pull model (or queries an .evtx file),
 * and loops — wait on the signal event in short slices, EvtNext a batch, render each event
 * (system values through one cached context, EventData through a cached per-schema context of
 * XPaths, XML as the fallback), update the bookmark, post the batch and wait until the main
 * thread has delivered it and saved the bookmark. One batch in flight bounds the memory held.
 * All calls block this thread, never the agent's event loop; the main thread asks the loop to
 * end through a shared flag.
 */
import { parentPort, workerData } from 'node:worker_threads';
import {
  ERROR_ACCESS_DENIED,
  ERROR_EVT_CHANNEL_NOT_FOUND,
  ERROR_NO_MORE_ITEMS,
  ERROR_TIMEOUT,
  EvtQueryFilePath,
  EvtQueryForwardDirection,
  EvtRenderContextSystem,
  EvtRenderContextValues,
  EvtSubscribeStartAfterBookmark,
  EvtSubscribeStartAtOldestRecord,
  EvtSubscribeToFutureEvents,
  RPC_S_INVALID_BOUND,
  bindWevtapi,
  type Handle,
  type WevtapiApi,
  type WevtapiDlls,
  type WinResult,
} from '../../../driver/ffi/windows/wevtapi.js';
import { parseOneEventXml, type WindowsRecord } from '../../../lib/windows/index.js';
import { dataFromReader, dataNamesOfXml, dataXPath, systemFromReader } from './records.js';

export interface ReadWorkerData {
  readonly dlls: WevtapiDlls;
  readonly initialRenderBytes: number | undefined;
  readonly channel: string;
  readonly query: string;
  /** An .evtx file to read once instead of subscribing. */
  readonly from: string | undefined;
  readonly readExisting: boolean;
  /** The saved bookmark's XML: start after it. */
  readonly bookmarkXml: string | undefined;
  readonly batchSize: number;
  readonly maxSchemas: number;
  /** Longest single wait on the signal event (how quickly a stop is noticed). */
  readonly waitMs: number;
  /** Int32Array over it: [0] = 1 asks the loop to end; [1] = batches delivered (the main thread's ack). */
  readonly control: SharedArrayBuffer;
}

export type ReadFailure = 'access_denied' | 'channel_not_found' | 'bind' | 'subscribe' | 'read';

export type ReadMessage =
  | { t: 'ready'; start: string }
  | { t: 'batch'; records: WindowsRecord[]; bookmark: string | undefined; xmlRendered: number; internRefused: number }
  | { t: 'halved'; size: number; error: number }
  | { t: 'problem'; kind: string; message: string }
  | { t: 'error'; failure: ReadFailure; error: number; call: string; message: string }
  | { t: 'done' };

const STOP = 0;
const ACK = 1;

function post(msg: ReadMessage): void {
  parentPort?.postMessage(msg);
}

/** What a failed call means, with the event log's own words when it has any. */
function describe(api: WevtapiApi, r: { error: number; call: string }): string {
  const ext = api.extendedStatus();
  const sys = api.formatError(r.error);
  return `${r.call} failed with error ${r.error}${sys ? ` (${sys})` : ''}${ext ? `: ${ext}` : ''}`;
}

function failureOf(error: number, opening: boolean): ReadFailure {
  if (error === ERROR_ACCESS_DENIED) return 'access_denied';
  if (error === ERROR_EVT_CHANNEL_NOT_FOUND) return 'channel_not_found';
  return opening ? 'subscribe' : 'read';
}

interface Schema {
  readonly names: readonly string[];
  /** undefined: events of this schema render as XML. */
  readonly context: Handle | undefined;
}

async function main(d: ReadWorkerData): Promise<void> {
  const control = new Int32Array(d.control);
  const stopped = (): boolean => Atomics.load(control, STOP) === 1;
  let api: WevtapiApi;
  try {
    api = await bindWevtapi(d.dlls, d.initialRenderBytes === undefined ? {} : { initialRenderBytes: d.initialRenderBytes });
  } catch (err) {
    post({ t: 'error', failure: 'bind', error: 0, call: 'bindWevtapi', message: err instanceof Error ? err.message : String(err) });
    return;
  }
  const handles: Handle[] = [];
  let current: Handle | undefined;
  let signalHandle: Handle | undefined;
  const closeLater = (h: Handle): Handle => (handles.push(h), h);
  try {
    const signal = api.createSignal();
    if (!signal.ok) return void post({ t: 'error', failure: 'subscribe', error: signal.error, call: signal.call, message: describe(api, signal) });
    signalHandle = signal.value;
    let bookmark: Handle;
    let positioned = false;
    const fromSaved = d.bookmarkXml === undefined ? undefined : api.createBookmark(d.bookmarkXml);
    if (fromSaved?.ok) {
      bookmark = fromSaved.value;
      positioned = true;
    } else {
      if (fromSaved && !fromSaved.ok) post({ t: 'problem', kind: 'bookmark_unreadable', message: `the saved bookmark is unreadable (${describe(api, fromSaved)}); starting without it` });
      const empty = api.createBookmark();
      if (!empty.ok) return void post({ t: 'error', failure: 'subscribe', error: empty.error, call: empty.call, message: describe(api, empty) });
      bookmark = empty.value;
    }
    closeLater(bookmark);
    const sysCtx = api.createRenderContext([], EvtRenderContextSystem);
    if (!sysCtx.ok) return void post({ t: 'error', failure: 'read', error: sysCtx.error, call: sysCtx.call, message: describe(api, sysCtx) });
    closeLater(sysCtx.value);

    const startFlags = positioned ? EvtSubscribeStartAfterBookmark : d.readExisting ? EvtSubscribeStartAtOldestRecord : EvtSubscribeToFutureEvents;
    let delivered = 0;
    /** Subscribe (after the bookmark once anything was delivered) or query the file (skipping what was delivered). */
    const open = (): WinResult<Handle> => {
      if (d.from !== undefined) {
        const q = api.query(d.from, d.query, EvtQueryFilePath | EvtQueryForwardDirection);
        if (!q.ok) return q;
        for (let skip = delivered; skip > 0; ) {
          const r = api.next(q.value, Math.min(skip, batch), 0);
          if (!r.ok) return r;
          for (const h of r.value) api.close(h);
          skip -= r.value.length;
        }
        return q;
      }
      // Before the first delivered batch there is no position to resume from: a refusal then
      // resubscribes as at start (for a future-only subscription, events that arrived before
      // the refusal are not read; the log says why the batch was halved).
      const flags = positioned ? EvtSubscribeStartAfterBookmark : startFlags;
      return api.subscribe(d.channel, d.query, signal.value, flags, flags === EvtSubscribeStartAfterBookmark ? bookmark : undefined);
    };

    let batch = d.batchSize;
    let rs = open();
    if (rs.ok) current = rs.value;
    if (!rs.ok) return void post({ t: 'error', failure: failureOf(rs.error, true), error: rs.error, call: rs.call, message: describe(api, rs) });
    post({ t: 'ready', start: d.from !== undefined ? 'file' : positioned ? 'after_bookmark' : d.readExisting ? 'oldest' : 'future' });

    const schemas = new Map<string, Schema>();
    const xmlOnly: Schema = { names: [], context: undefined };
    let cacheFullWarned = false;
    let sent = 0;
    let recheck = true;
    let justReset = false;

    const renderOne = (h: Handle, counts: { xml: number }): WindowsRecord | undefined => {
      let sv;
      try {
        sv = api.renderWith(sysCtx.value, h, systemFromReader);
      } catch (err) {
        post({ t: 'problem', kind: 'render_decode', message: err instanceof Error ? err.message : String(err) });
        return undefined;
      }
      if (!sv.ok) {
        post({ t: 'problem', kind: 'render_system', message: describe(api, sv) });
        return undefined;
      }
      const system = sv.value;
      const key = `${system.Provider_Name}|${system.EventID}|${system.Version ?? ''}`;
      let schema = schemas.get(key);
      let xml: string | undefined;
      if (schema === undefined) {
        if (schemas.size >= d.maxSchemas) {
          schema = xmlOnly;
          if (!cacheFullWarned) {
            cacheFullWarned = true;
            post({ t: 'problem', kind: 'schema_cache_full', message: `more than max_schemas (${d.maxSchemas}) event schemas: events of new ones render as XML` });
          }
        } else {
          const x = api.renderXml(h);
          if (!x.ok) {
            post({ t: 'problem', kind: 'render_xml', message: describe(api, x) });
            return undefined;
          }
          xml = x.value;
          const names = dataNamesOfXml(xml);
          const ctx = names && names.length > 0 ? api.createRenderContext(names.map(dataXPath), EvtRenderContextValues) : undefined;
          schema = names && ctx?.ok ? { names, context: closeLater(ctx.value) } : xmlOnly;
          schemas.set(key, schema);
        }
      }
      if (schema.context !== undefined) {
        try {
          const names = schema.names;
          const v = api.renderWith(schema.context, h, (r) => dataFromReader(r, names));
          if (v.ok) return { system, data: v.value };
          post({ t: 'problem', kind: 'render_values', message: describe(api, v) });
        } catch (err) {
          // A value the decoder cannot read (a pointer outside the buffer): this event goes as XML.
          post({ t: 'problem', kind: 'render_decode', message: err instanceof Error ? err.message : String(err) });
        }
      }
      if (xml === undefined) {
        const x = api.renderXml(h);
        if (!x.ok) {
          post({ t: 'problem', kind: 'render_xml', message: describe(api, x) });
          return undefined;
        }
        xml = x.value;
      }
      counts.xml++;
      try {
        return { system, data: parseOneEventXml(xml).data };
      } catch (err) {
        post({ t: 'problem', kind: 'parse_xml', message: err instanceof Error ? err.message : String(err) });
        return undefined;
      }
    };

    while (!stopped()) {
      if (d.from === undefined && !recheck && !api.waitSignal(signal.value, d.waitMs)) continue;
      recheck = false;
      const r = api.next(rs.value, batch, d.waitMs);
      if (!r.ok) {
        if (r.error === ERROR_NO_MORE_ITEMS || r.error === ERROR_TIMEOUT) {
          if (d.from !== undefined) {
            post({ t: 'done' });
            break;
          }
          // Reset, then look once more before waiting: an event that arrived between the
          // empty EvtNext and the reset would otherwise wait for the next one to be signaled.
          if (!justReset) {
            api.resetSignal(signal.value);
            justReset = true;
            recheck = true;
          } else justReset = false;
          continue;
        }
        if (r.error === RPC_S_INVALID_BOUND && batch > 1) {
          // The batch is too large for the event log's RPC: halve it and resubscribe from the bookmark.
          batch = Math.max(1, Math.floor(batch / 2));
          api.close(rs.value);
          current = undefined;
          rs = open();
          if (rs.ok) current = rs.value;
          if (!rs.ok) return void post({ t: 'error', failure: failureOf(rs.error, true), error: rs.error, call: rs.call, message: describe(api, rs) });
          post({ t: 'halved', size: batch, error: r.error });
          recheck = true;
          continue;
        }
        return void post({ t: 'error', failure: failureOf(r.error, false), error: r.error, call: r.call, message: describe(api, r) });
      }
      justReset = false;
      const events = r.value;
      const counts = { xml: 0 };
      const records: WindowsRecord[] = [];
      try {
        for (const h of events) {
          const rec = renderOne(h, counts);
          if (rec !== undefined) records.push(rec);
        }
        const last = events[events.length - 1];
        let bookmarkXml: string | undefined;
        if (last !== undefined && d.from === undefined) {
          const u = api.updateBookmark(bookmark, last);
          if (!u.ok) return void post({ t: 'error', failure: 'read', error: u.error, call: u.call, message: describe(api, u) });
          positioned = true;
          const b = api.renderBookmark(bookmark);
          if (!b.ok) return void post({ t: 'error', failure: 'read', error: b.error, call: b.call, message: describe(api, b) });
          bookmarkXml = b.value;
        }
        delivered += events.length;
        post({ t: 'batch', records, bookmark: bookmarkXml, xmlRendered: counts.xml, internRefused: api.internRefused() });
      } finally {
        for (const h of events) api.close(h);
      }
      sent++;
      // Wait for the main thread's delivery (and bookmark save) before reading on.
      while (!stopped() && Atomics.load(control, ACK) < sent) Atomics.wait(control, ACK, sent - 1, d.waitMs);
      recheck = true;
    }
  } finally {
    // Every exit path, early errors included: the result set, the context and bookmark handles, the event.
    if (current !== undefined) api.close(current);
    for (const h of handles.reverse()) api.close(h);
    if (signalHandle !== undefined) api.closeHandle(signalHandle);
  }
}

if (parentPort) await main(workerData as ReadWorkerData);
