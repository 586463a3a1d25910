/**
 * Expanding the configured paths into the list of files to replay: folders recursively in
 * name order (so a replay is repeatable), each file once.
 */
import { resolve } from 'node:path';
import { listFiles } from '../../../lib/files/index.js';
import { formatOfFile, type ReplayFormat } from './config.js';

export interface ReplayFile {
  path: string;
  format: ReplayFormat;
}

export interface PathProblem {
  path: string;
  /** `not_found`, `unreadable`, `unsupported_format`, `format_disabled`. */
  reason: 'not_found' | 'unreadable' | 'unsupported_format' | 'format_disabled';
  message: string;
  code?: string;
}

export interface Discovery {
  files: ReplayFile[];
  problems: PathProblem[];
  /** Files inside folders skipped because their extension is not an enabled format. */
  skipped: number;
}

export async function discoverFiles(paths: readonly string[], formats: readonly ReplayFormat[], signal: AbortSignal): Promise<Discovery> {
  const enabled = new Set(formats);
  const out: Discovery = { files: [], problems: [], skipped: 0 };
  const isEnabled = (name: string): boolean => {
    const format = formatOfFile(name);
    return format !== undefined && enabled.has(format);
  };
  const listed = await listFiles(
    paths,
    isEnabled,
    (given, path, err) => {
      const code = err.code;
      // Only a configured path is "not found"; a dangling link inside a folder is unreadable.
      const reason = code === 'ENOENT' && path === resolve(given) ? 'not_found' : 'unreadable';
      out.problems.push({ path, reason, message: err.message, ...(code ? { code } : {}) });
    },
    { signal, excluded: () => out.skipped++ },
  );
  // Files found in folders are all of enabled formats; a file named itself may not be.
  for (const path of listed) {
    const format = formatOfFile(path);
    if (format === undefined) {
      out.problems.push({ path, reason: 'unsupported_format', message: 'extension is not .evtx, .jsonl, .ndjson, .json or .xml' });
    } else if (!enabled.has(format)) {
      out.problems.push({ path, reason: 'format_disabled', message: `format ${format} is not in formats` });
    } else out.files.push({ path, format });
  }
  return out;
}
