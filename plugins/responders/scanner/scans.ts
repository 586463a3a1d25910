/**
 * The scans themselves, the same in a pool worker (worker.ts) and in `vigil scan`: process
 * memory (the Linux region scanner with YARA over the regions it flags; PE-sieve or
 * HollowsHunter on Windows) and files (YARA over the file, in chunks with overlap).
 */
import { randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type { ScanInfo, ScanMatch, ScanMatchString } from '../../../core/index.js';
import { runHollowsHunter, runPeSieve, scanLinuxProcess, toScanMatches, type YaraEngineName, type YaraRules, type YaraSource } from './engines.js';

/** The rule set a task scans with: the sources (compiled once per worker, by hash) and the engine. */
export interface RuleSetRef {
  readonly engine: YaraEngineName;
  readonly sources: readonly YaraSource[];
  /** sha256 of the engine and every source: the worker's compile cache key. */
  readonly hash: string;
}

export interface MemoryTask {
  readonly pid: number;
  /** guid or pid@start_time: names the per-scan report folder on Windows. */
  readonly identity: string;
  /** The start time the request names (ms since the epoch): the Linux scanner re-checks it. */
  readonly expectStartTime?: number;
  readonly rules: RuleSetRef;
  readonly platform: NodeJS.Platform;
  readonly linux: { readonly maxRegionBytes: number; readonly maxTotalBytes: number; readonly jitAllow: readonly string[]; readonly compareElf: boolean; readonly procRoot?: string };
  readonly windows: {
    readonly scanner: 'pe-sieve' | 'hollows-hunter';
    readonly binary: string;
    readonly extraArgs: readonly string[];
    /** Absolute; each scan gets a folder under it. */
    readonly reportDir: string;
    readonly timeoutMs: number;
  };
  /** Worker recycling (libyara-wasm leaks per call); 0 in-process. */
  readonly recycleWasmAfter: number;
}

export interface FileTask {
  readonly path: string;
  readonly rules: RuleSetRef;
  readonly maxBytes: number;
  readonly chunkBytes: number;
  readonly overlapBytes: number;
  readonly recycleWasmAfter: number;
}

/** The exit code of a pool worker that retires to give back libyara-wasm's leaked memory (worker.ts). */
export const RECYCLE_EXIT_CODE = 75;

/**
 * The Windows tools' own timeout: 90 % of the scan task's, so the runner stops the tool (and
 * what it started) and reports it before the pool cancels the task and drops the worker.
 */
export function toolTimeoutMs(taskTimeoutSeconds: number): number {
  return Math.max(1, Math.floor(taskTimeoutSeconds * 900));
}

/** What a task returns. */
export interface TaskOutput {
  readonly scan: ScanInfo;
}

/** The verdict YARA matches make: `malicious` when a matched rule says so in its meta, else `suspicious`. */
export function yaraVerdict(matches: readonly ScanMatch[]): 'malicious' | 'suspicious' {
  return matches.some((m) => m.meta['verdict'] === 'malicious') ? 'malicious' : 'suspicious';
}

/** Process memory: the platform's scanner, YARA included. */
export async function scanMemory(task: MemoryTask, rules: YaraRules | undefined, signal?: AbortSignal): Promise<ScanInfo> {
  const t0 = performance.now();
  let info: ScanInfo;
  if (task.platform === 'win32') {
    // A new folder per scan (the runner wants it new or empty): identity, time, a random tail.
    const dir = join(task.windows.reportDir, `${task.identity.replace(/[^A-Za-z0-9@._-]/g, '_')}-${Date.now()}-${randomBytes(3).toString('hex')}`);
    const options = {
      binary: task.windows.binary,
      pid: task.pid,
      reportDir: dir,
      extraArgs: [...task.windows.extraArgs],
      timeoutMs: task.windows.timeoutMs,
      ...(signal ? { signal } : {}),
    };
    info = task.windows.scanner === 'hollows-hunter' ? await runHollowsHunter(options) : await runPeSieve(options);
  } else {
    info = await scanLinuxProcess(task.pid, {
      ...(task.linux.procRoot !== undefined ? { procRoot: task.linux.procRoot } : {}),
      ...(rules ? { yara: rules } : {}),
      maxRegionBytes: task.linux.maxRegionBytes,
      maxTotalBytes: task.linux.maxTotalBytes,
      jitAllow: [...task.linux.jitAllow],
      compareElf: task.linux.compareElf,
      ...(task.expectStartTime !== undefined ? { expectStartTime: task.expectStartTime } : {}),
      ...(signal ? { signal } : {}),
    });
  }
  return info.duration_ms === undefined ? { ...info, duration_ms: Math.round(performance.now() - t0) } : info;
}

/**
 * YARA over a file, read in chunks of `chunkBytes`; each chunk after the first starts
 * `overlapBytes` early so a string across a boundary still matches. Offsets are file offsets;
 * a match found twice in an overlap is kept once. Conditions on the whole file (`filesize`,
 * a header at offset 0) see one chunk: files up to `chunkBytes` are scanned whole.
 */
export async function scanFile(task: FileTask, rules: YaraRules | undefined, signal?: AbortSignal): Promise<ScanInfo> {
  const t0 = performance.now();
  const base: ScanInfo = { scanner: 'yara-file', path: task.path };
  if (!rules) return { ...base, verdict: 'skipped', reason: 'no YARA rules are configured', duration_ms: 0 };
  const fh = await open(task.path, 'r');
  try {
    const st = await fh.stat();
    if (!st.isFile()) return { ...base, verdict: 'error', reason: `${task.path} is not a regular file`, engine: rules.engine };
    const total = Math.min(st.size, task.maxBytes);
    const chunk = Math.max(1, task.chunkBytes);
    const overlap = Math.min(task.overlapBytes, chunk - 1);
    const byRule = new Map<string, { match: ScanMatch; strings: Map<string, ScanMatchString> }>();
    let chunks = 0;
    let start = 0;
    const buf = Buffer.allocUnsafe(Math.min(chunk, Math.max(total, 1)));
    while (start < total || (chunks === 0 && total === 0)) {
      signal?.throwIfAborted();
      const want = Math.min(chunk, total - start);
      const { bytesRead } = await fh.read(buf, 0, want, start);
      const data = buf.subarray(0, bytesRead);
      chunks++;
      for (const m of toScanMatches(rules.scan(data), data, start, rules.engine)) {
        const key = `${m.namespace}:${m.rule}`;
        let e = byRule.get(key);
        if (!e) byRule.set(key, (e = { match: m, strings: new Map() }));
        for (const s of m.strings) e.strings.set(`${s.identifier}@${s.offset}`, s);
      }
      if (bytesRead < want || start + bytesRead >= total) break;
      start += bytesRead - overlap;
    }
    const matches: ScanMatch[] = [...byRule.values()].map(({ match, strings }) => ({ ...match, strings: [...strings.values()].sort((a, b) => a.offset - b.offset) }));
    const counts = { bytes_scanned: total, file_bytes: st.size, chunks, truncated: st.size > total ? 1 : 0 };
    const duration_ms = Math.round(performance.now() - t0);
    if (matches.length === 0) return { ...base, verdict: 'clean', findings: [], rules: [], matches: [], engine: rules.engine, counts, duration_ms };
    return {
      ...base,
      verdict: yaraVerdict(matches),
      findings: ['yara'],
      rules: [...new Set(matches.map((m) => m.rule))],
      matches,
      engine: rules.engine,
      counts,
      duration_ms,
    };
  } finally {
    await fh.close();
  }
}
