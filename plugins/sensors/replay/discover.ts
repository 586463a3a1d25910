/**
 * Expanding the configured paths into the list of files to replay: folders recursively in
 * name order (so a replay is repeatable), each file once.
 */
import { readdir, realpath, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
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

function codeOf(err: unknown): string | undefined {
  const c = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof c === 'string' ? c : undefined;
}

export async function discoverFiles(paths: readonly string[], formats: readonly ReplayFormat[], signal: AbortSignal): Promise<Discovery> {
  const enabled = new Set(formats);
  const out: Discovery = { files: [], problems: [], skipped: 0 };
  const seenFiles = new Set<string>();
  const seenDirs = new Set<string>();

  const addFile = (path: string, explicit: boolean): void => {
    const format = formatOfFile(path);
    if (format === undefined || !enabled.has(format)) {
      if (!explicit) out.skipped++;
      else if (format === undefined) {
        out.problems.push({ path, reason: 'unsupported_format', message: 'extension is not .evtx, .jsonl, .ndjson, .json or .xml' });
      } else {
        out.problems.push({ path, reason: 'format_disabled', message: `format ${format} is not in formats` });
      }
      return;
    }
    if (seenFiles.has(path)) return;
    seenFiles.add(path);
    out.files.push({ path, format });
  };

  const walk = async (dir: string): Promise<void> => {
    let names: string[];
    try {
      const real = await realpath(dir);
      // A link back to a folder already walked would loop forever.
      if (seenDirs.has(real)) return;
      seenDirs.add(real);
      names = (await readdir(dir)).sort();
    } catch (err) {
      const code = codeOf(err);
      out.problems.push({ path: dir, reason: 'unreadable', message: (err as Error).message, ...(code ? { code } : {}) });
      return;
    }
    for (const name of names) {
      signal.throwIfAborted();
      const path = join(dir, name);
      let st;
      try {
        st = await stat(path);
      } catch (err) {
        // A dangling link or a file removed meanwhile: report it, go on with the rest.
        const code = codeOf(err);
        out.problems.push({ path, reason: 'unreadable', message: (err as Error).message, ...(code ? { code } : {}) });
        continue;
      }
      if (st.isDirectory()) await walk(path);
      else if (st.isFile()) addFile(path, false);
    }
  };

  for (const p of paths) {
    signal.throwIfAborted();
    const path = resolve(p);
    try {
      const st = await stat(path);
      if (st.isDirectory()) await walk(path);
      else addFile(path, true);
    } catch (err) {
      if (signal.aborted) throw err;
      const code = codeOf(err);
      out.problems.push({
        path,
        reason: code === 'ENOENT' ? 'not_found' : 'unreadable',
        message: (err as Error).message,
        ...(code ? { code } : {}),
      });
    }
  }
  return out;
}
