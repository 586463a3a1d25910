import type { ResponderPlugin } from '../../../core/index.js';
import type { JsonlConfig } from './config.js';
import { manifest } from './manifest.js';
import { JsonlResponder } from './responder.js';

/** Writes each detection as one JSON line to a size-rotated file. */
export const plugin: ResponderPlugin<JsonlConfig> = {
  manifest,
  create(ctx) {
    return new JsonlResponder(ctx);
  },
};

export { jsonlConfigSchema, JSONL_DEFAULTS, MIN_FILE_BYTES } from './config.js';
export { manifest } from './manifest.js';
export type { JsonlConfig } from './config.js';
export { JsonlResponder, detectionLine } from './responder.js';
export { RotatingFile } from './rotating-file.js';
export type { RotatingFileHooks } from './rotating-file.js';
