/**
 * EVTX file and chunk walking: header validation, chunk scanning by size (the header's
 * chunk count is not trusted: dirty logs often have more), checksum checks reported as
 * issues, record framing with resynchronisation after damage.
 */
import { open } from 'node:fs/promises';
import { ChunkDecoder } from './binxml.js';
import { crc32 } from './crc32.js';
import { BinXmlError, EvtxError, emptySummary, type EvtxIssue, type EvtxIssueKind, type EvtxSummary } from './errors.js';
import { Extractor } from './extract.js';
import { buildRecord, renderRecordXml, type EvtxRecord } from './record.js';
import { fileTimeMs } from './values.js';

export const CHUNK_SIZE = 0x10000;
/** Chunks fetched per read call by the streaming reader (1 MiB). */
const READ_CHUNKS = 16;
const FILE_HEADER_MIN = 128;
const CHUNK_HEADER_SIZE = 512;
const RECORD_SIG = 0x00002a2a;

export interface EvtxOptions {
  /** Also render each record's XML into `record.xml` (slower). */
  renderXml?: boolean;
  /** Check file header and chunk CRC-32s (default true); mismatches are issues, never fatal. */
  verifyChecksums?: boolean;
  /** Called for every warning or damage found; parsing continues. */
  onIssue?: (issue: EvtxIssue) => void;
  /** Name used in issues and records (default: the path, or "<buffer>"). */
  file?: string;
  /**
   * 'direct' (default) reads fields straight from templates and values; 'tree' first
   * builds the full element tree. Both give the same records; 'tree' is slower and kept
   * to cross-check the fast path.
   */
  extraction?: 'direct' | 'tree';
}

/** Per-file decoding state: the chunk decoder and the field extractor on top of it. */
export class RecordDecoder {
  readonly chunk = new ChunkDecoder();
  readonly extractor = new Extractor(this.chunk);
  constructor(
    readonly renderXml: boolean,
    readonly tree: boolean,
  ) {}
}

export interface EvtxFileHeader {
  majorVersion: number;
  minorVersion: number;
  /** Chunk count the header declares (may be lower than what the file holds). */
  declaredChunks: number;
  /** Chunks present in the file by size (a trailing partial chunk counts). */
  chunksInFile: number;
  headerBlockSize: number;
  nextRecordId: number;
  dirty: boolean;
  full: boolean;
  checksumOk: boolean;
}

export interface EvtxRecordIterable extends Iterable<EvtxRecord> {
  readonly header: EvtxFileHeader;
  readonly summary: EvtxSummary;
}

export interface EvtxRecordStream extends AsyncIterable<EvtxRecord> {
  /** Filled in as iteration proceeds; final once the iterator is done. */
  readonly summary: EvtxSummary;
}

const SIG_FILE = [0x45, 0x6c, 0x66, 0x46, 0x69, 0x6c, 0x65, 0x00]; // "ElfFile\0"
const SIG_CHUNK = [0x45, 0x6c, 0x66, 0x43, 0x68, 0x6e, 0x6b, 0x00]; // "ElfChnk\0"

function hasSig(buf: Uint8Array, off: number, sig: number[]): boolean {
  for (let i = 0; i < 8; i++) if (buf[off + i] !== sig[i]) return false;
  return true;
}

/**
 * Validate the file header (first bytes of the file). Throws EvtxError when the file is
 * not EVTX or too short to hold a header; reports checksum and dirty state as issues.
 */
