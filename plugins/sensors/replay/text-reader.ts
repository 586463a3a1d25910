/**
 * Streaming text from a file with the encoding its byte-order mark names (UTF-8 by
 * default; Windows tools often write UTF-16LE with a BOM), cut into lines with numbers.
 */
import { createReadStream } from 'node:fs';
import { TextDecoder } from 'node:util';

const CHUNK_BYTES = 1 << 20;

function encodingOf(head: Uint8Array): 'utf-8' | 'utf-16le' | 'utf-16be' {
  if (head.length >= 2 && head[0] === 0xff && head[1] === 0xfe) return 'utf-16le';
  if (head.length >= 2 && head[0] === 0xfe && head[1] === 0xff) return 'utf-16be';
  return 'utf-8';
}

/** The file's text in chunks; the BOM is removed. Aborting the signal ends the stream with an AbortError. */
export async function* readText(file: string, signal: AbortSignal): AsyncGenerator<string> {
  const stream = createReadStream(file, { highWaterMark: CHUNK_BYTES, signal });
  let decoder: TextDecoder | undefined;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    decoder ??= new TextDecoder(encodingOf(chunk));
    const text = decoder.decode(chunk, { stream: true });
    if (text.length > 0) yield text;
  }
  const rest = decoder?.decode() ?? '';
  if (rest.length > 0) yield rest;
}

export interface Line {
  text: string;
  /** 1-based line number. */
  no: number;
  /** The line exceeded the limit; `text` is empty and the line was skipped. */
  tooLong?: true;
}

/** Longest line kept in memory (characters). */
export const MAX_LINE_CHARS = 64 * 1024 * 1024;

/**
 * Lines of a text stream (without `\n` or a trailing `\r`), in batches: one batch per
 * chunk read, so the per-line cost stays synchronous.
 */
export async function* readLines(chunks: AsyncIterable<string>, maxLineChars = MAX_LINE_CHARS): AsyncGenerator<Line[]> {
  // Searching is done in each decoded chunk, never in `pending + chunk`: V8 does not
  // flatten such concatenations for indexOf, which made line splitting 100× slower.
  let pending = '';
  let no = 0;
  /** Inside an over-long line: drop text up to its end. */
  let skipping = false;
  const push = (batch: Line[], text: string): void => {
    no++;
    batch.push({ text: text.charCodeAt(text.length - 1) === 13 ? text.slice(0, -1) : text, no });
  };
  for await (const chunk of chunks) {
    const batch: Line[] = [];
    let start = 0;
    let nl = chunk.indexOf('\n');
    if (skipping) {
      if (nl < 0) continue;
      skipping = false;
      start = nl + 1;
      nl = chunk.indexOf('\n', start);
    } else if (pending.length > 0 && nl >= 0) {
      push(batch, pending + chunk.slice(0, nl));
      pending = '';
      start = nl + 1;
      nl = chunk.indexOf('\n', start);
    }
    while (nl >= 0) {
      push(batch, chunk.slice(start, nl));
      start = nl + 1;
      nl = chunk.indexOf('\n', start);
    }
    if (start < chunk.length) pending = pending.length > 0 ? pending + chunk.slice(start) : chunk.slice(start);
    if (pending.length > maxLineChars) {
      no++;
      batch.push({ text: '', no, tooLong: true });
      pending = '';
      skipping = true;
    }
    if (batch.length > 0) yield batch;
  }
  if (pending.length > 0 && !skipping) {
    const last: Line[] = [];
    push(last, pending);
    yield last;
  }
}
