import type { ResponderPlugin } from '../../../core/index.js';
import { jsonlConfigSchema, type JsonlConfig } from './config.js';
import { JsonlResponder } from './responder.js';

/** Writes each detection as one JSON line to a size-rotated file. */
export const plugin: ResponderPlugin<JsonlConfig> = {
  manifest: {
    id: 'jsonl',
    kind: 'responder',
    apiVersion: '2.0.0',
    version: '0.1.0',
    description: 'Writes detections as JSON lines to a file rotated by size.',
    platforms: ['any'],
    produces: [],
    consumes: ['detection'],
    actions: ['alert'],
    configSchema: jsonlConfigSchema,
  },
  create(ctx) {
    return new JsonlResponder(ctx);
  },
};

export { jsonlConfigSchema, JSONL_DEFAULTS, MIN_FILE_BYTES } from './config.js';
export type { JsonlConfig } from './config.js';
export { JsonlResponder, detectionLine } from './responder.js';
export { RotatingFile } from './rotating-file.js';
export type { RotatingFileHooks } from './rotating-file.js';
