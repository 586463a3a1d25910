/**
 * One async generator of normalized drafts per file and format. Bad lines and records are
 * reported and counted through ReplayEnv and skipped; file-level failures (cannot open, not
 * an EVTX file) propagate to the caller, which reports them per file.
 */
import type { EventDraft } from '../../../core/index.js';
import { readEvtxRecords, type EvtxIssue } from '../../../lib/evtx/index.js';
import {
  EventXmlSplitter,
  parseOneEventXml,
  windowsRecordFromEventObject,
  WindowsRecordError,
} from '../../../lib/windows/index.js';
import type { ReplayFormat } from './config.js';
import { messageOf, type ReplayEnv } from './replay-env.js';
import { DEFAULT_MAX_LINE_BYTES, readLines, readText } from './text-reader.js';

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Envelope stamps of an exported VigilEvent; the core stamps its own on replay. */
const ENVELOPE = ['id', 'seq', 'received', 'source'] as const;

/** A Vigil event or EventDraft read from JSON; a string says why it is not one. */
export function vigilDraftFromJson(obj: Obj): EventDraft | string {
  const type = obj['type'];
  if (typeof type !== 'string' || type.length === 0) return 'no "type"';
  let time = obj['time'];
  if (typeof time === 'string') time = Date.parse(time);
  if (typeof time !== 'number' || !Number.isFinite(time)) return `"time" is not a number or ISO time`;
  let out: Obj = obj;
  if (ENVELOPE.some((k) => k in obj) || obj['time'] !== time) {
    out = { ...obj, time };
    for (const k of ENVELOPE) delete out[k];
  }
  const host = out['host'];
  if (host !== undefined && !(isObj(host) && typeof host['name'] === 'string')) return '"host" is not { name }';
  return out as unknown as EventDraft;
}

/** Drafts are handed on in batches (one per chunk read) so that the per-event path is synchronous. */
export type DraftBatch = EventDraft[];

/** One line of JSON → a draft, or undefined (bad, or filtered; counted either way). */
function jsonLineDraft(file: string, no: number, text: string, env: ReplayEnv): EventDraft | undefined {
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (err) {
    env.bad(file, `line ${no}`, 'parse_error', 'json', `not JSON: ${messageOf(err)}`);
    return undefined;
  }
  if (!isObj(obj)) {
    env.bad(file, `line ${no}`, 'unrecognized_record', 'record', 'not a JSON object');
    return undefined;
  }
  const event = obj['Event'] ?? (isObj(obj['System']) ? obj : undefined);
  if (event !== undefined) {
    try {
      return env.windows(windowsRecordFromEventObject(event));
    } catch (err) {
      if (!(err instanceof WindowsRecordError)) throw err;
      env.bad(file, `line ${no}`, 'unrecognized_record', 'record', `not a readable Windows event: ${err.message}`);
      return undefined;
    }
  }
  const d = vigilDraftFromJson(obj);
  if (typeof d === 'string') {
    env.bad(file, `line ${no}`, 'unrecognized_record', 'record', `neither a Vigil event nor a Windows event: ${d}`);
    return undefined;
  }
  const raw = d.raw;
  return env.channelAllowed(raw === undefined ? undefined : raw['Channel']) ? d : undefined;
}

/** Limits of the text sources (the replay config's, after defaults). */
export interface SourceOptions {
  maxLineBytes?: number;
}

/** One JSON object per line: a Vigil event/draft or the evtx_dump `{"Event":{…}}` layout. */
export async function* jsonlDrafts(file: string, env: ReplayEnv, opts: SourceOptions = {}): AsyncGenerator<DraftBatch> {
  const maxLineBytes = opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  for await (const lines of readLines(readText(file, env.signal), maxLineBytes)) {
    const out: DraftBatch = [];
    for (const line of lines) {
      if (line.tooLong) {
        // A record refused by the size limit: lost to detection, so an unintended discard.
        env.record();
        env.counters.discard('line_too_long');
        env.warn(file, `line ${line.no}`, `line longer than max_line_bytes (${maxLineBytes}); skipped`);
        continue;
      }
      const text = line.text;
      // Blank lines separate nothing and are not records.
      if (text.length === 0 || text.trim().length === 0) continue;
      env.record();
      const d = jsonLineDraft(file, line.no, text, env);
      if (d !== undefined) out.push(d);
    }
    if (out.length > 0) yield out;
  }
}

/** Rendered event XML: `<Event>` elements one after another, optionally inside `<Events>`. */
export async function* xmlDrafts(file: string, env: ReplayEnv): AsyncGenerator<DraftBatch> {
  const splitter = new EventXmlSplitter();
  const one = (xml: string, line: number): EventDraft | undefined => {
    env.record();
    try {
      return env.windows(parseOneEventXml(xml));
    } catch (err) {
      if (!(err instanceof WindowsRecordError)) throw err;
      env.bad(file, `event at line ${line}`, 'parse_error', 'xml', err.message);
      return undefined;
    }
  };
  for await (const text of readText(file, env.signal)) {
    let chunks;
    try {
      chunks = splitter.push(text);
    } catch (err) {
      if (!(err instanceof WindowsRecordError)) throw err;
      env.record();
      env.bad(file, 'xml', 'parse_error', 'xml', err.message);
      continue;
    }
    const out: DraftBatch = [];
    for (const c of chunks) {
      const d = one(c.xml, c.line);
      if (d !== undefined) out.push(d);
    }
    if (out.length > 0) yield out;
  }
  const rest = splitter.end();
  if (rest !== undefined) {
    env.record();
    env.bad(file, `event at line ${rest.line}`, 'parse_error', 'xml', 'unterminated <Event> at end of file');
  }
}

/** EVTX issues that cost a record (the others are about chunks, checksums, the header). */
const LOST_RECORD: ReadonlySet<string> = new Set(['record-bad', 'record-truncated', 'binxml']);

/** EVTX records per batch: small enough that a stop is noticed quickly. */
const EVTX_BATCH = 256;

export async function* evtxDrafts(file: string, env: ReplayEnv): AsyncGenerator<DraftBatch> {
  const onIssue = (issue: EvtxIssue): void => {
    const where = `offset ${issue.offset}`;
    if (LOST_RECORD.has(issue.kind)) {
      env.record();
      env.bad(file, where, 'parse_error', `evtx_${issue.kind}`, issue.message);
    } else {
      env.counters.error('receive', `parse:evtx_${issue.kind}`);
      env.warn(file, where, issue.message);
    }
  };
  const stream = readEvtxRecords(file, { onIssue });
  let out: DraftBatch = [];
  for await (const r of stream) {
    env.record();
    const d = env.windows(r);
    if (d !== undefined) out.push(d);
    if (out.length >= EVTX_BATCH) {
      yield out;
      out = [];
      if (env.signal.aborted) return;
    }
  }
  if (out.length > 0) yield out;
  if (stream.summary.skippedChunks > 0) env.counters.add('evtx_chunks_skipped', stream.summary.skippedChunks);
}

export function draftsOf(format: ReplayFormat, file: string, env: ReplayEnv, opts: SourceOptions = {}): AsyncGenerator<DraftBatch> {
  switch (format) {
    case 'evtx':
      return evtxDrafts(file, env);
    case 'jsonl':
      return jsonlDrafts(file, env, opts);
    case 'xml':
      return xmlDrafts(file, env);
  }
}
