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

/** Default longest line (bytes of its text as UTF-8): 1 MiB. */
export const DEFAULT_MAX_LINE_BYTES = 1024 * 1024;

/** UTF-8 size of `s`, computed only when its length leaves the answer open. */
function overLimit(s: string, maxBytes: number): boolean {
  // A UTF-16 code unit takes 1 to 3 UTF-8 bytes (a surrogate pair 4 for two units).
  if (s.length > maxBytes) return true;
  if (s.length * 3 <= maxBytes) return false;
  return Buffer.byteLength(s, 'utf8') > maxBytes;
}

/**
 * Lines of a text stream (without `\n` or a trailing `\r`), in batches: one batch per
 * chunk read, so the per-line cost stays synchronous. A line longer than `maxLineBytes`
 * (its text as UTF-8, the trailing `\r` not counted) comes out as one `tooLong` line: the
 * reader keeps at most `maxLineBytes` of an unfinished line and streams past the rest, so a
 * line of any size costs no more memory than the limit.
 */
export async function* readLines(chunks: AsyncIterable<string>, maxLineBytes = DEFAULT_MAX_LINE_BYTES): AsyncGenerator<Line[]> {
  // Searching is done in each decoded chunk, never in `pending + chunk`: V8 does not
  // flatten such concatenations for indexOf, which made line splitting 100× slower.
  let pending = '';
  let pendingBytes = 0;
  let no = 0;
  /** Inside an over-long line: drop text up to its end. */
  let skipping = false;
  const push = (batch: Line[], text: string): void => {
    no++;
    const line = text.charCodeAt(text.length - 1) === 13 ? text.slice(0, -1) : text;
    batch.push(overLimit(line, maxLineBytes) ? { text: '', no, tooLong: true } : { text: line, no });
  };
  const pushTooLong = (batch: Line[]): void => {
    no++;
    batch.push({ text: '', no, tooLong: true });
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
      const head = chunk.slice(0, nl);
      // Measured apart: the joined string is only built for a line within the limit.
      const headBytes = overLimit(head, maxLineBytes) ? Infinity : Buffer.byteLength(head, 'utf8');
      if (pendingBytes + headBytes > maxLineBytes + 1) pushTooLong(batch);
      else push(batch, pending + head);
      pending = '';
      pendingBytes = 0;
      start = nl + 1;
      nl = chunk.indexOf('\n', start);
    }
    while (nl >= 0) {
      push(batch, chunk.slice(start, nl));
      start = nl + 1;
      nl = chunk.indexOf('\n', start);
    }
    if (start < chunk.length) {
      const tail = chunk.slice(start);
      const tailBytes = overLimit(tail, maxLineBytes + 1) ? Infinity : Buffer.byteLength(tail, 'utf8');
      // One byte of slack: the line may yet end in a `\r`, which does not count.
      if (pendingBytes + tailBytes > maxLineBytes + 1) {
        pushTooLong(batch);
        pending = '';
        pendingBytes = 0;
        skipping = true;
      } else {
        pending = pending.length > 0 ? pending + tail : tail;
        pendingBytes += tailBytes;
      }
    }
    if (batch.length > 0) yield batch;
  }
  if (pending.length > 0 && !skipping) {
    const last: Line[] = [];
    push(last, pending);
    yield last;
  }
}