export function parseFileHeader(head: Uint8Array, fileSize: number, ctx: IssueSink): EvtxFileHeader {
  if (fileSize === 0) throw new EvtxError('VIGIL_ERR_EVTX_TRUNCATED', ctx.file, 0, 'empty file: not an EVTX log');
  const sigLen = Math.min(8, head.length);
  for (let i = 0; i < sigLen; i++) {
    if (head[i] !== SIG_FILE[i]) {
      throw new EvtxError('VIGIL_ERR_EVTX_NOT_EVTX', ctx.file, 0, 'not an EVTX file (no "ElfFile" signature)');
    }
  }
  if (fileSize < FILE_HEADER_MIN || head.length < FILE_HEADER_MIN) {
    throw new EvtxError('VIGIL_ERR_EVTX_TRUNCATED', ctx.file, fileSize, `file header truncated (${fileSize} of ${FILE_HEADER_MIN} bytes)`);
  }
  const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const flags = dv.getUint32(120, true);
  // Chunks always start at 4096; a different header block size is damage, not layout.
  const headerBlockSize = 4096;
  const declaredBlock = dv.getUint16(40, true);
  if (declaredBlock !== headerBlockSize) {
    ctx.issue('header-block-size', 40, undefined, `header block size ${declaredBlock} (expected 4096); chunks read from 4096`);
  }
  const declaredChunks = dv.getUint16(42, true);
  const body = Math.max(0, fileSize - headerBlockSize);
  const chunksInFile = Math.ceil(body / CHUNK_SIZE);
  let checksumOk = true;
  if (ctx.verify) {
    checksumOk = crc32(head, 0, 120) === dv.getUint32(124, true);
    if (!checksumOk) {
      ctx.summary.checksumMismatches++;
      ctx.issue('header-checksum', 124, undefined, 'file header CRC-32 mismatch');
    }
  }
  const dirty = (flags & 1) !== 0;
  if (dirty) ctx.issue('header-dirty', 120, undefined, 'file header marked dirty (log not closed cleanly); scanning all chunks');
  // Chunks past the declared count are read too; decodeChunk reports it if one holds data.
  ctx.declaredChunks = declaredChunks;
  if (fileSize < headerBlockSize) {
    ctx.issue('chunk-truncated', fileSize, undefined, `file ends inside the header block (${fileSize} bytes); no chunks`);
  }
  return {
    majorVersion: dv.getUint16(38, true),
    minorVersion: dv.getUint16(36, true),
    declaredChunks,
    chunksInFile,
    headerBlockSize,
    nextRecordId: Number(dv.getBigUint64(24, true)),
    dirty,
    full: (flags & 2) !== 0,
    checksumOk,
  };
}

export class IssueSink {
  readonly summary: EvtxSummary = emptySummary();
  declaredChunks = Number.MAX_SAFE_INTEGER;
  private beyondReported = false;
  /** A run of blank chunks not yet reported: only blanks before a written chunk are news. */
  private blankFrom = -1;
  private blankOffset = 0;
  constructor(
    readonly file: string,
    readonly verify: boolean,
    private readonly onIssue: ((issue: EvtxIssue) => void) | undefined,
  ) {}

  /** A zero-filled chunk: normal pre-allocated space at the end of a log. */
  blank(chunkIndex: number, offset: number): void {
    this.summary.emptyChunks++;
    if (this.blankFrom < 0) {
      this.blankFrom = chunkIndex;
      this.blankOffset = offset;
    }
  }

  /** A chunk with content: report blank chunks before it and data past the declared count. */
  written(chunkIndex: number, offset: number): void {
    if (this.blankFrom >= 0) {
      const n = chunkIndex - this.blankFrom;
      this.issue('chunk-empty', this.blankOffset, this.blankFrom, `${n} blank (zero-filled) chunk${n > 1 ? 's' : ''} from chunk ${this.blankFrom} before written chunk ${chunkIndex}`);
      this.blankFrom = -1;
    }
    if (chunkIndex >= this.declaredChunks && !this.beyondReported) {
      this.beyondReported = true;
      this.issue('header-chunk-count', offset, chunkIndex, `header declares ${this.declaredChunks} chunks but chunk ${chunkIndex} holds data; reading all chunks`);
    }
  }

  issue(kind: EvtxIssueKind, offset: number, chunk: number | undefined, message: string): void {
    if (!this.onIssue) return;
    const i: EvtxIssue = { file: this.file, offset, kind, message };
    if (chunk !== undefined) i.chunk = chunk;
    this.onIssue(i);
  }
}

const ZEROS = new Uint8Array(CHUNK_SIZE);

/** Native compare against zeros: empty pre-allocated chunks are common in real logs. */
function allZero(buf: Uint8Array, start: number, end: number): boolean {
  if (end <= start) return true;
  const a = Buffer.from(buf.buffer, buf.byteOffset + start, end - start);
  return a.equals(ZEROS.subarray(0, end - start));
}

/**
 * Decode every record of one chunk. `buf` holds the chunk's bytes (shorter than 64 KiB
 * when the file ends inside it); `base` is the chunk's absolute file offset.
 */
