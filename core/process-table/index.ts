export { ProcessTable, type ProcessRecord, type ProcessTableOptions } from './process-table.js';
export { enrichDraft } from './enrich.js';
