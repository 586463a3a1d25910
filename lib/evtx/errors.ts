import { VigilError, defineErrorCodes } from '../../core/index.js';
/**
 * Errors and issues of the EVTX reader. A file whose header cannot be read raises an
 * EvtxError; everything below the header (chunks, records, checksums) is reported as an
 * issue and parsing goes on, so one bad byte never hides the rest of a log.
 */

/** The reader's codes (listed in docs/error-codes.md); file system errors enter as VIGIL_ERR_EVTX_IO. */
export const EVTX_ERRORS = defineErrorCodes({
  VIGIL_ERR_EVTX_NOT_EVTX: 'The file is not an EVTX event log (no "ElfFile" signature) or is empty.',
  VIGIL_ERR_EVTX_TRUNCATED: 'The EVTX file ends inside its header; nothing can be read from it.',
  VIGIL_ERR_EVTX_IO: 'The EVTX file could not be opened or read.',
});

export type EvtxErrorCode = keyof typeof EVTX_ERRORS;

export class EvtxError extends VigilError {
  declare readonly code: EvtxErrorCode;
  readonly file: string;
  readonly offset: number;

  constructor(code: EvtxErrorCode, file: string, offset: number, message: string, options?: { cause?: unknown }) {
    super(code, `${file}: ${message} (offset ${offset})`, { ...(options ?? {}), details: { file, offset } });
    this.name = 'EvtxError';
    this.file = file;
    this.offset = offset;
  }
}

export type EvtxIssueKind =
  | 'header-checksum'
  | 'header-dirty'
  | 'header-chunk-count'
  | 'header-block-size'
  | 'chunk-checksum'
  | 'chunk-data-checksum'
  | 'chunk-bad-signature'
  | 'chunk-empty'
  | 'chunk-truncated'
  | 'chunk-free-space'
  | 'record-bad'
  | 'record-duplicate'
  | 'record-truncated'
  | 'binxml';

export interface EvtxIssue {
  file: string;
  /** Absolute file offset the issue refers to. */
  offset: number;
  chunk?: number;
  kind: EvtxIssueKind;
  message: string;
}

export interface EvtxSummary {
  /** Records delivered. */
  records: number;
  /** Chunks with a valid signature that were decoded. */
  chunks: number;
  /** Chunks that hold data but could not be read (bad signature, truncated header). */
  skippedChunks: number;
  /** Zero-filled (never written) chunks: nothing lost. */
  emptyChunks: number;
  badRecords: number;
  /** Records whose id already occurred in the same chunk (stale copies): not delivered again. */
  duplicateRecords: number;
  checksumMismatches: number;
}

export function emptySummary(): EvtxSummary {
  return { records: 0, chunks: 0, skippedChunks: 0, emptyChunks: 0, badRecords: 0, duplicateRecords: 0, checksumMismatches: 0 };
}

/** Thrown inside the BinXml decoder; caught per record and turned into an issue. */
export class BinXmlError extends Error {
  readonly offset: number;
  constructor(offset: number, message: string) {
    super(message);
    this.name = 'BinXmlError';
    this.offset = offset;
  }
}