export function decodeChunk(
  rd: RecordDecoder,
  buf: Uint8Array,
  chunkIndex: number,
  base: number,
  sink: IssueSink,
  out: EvtxRecord[],
): void {
  const decoder = rd.chunk;
  const sum = sink.summary;
  const len = buf.length;
  if (len < CHUNK_HEADER_SIZE) {
    if (allZero(buf, 0, len)) {
      sink.blank(chunkIndex, base);
      return;
    }
    sink.written(chunkIndex, base);
    sum.skippedChunks++;
    sink.issue('chunk-truncated', base, chunkIndex, `chunk ${chunkIndex} truncated to ${len} bytes (header needs ${CHUNK_HEADER_SIZE}); skipped`);
    return;
  }
  if (!hasSig(buf, 0, SIG_CHUNK)) {
    if (allZero(buf, 0, len)) {
      sink.blank(chunkIndex, base);
      return;
    }
    sink.written(chunkIndex, base);
    sum.skippedChunks++;
    sink.issue('chunk-bad-signature', base, chunkIndex, `chunk ${chunkIndex} has no "ElfChnk" signature; skipped`);
    return;
  }
  sink.written(chunkIndex, base);
  sum.chunks++;
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const freeSpace = dv.getUint32(48, true);
  const dataEnd = recordsEnd(buf, dv, freeSpace, chunkIndex, base, sink);
  if (len < CHUNK_SIZE) {
    sink.issue('chunk-truncated', base + len, chunkIndex, `chunk ${chunkIndex} truncated to ${len} of ${CHUNK_SIZE} bytes; reading what is there`);
  }
  if (sink.verify) {
    const hc = crc32(buf, 128, CHUNK_HEADER_SIZE, crc32(buf, 0, 120));
    if (hc !== dv.getUint32(124, true)) {
      sum.checksumMismatches++;
      sink.issue('chunk-checksum', base + 124, chunkIndex, `chunk ${chunkIndex} header CRC-32 mismatch`);
    }
    if (freeSpace >= CHUNK_HEADER_SIZE && freeSpace <= len) {
      const dc = crc32(buf, CHUNK_HEADER_SIZE, freeSpace);
      if (dc !== dv.getUint32(52, true)) {
        sum.checksumMismatches++;
        sink.issue('chunk-data-checksum', base + 52, chunkIndex, `chunk ${chunkIndex} record data CRC-32 mismatch`);
      }
    }
  }
  decoder.reset(buf);
  // Record id → chunk offset of its first copy. Past a wrong free-space offset lies the
  // slack of an earlier fill of the chunk, holding stale copies of records already read.
  const seen = new Map<number, number>();
  let off = CHUNK_HEADER_SIZE;
  while (off + 24 <= dataEnd) {
    const sig = dv.getUint32(off, true);
    const size = dv.getUint32(off + 4, true);
    if (sig !== RECORD_SIG) {
      if (allZero(buf, off, dataEnd)) break;
      sum.badRecords++;
      const next = resync(buf, dv, off + 1, dataEnd);
      sink.issue('record-bad', base + off, chunkIndex, `no record signature at chunk offset ${off}; ${next < 0 ? 'rest of chunk skipped' : `resuming at ${next}`}`);
      if (next < 0) break;
      off = next;
      continue;
    }
    if (off + size > len) {
      sum.badRecords++;
      sink.issue('record-truncated', base + off, chunkIndex, `record of ${size} bytes at chunk offset ${off} runs past the ${len}-byte chunk data`);
      const next = resync(buf, dv, off + 1, dataEnd);
      if (next < 0) break;
      off = next;
      continue;
    }
    if (size < 28 || dv.getUint32(off + size - 4, true) !== size) {
      sum.badRecords++;
      const next = resync(buf, dv, off + 1, dataEnd);
      sink.issue('record-bad', base + off, chunkIndex, `record at chunk offset ${off} has an inconsistent size (${size})`);
      if (next < 0) break;
      off = next;
      continue;
    }
    const lo = dv.getUint32(off + 8, true);
    const hi = dv.getUint32(off + 12, true);
    const recordId = hi * 4294967296 + lo;
    const firstCopy = seen.get(recordId);
    if (firstCopy !== undefined) {
      sum.duplicateRecords++;
      sink.issue(
        'record-duplicate',
        base + off,
        chunkIndex,
        `record ${recordId} at chunk offset ${off} repeats the record at chunk offset ${firstCopy}; delivered once`,
      );
      off += size;
      continue;
    }
    seen.set(recordId, off);
    const ts = fileTimeMs(dv, off + 16);
    try {
      const nodes = decoder.parseRecord(off + 24, off + size - 4);
      let rec: EvtxRecord;
      if (rd.tree) {
        rec = buildRecord(decoder.resolve(nodes), recordId, ts, sink.file, chunkIndex, base + off, rd.renderXml);
      } else {
        const ex = rd.extractor;
        ex.run(nodes, recordId);
        rec = { recordId, timestamp: ts, system: ex.system, data: ex.data, file: sink.file, chunkIndex, offset: base + off };
        if (rd.renderXml) rec.xml = renderRecordXml(decoder.resolve(nodes));
      }
      out.push(rec);
      sum.records++;
    } catch (e) {
      // Any failure inside one record (decoder damage, out-of-range reads, deep recursion)
      // costs that record only: a log must never stop the reader.
      sum.badRecords++;
      const at = e instanceof BinXmlError && e.offset > 0 ? e.offset : off;
      const msg = e instanceof BinXmlError ? e.message : `${e instanceof Error ? e.name + ': ' + e.message : String(e)}`;
      sink.issue('binxml', base + at, chunkIndex, `record ${recordId} at file offset ${base + off}: ${msg}`);
    }
    off += size;
  }
}

