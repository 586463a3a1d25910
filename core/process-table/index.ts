export { ProcessTable, type ProcessRecord, type ProcessTableOptions } from './process-table.js';
export { enrichDraft, enrichProcesses, type EnrichedProcesses } from './enrich.js';
