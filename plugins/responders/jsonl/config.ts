import type { JsonSchema } from '../../../core/index.js';

/** The `jsonl` responder's config block (after schema defaults). */
export type JsonlConfig = {
  /** Output file; a relative path is relative to the config file's folder. */
  path: string;
  max_file_bytes: number;
  max_files: number;
};

export const MIB = 1024 * 1024;

export const JSONL_DEFAULTS: Readonly<JsonlConfig> = Object.freeze({
  path: 'vigil-detections.jsonl',
  max_file_bytes: 100 * MIB,
  max_files: 5,
});

/** Smallest accepted rotation size: below this, rotation would churn on every detection. */
export const MIN_FILE_BYTES = 1024;

export const jsonlConfigSchema: JsonSchema = Object.freeze({
  type: 'object',
  additionalProperties: false,
  properties: {
    path: {
      type: 'string',
      minLength: 1,
      default: JSONL_DEFAULTS.path,
      description: 'Output file, one detection per line. Relative paths are relative to the folder of the config file.',
    },
    max_file_bytes: {
      type: 'integer',
      minimum: MIN_FILE_BYTES,
      default: JSONL_DEFAULTS.max_file_bytes,
      description: 'Rotate when the next line would make the file larger than this.',
    },
    max_files: {
      type: 'integer',
      minimum: 0,
      maximum: 1000,
      default: JSONL_DEFAULTS.max_files,
      description: 'Rotated files kept beside the current one (path.1 is the newest); 0 keeps none.',
    },
  },
});