/**
 * Where the records of a chunk end. The free-space offset (header offset 48) says so, and
 * the offset of the last record (header offset 44) is a second witness: that record must end
 * where the free space begins. When they disagree, or the free-space offset is outside the
 * chunk, the damage is reported and the record data checksum (over the records, up to the
 * free space) decides which end is true. Without a verdict the walk goes as far as either
 * allows, so that no record is lost; the stale copies of records this can expose (the slack
 * of an earlier fill of the chunk) are dropped by record id in decodeChunk.
 */
function recordsEnd(buf: Uint8Array, dv: DataView, freeSpace: number, chunkIndex: number, base: number, sink: IssueSink): number {
  const len = buf.length;
  const freeInChunk = freeSpace >= CHUNK_HEADER_SIZE && freeSpace <= CHUNK_SIZE;
  const lastOffset = dv.getUint32(44, true);
  let lastEnd: number | undefined;
  if (lastOffset >= CHUNK_HEADER_SIZE && lastOffset + 24 <= len && dv.getUint32(lastOffset, true) === RECORD_SIG) {
    const size = dv.getUint32(lastOffset + 4, true);
    if (size >= 28 && lastOffset + size <= len && dv.getUint32(lastOffset + size - 4, true) === size) lastEnd = lastOffset + size;
  }
  if (freeInChunk && (lastEnd === undefined || lastEnd === freeSpace)) return Math.min(freeSpace, len);
  const dataCrc = dv.getUint32(52, true);
  const checksOut = (end: number): boolean => end <= len && crc32(buf, CHUNK_HEADER_SIZE, end) === dataCrc;
  let end: number;
  let why: string;
  if (freeInChunk && checksOut(freeSpace)) {
    end = freeSpace;
    why = 'the record checksum confirms the free-space offset';
  } else if (lastEnd !== undefined && checksOut(lastEnd)) {
    end = lastEnd;
    why = 'the record checksum confirms the end of the last record';
  } else {
    end = Math.min(len, Math.max(freeInChunk ? freeSpace : len, lastEnd ?? 0));
    why = 'the record checksum confirms neither';
  }
  const found = freeInChunk ? `does not match the end of its last record (${lastEnd ?? '?'})` : `is outside the chunk`;
  sink.issue('chunk-free-space', base + 48, chunkIndex, `chunk ${chunkIndex} free-space offset ${freeSpace} ${found}; ${why}: records read up to ${end}`);
  return end;
}

/** Next offset in [from, end) that starts a plausible record, or -1. */
function resync(buf: Uint8Array, dv: DataView, from: number, end: number): number {
  for (let i = from; i + 24 <= end; i++) {
    if (buf[i] !== 0x2a || buf[i + 1] !== 0x2a || buf[i + 2] !== 0 || buf[i + 3] !== 0) continue;
    const size = dv.getUint32(i + 4, true);
    if (size >= 28 && i + size <= buf.length && dv.getUint32(i + size - 4, true) === size) return i;
  }
  return -1;
}

/** Parse a whole EVTX file held in memory. Throws EvtxError at once for a bad header. */
export function parseEvtxBuffer(buf: Uint8Array, opts: EvtxOptions = {}): EvtxRecordIterable {
  const sink = new IssueSink(opts.file ?? '<buffer>', opts.verifyChecksums !== false, opts.onIssue);
  const header = parseFileHeader(buf.subarray(0, Math.min(buf.length, 4096)), buf.length, sink);
  function* gen(): Generator<EvtxRecord> {
    const rd = new RecordDecoder(opts.renderXml === true, opts.extraction === 'tree');
    const batch: EvtxRecord[] = [];
    for (let i = 0; i < header.chunksInFile; i++) {
      const start = header.headerBlockSize + i * CHUNK_SIZE;
      const chunk = buf.subarray(start, Math.min(buf.length, start + CHUNK_SIZE));
      batch.length = 0;
      decodeChunk(rd, chunk, i, start, sink, batch);
      yield* batch;
    }
  }
  let started = false;
  return {
    header,
    summary: sink.summary,
    [Symbol.iterator](): Iterator<EvtxRecord> {
      if (started) throw new Error('parseEvtxBuffer result can be iterated once');
      started = true;
      return gen();
    },
  };
}

