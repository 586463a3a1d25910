import type { JsonSchema, ReplayCapability } from '../../../core/index.js';
import { DEFAULT_MAX_LINE_BYTES } from './text-reader.js';

export const REPLAY_FORMATS = ['evtx', 'jsonl', 'xml'] as const;
export type ReplayFormat = (typeof REPLAY_FORMATS)[number];

/** The replay sensor's config block (after schema defaults). */
export type ReplayConfig = {
  /** Files or folders (searched recursively); relative paths resolve against the config file's folder. */
  paths: string[];
  /** Which sources to read; files of other formats are skipped. */
  formats: ReplayFormat[];
  /** Interleave all files by event time instead of replaying them one after another. */
  merge_by_time: boolean;
  /** Only Windows events of these channels (case-insensitive); unset = all. */
  channels?: string[];
  /** JSONL lines longer than this (bytes of UTF-8 text) are skipped and counted, never held whole. */
  max_line_bytes: number;
};

export const replayConfigSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    paths: {
      type: 'array',
      items: { type: 'string', minLength: 1 },
      default: [],
      description: 'Files or folders to replay; folders are searched recursively. `vigil replay PATH...` fills this in.',
    },
    formats: {
      type: 'array',
      items: { enum: [...REPLAY_FORMATS] },
      uniqueItems: true,
      minItems: 1,
      default: [...REPLAY_FORMATS],
      description: 'evtx (.evtx), jsonl (.jsonl, .ndjson, .json: one object per line), xml (.xml: rendered event XML).',
    },
    merge_by_time: {
      type: 'boolean',
      default: false,
      description: 'Interleave the files by event time (each file is still read in order).',
    },
    channels: {
      type: 'array',
      items: { type: 'string', minLength: 1 },
      description: 'Replay only events of these channels (case-insensitive).',
    },
    max_line_bytes: {
      type: 'integer',
      minimum: 1,
      default: DEFAULT_MAX_LINE_BYTES,
      description: 'JSONL lines longer than this many bytes are skipped (streamed past, not read whole) and counted as line_too_long.',
    },
  },
};

/** Where `vigil replay PATH... [--merge-by-time]` puts its inputs (manifest `replay`). */
export const REPLAY_CAPABILITY: ReplayCapability = Object.freeze({ pathsKey: 'paths', mergeByTimeKey: 'merge_by_time' });

/** The format a file name implies, by extension (case-insensitive). */
export function formatOfFile(name: string): ReplayFormat | undefined {
  const dot = name.lastIndexOf('.');
  if (dot < 0) return undefined;
  switch (name.slice(dot + 1).toLowerCase()) {
    case 'evtx':
      return 'evtx';
    case 'jsonl':
    case 'ndjson':
    case 'json':
      return 'jsonl';
    case 'xml':
      return 'xml';
    default:
      return undefined;
  }
}
