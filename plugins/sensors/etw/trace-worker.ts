/**
 * The trace thread: opens the real-time session for consuming and runs ProcessTrace, which
 * blocks this thread and calls the record callback on it for every event, synchronously, so
 * the agent's event loop never waits on ETW. Each record is decoded at once (the EVENT_RECORD
 * and its UserData are valid only during the callback) through a per-(provider, id, version)
 * TDH schema cache and DataView reads; batches are posted to the main thread when full and
 * after every buffer ETW delivers. The main thread ends it by closing the trace (CloseTrace)
 * or through the shared stop flag, read at every buffer.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { bindEtw, type EtwApi } from '../../../driver/ffi/windows/etw.js';
import { SchemaCache, decodeEvent, parseEventInfo, schemaKey, type DecodedEvent, type EventSchema } from './decode.js';
import type { EtwErrorCode } from './errors.js';

export interface TraceWorkerData {
  readonly advapi32?: string;
  readonly tdh?: string;
  readonly sessionName: string;
  readonly maxBatch: number;
  readonly maxSchemas: number;
  /** Int32Array over it: [0] = 1 asks ProcessTrace to end at the next buffer. */
  readonly stop: SharedArrayBuffer;
}

/** Totals since the thread started. */
export interface TraceTallies {
  records: number;
  /** Records whose schema TDH could not give, by Win32 error. */
  noSchema: Record<string, number>;
  /** Records of a new (provider, id, version) met with the schema cache full. */
  cacheFull: number;
  /** Records decoded only in part (struct properties, short UserData, unknown types). */
  partial: number;
  lastPartial: string;
  /** Records whose decoding threw. */
  failed: number;
  lastFailure: string;
}

export type TraceMessage =
  | { t: 'opened'; handle: bigint }
  | { t: 'events'; events: DecodedEvent[]; tallies: TraceTallies }
  | { t: 'error'; code: EtwErrorCode; message: string; error: number }
  | { t: 'ended'; status: number; tallies: TraceTallies };

function post(msg: TraceMessage): void {
  parentPort?.postMessage(msg);
}

function run(etw: EtwApi, data: TraceWorkerData): void {
  const stop = new Int32Array(data.stop);
  const schemas = new SchemaCache<EventSchema | number>(data.maxSchemas);
  const tallies: TraceTallies = { records: 0, noSchema: {}, cacheFull: 0, partial: 0, lastPartial: '', failed: 0, lastFailure: '' };
  let batch: DecodedEvent[] = [];
  const flush = (): void => {
    if (batch.length === 0) return;
    post({ t: 'events', events: batch, tallies });
    batch = [];
  };
  const onRecord = (record: unknown): void => {
    tallies.records++;
    try {
      const { record: rec, userData } = etw.recordViews(record);
      let schema = schemas.get(rec);
      if (schema === undefined) {
        if (schemas.size >= schemas.max) {
          tallies.cacheFull++;
          return;
        }
        const info = etw.eventInformation(record);
        // A failure is cached too: TDH would fail the same way for every later record.
        schema = info.ok ? parseEventInfo(info.value) : info.error;
        schemas.set(rec, schema);
      }
      if (typeof schema === 'number') {
        tallies.noSchema[schema] = (tallies.noSchema[schema] ?? 0) + 1;
        return;
      }
      const ev = decodeEvent(rec, userData, schema);
      if (ev.undecoded !== undefined) {
        tallies.partial++;
        tallies.lastPartial = `${schemaKey(rec)}: ${ev.undecoded}`;
      }
      batch.push(ev);
      if (batch.length >= data.maxBatch) flush();
    } catch (err) {
      tallies.failed++;
      tallies.lastFailure = err instanceof Error ? err.message : String(err);
    }
  };
  const opened = etw.openTrace(data.sessionName, {
    onRecord,
    onBuffer: () => {
      flush();
      return Atomics.load(stop, 0) === 0;
    },
  });
  if (!opened.ok) {
    post({ t: 'error', code: 'VIGIL_ERR_ETW_OPEN', message: `OpenTraceW(${data.sessionName}) failed with Win32 error ${opened.error}`, error: opened.error });
    return;
  }
  post({ t: 'opened', handle: opened.value });
  let status: number;
  try {
    status = etw.processTrace(opened.value);
  } finally {
    etw.releaseCallbacks(opened.value);
  }
  flush();
  post({ t: 'ended', status, tallies });
}

async function main(): Promise<void> {
  const data = workerData as TraceWorkerData;
  let etw: EtwApi;
  try {
    etw = await bindEtw({ ...(data.advapi32 !== undefined ? { advapi32: data.advapi32 } : {}), ...(data.tdh !== undefined ? { tdh: data.tdh } : {}) });
  } catch (err) {
    post({ t: 'error', code: 'VIGIL_ERR_ETW_BIND', message: `cannot bind advapi32 / tdh: ${err instanceof Error ? err.message : String(err)}`, error: 0 });
    return;
  }
  run(etw, data);
}

await main();