/** An open EVTX file: header read and checked, records streamed chunk by chunk. */
export interface EvtxFile extends AsyncIterable<EvtxRecord> {
  readonly file: string;
  readonly header: EvtxFileHeader;
  readonly summary: EvtxSummary;
  records(): AsyncGenerator<EvtxRecord>;
  close(): Promise<void>;
}

/**
 * Open a file and validate its header (throws EvtxError for a non-EVTX, empty or
 * truncated-header file). Memory stays at one 64 KiB chunk plus its decoded records.
 */
export async function openEvtx(path: string, opts: EvtxOptions = {}): Promise<EvtxFile> {
  const file = opts.file ?? path;
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    throw new EvtxError('VIGIL_ERR_EVTX_IO', file, 0, `cannot open: ${(e as Error).message}`, { cause: e });
  }
  const handle = fh;
  const sink = new IssueSink(file, opts.verifyChecksums !== false, opts.onIssue);
  let header: EvtxFileHeader;
  let size: number;
  try {
    size = (await handle.stat()).size;
    const head = new Uint8Array(Math.min(size, 4096));
    if (head.length > 0) await readFully(handle, head, 0, file);
    header = parseFileHeader(head, size, sink);
  } catch (e) {
    await handle.close();
    throw e;
  }
  let closed = false;
  let started = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await handle.close();
  };
  async function* records(): AsyncGenerator<EvtxRecord> {
    if (started) throw new Error(`${file}: records can be iterated once`);
    started = true;
    const rd = new RecordDecoder(opts.renderXml === true, opts.extraction === 'tree');
    // Read several chunks per call (fewer thread-pool round trips); decode and yield one
    // chunk at a time, so memory stays at this block plus one chunk's records.
    const block = Buffer.allocUnsafe(Math.max(0, Math.min(CHUNK_SIZE * READ_CHUNKS, size - header.headerBlockSize)));
    const batch: EvtxRecord[] = [];
    try {
      for (let first = 0; first < header.chunksInFile; first += READ_CHUNKS) {
        const start = header.headerBlockSize + first * CHUNK_SIZE;
        const n = Math.min(block.length, size - start);
        if (n <= 0) break;
        await readFully(handle, block.subarray(0, n), start, file);
        for (let k = 0; k * CHUNK_SIZE < n && first + k < header.chunksInFile; k++) {
          const view = block.subarray(k * CHUNK_SIZE, Math.min(n, (k + 1) * CHUNK_SIZE));
          batch.length = 0;
          decodeChunk(rd, view, first + k, start + k * CHUNK_SIZE, sink, batch);
          yield* batch;
        }
      }
    } finally {
      await close();
    }
  }
  return {
    file,
    header,
    summary: sink.summary,
    records,
    close,
    [Symbol.asyncIterator]: records,
  };
}

async function readFully(handle: import('node:fs/promises').FileHandle, into: Uint8Array, position: number, file: string): Promise<void> {
  let got = 0;
  while (got < into.length) {
    const { bytesRead } = await handle.read(into, got, into.length - got, position + got);
    if (bytesRead === 0) throw new EvtxError('VIGIL_ERR_EVTX_TRUNCATED', file, position + got, 'file shorter than its size (changed while reading?)');
    got += bytesRead;
  }
}

/**
 * Stream the records of a file. Header errors (EvtxError) surface on the first `next()`.
 * `summary` is live and final once iteration ends.
 */
export function readEvtxRecords(path: string, opts: EvtxOptions = {}): EvtxRecordStream {
  let live: EvtxSummary = emptySummary();
  return {
    get summary(): EvtxSummary {
      return live;
    },
    async *[Symbol.asyncIterator](): AsyncGenerator<EvtxRecord> {
      const f = await openEvtx(path, opts);
      live = f.summary;
      try {
        yield* f.records();
      } finally {
        await f.close();
      }
    },
  };
}
