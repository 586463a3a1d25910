/**
 * Helpers shared by the benchmarks: dataset paths (relative to the project root, so they
 * work from the sources under tsx and from the compiled dist/bench/*.js), the EVTX corpus
 * turned into stamped, frozen events the way the core delivers them, and JSON output.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EventDraft, VigilEvent } from '../core/events/event.js';
import { stampDraft } from '../core/events/stamp.js';
import { datasetsDir } from '../core/paths.js';
import { readEvtxRecords, type EvtxIssue } from '../lib/evtx/index.js';
import { listFiles } from '../lib/files/index.js';
import { normalizeWindowsEvent } from '../lib/windows/index.js';

export { datasetsDir, projectRoot } from '../core/paths.js';

/** The EVTX-ATTACK-SAMPLES folder, or undefined when the datasets are absent. */
export function evtxCorpusDir(): string | undefined {
  const d = join(datasetsDir(), 'evtx-attack-samples');
  return existsSync(d) ? d : undefined;
}

/** The SigmaHQ `rules/` folder, or undefined when the datasets are absent. */
export function sigmaRulesDir(): string | undefined {
  const d = join(datasetsDir(), 'sigma', 'rules');
  return existsSync(d) ? d : undefined;
}

/** Every .evtx file under `dir`, sorted by path; a path that cannot be read fails the benchmark. */
export async function evtxFiles(dir: string): Promise<string[]> {
  return (await listFiles([dir], '.evtx')).sort();
}

/** Print one result object as pretty JSON on stdout (the runner parses the whole stdout). */
export function printJson(result: unknown): void {
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}

/** Print `{bench, skipped: reason}` and exit 0: a missing dataset is not a failure. */
export function skip(bench: string, reason: string): never {
  printJson({ bench, skipped: reason });
  process.exit(0);
}

export function round(n: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** Heap in use after a full collection when gc is exposed (node --expose-gc), in MB. */
export function heapMb(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) gc();
  return process.memoryUsage().heapUsed / 1048576;
}

/** Peak resident set size of this process so far, in MB. */
export function maxRssMb(): number {
  return round(process.resourceUsage().maxRSS / 1024, 1);
}

/**
 * A draft turned into a bus event the way the kernel's stamp does it and frozen. Process-table
 * enrichment is left out: replayed EVTX carries the process fields itself, and only matching
 * is measured here.
 */
export function stampEvent(d: EventDraft, seq: number, source: string, bootId = 'bench'): VigilEvent {
  return stampDraft(d, seq, source, { name: 'bench' }, bootId);
}

export interface CorpusEvents {
  /** Normalized drafts, one per readable record, in file order. */
  drafts: EventDraft[];
  files: number;
  records: number;
  /** Parser issues reported while reading (records lost or damaged structures). */
  issues: number;
  parseMs: number;
}

/** Parse every .evtx under `dir` and normalize each record like the replay sensor does. */
export async function loadEvtxDrafts(dir: string): Promise<CorpusEvents> {
  const files = await evtxFiles(dir);
  const drafts: EventDraft[] = [];
  let records = 0;
  let issues = 0;
  const onIssue = (_i: EvtxIssue): void => {
    issues++;
  };
  const t0 = performance.now();
  for (const f of files) {
    for await (const r of readEvtxRecords(f, { onIssue })) {
      records++;
      drafts.push(normalizeWindowsEvent(r));
    }
  }
  return { drafts, files: files.length, records, issues, parseMs: performance.now() - t0 };
}

/**
 * At least `min` stamped, frozen events made from the drafts, repeated in order. Each copy
 * is a fresh object tree (structuredClone), as a live pipeline would hand over, so that the
 * matcher cannot profit from one small set of objects staying hot in cache.
 */
export function replicateEvents(drafts: readonly EventDraft[], min: number, source: string): VigilEvent[] {
  if (drafts.length === 0) return [];
  const copies = Math.max(1, Math.ceil(min / drafts.length));
  const out: VigilEvent[] = new Array<VigilEvent>(copies * drafts.length);
  let seq = 0;
  for (let c = 0; c < copies; c++) {
    for (const d of drafts) {
      const draft = c === 0 ? d : structuredClone(d);
      out[seq] = stampEvent(draft, seq + 1, source);
      seq++;
    }
  }
  return out;
}

/**
 * Make `gc` available: when it is not exposed, run this same script again under
 * `node --expose-gc` plus `flags` (keeping the loader flags, e.g. `--import tsx` when run from
 * source) and exit with its code.
 */
export function ensureGc(entryUrl: string, flags: readonly string[] = []): void {
  if ((globalThis as { gc?: unknown }).gc !== undefined) return;
  const r = spawnSync(process.execPath, ['--expose-gc', ...flags, ...process.execArgv, fileURLToPath(entryUrl), ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
