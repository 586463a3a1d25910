/** Pure-TypeScript EVTX (Windows XML event log) reader. */
export { EvtxError, type EvtxErrorCode, type EvtxIssue, type EvtxIssueKind, type EvtxSummary } from './errors.js';
export {
  openEvtx,
  readEvtxRecords,
  parseEvtxBuffer,
  CHUNK_SIZE,
  type EvtxOptions,
  type EvtxFile,
  type EvtxFileHeader,
  type EvtxRecordIterable,
  type EvtxRecordStream,
} from './reader.js';
export { type EvtxRecord, type EvtxSystem } from './record.js';
