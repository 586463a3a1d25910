/**
 * Sigma correlation rules (specification v2: event_count, value_count, temporal,
 * temporal_ordered, with aliases, group-by, timespan, generate) converted to native
 * correlation rules. Input is either what the shared Sigma importer returns as
 * `correlations`, or Sigma YAML read here (multi-document files included).
 *
 * Field names in group-by / value_count / aliases are the source's own names, reached as
 * `raw.<Name>` in the newest evidence event of each referenced rule's detection.
 */
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { parseAllDocuments } from 'yaml';
import type { Severity } from '../../../core/index.js';
import { fileTrustProblem, listFiles } from '../../../lib/files/index.js';
import type { CorrelationIssue } from './loader.js';
import type { CorrelationRuleDoc, CountDoc, SequenceDoc } from './model.js';
import { parseCorrelation, SIGMA_MAX_ALIAS_COUNT, SigmaConversionError, type SigmaCorrelationDoc } from '../../../lib/sigma/index.js';

export type SigmaCorrelationType = SigmaCorrelationDoc['type'];

/** What the shared Sigma importer returns for a correlation rule. */
export type SigmaCorrelationInput = SigmaCorrelationDoc;

export interface SigmaSkip {
  file: string;
  id?: string;
  title?: string;
  reason: string;
}

export interface SigmaConversion {
  docs: Array<{ doc: CorrelationRuleDoc; file: string }>;
  skipped: SigmaSkip[];
  /** References that named no known rule (kept as written; they match a detection with that rule id). */
  unresolved: Array<{ file: string; id: string; ref: string }>;
}

const SEVERITIES = new Set(['informational', 'low', 'medium', 'high', 'critical']);
const ID_RE = /^[a-z0-9_.-]+$/;

function nativeId(c: SigmaCorrelationInput): string {
  const id = c.id.toLowerCase();
  if (ID_RE.test(id)) return id;
  return `sigma-corr-${createHash('sha256').update(c.file + c.title + c.id).digest('hex').slice(0, 12)}`;
}

function rawPath(field: string): string {
  return `raw.${field}`;
}

/**
 * Convert Sigma correlations. `resolve` maps a Sigma rule reference (id or name) to the
 * rule id its detections carry (names of correlations resolve to their converted ids).
 */
export function convertSigmaCorrelations(correlations: readonly SigmaCorrelationInput[], names: ReadonlyMap<string, string> = new Map()): SigmaConversion {
  const out: SigmaConversion = { docs: [], skipped: [], unresolved: [] };
  const nameToId = new Map(names);
  for (const c of correlations) if (c.name !== undefined) nameToId.set(c.name, nativeId(c));
  const ids = new Set([...nameToId.values(), ...correlations.map(nativeId)]);
  for (const c of correlations) {
    const skip = (reason: string): void => {
      out.skipped.push({ file: c.file, id: c.id, title: c.title, reason });
    };
    const id = nativeId(c);
    const resolve = (ref: string): string => {
      const byName = nameToId.get(ref);
      if (byName !== undefined) return byName;
      const lower = ref.toLowerCase();
      if (!ids.has(lower) && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(lower)) out.unresolved.push({ file: c.file, id, ref });
      return lower;
    };
    if (c.rules.length === 0) {
      skip('invalid: no referenced rules');
      continue;
    }
    if (!(c.timespan_ms > 0)) {
      skip('invalid: timespan');
      continue;
    }
    const refs = c.rules.map(resolve);
    // group-by entries that are aliases resolve per referenced rule; others are plain fields.
    const pathsFor = (ref: string): string[] =>
      c.group_by.map((g) => {
        const alias = c.aliases[g];
        if (alias === undefined) return rawPath(g);
        const field = alias[ref] ?? Object.entries(alias).find(([k]) => resolve(k) === resolve(ref))?.[1];
        return rawPath(field ?? g);
      });
    const missingAlias = c.group_by.flatMap((g) => {
      const alias = c.aliases[g];
      if (alias === undefined) return [];
      return c.rules.filter((r) => alias[r] === undefined && !Object.keys(alias).some((k) => resolve(k) === resolve(r))).map((r) => `${g}/${r}`);
    });
    if (missingAlias.length > 0) {
      skip(`invalid: alias without a field for ${missingAlias.join(', ')}`);
      continue;
    }
    const common = {
      id,
      title: c.title,
      ...(c.description !== undefined ? { description: c.description } : {}),
      version: '1.0.0',
      severity: c.severity !== undefined && SEVERITIES.has(c.severity) ? c.severity : ('medium' as Severity),
      tags: c.tags,
      references: c.references,
    };
    const hasAliases = c.group_by.some((g) => c.aliases[g] !== undefined);
    const groupByRule = (): Record<string, string[]> => Object.fromEntries(c.rules.map((r) => [resolve(r), pathsFor(r)]));
    if (c.type === 'event_count' || c.type === 'value_count' || c.type === 'temporal') {
      let condition = c.condition ?? {};
      if (c.type === 'temporal' && Object.keys(condition).length === 0) condition = { gte: new Set(refs).size };
      if (Object.keys(condition).length === 0) {
        skip(`invalid: ${c.type} needs a condition`);
        continue;
      }
      if (c.type === 'value_count' && c.field === undefined) {
        skip('invalid: value_count needs condition.field');
        continue;
      }
      const doc: CountDoc = {
        ...common,
        kind: 'count',
        rule: refs,
        group_by: c.group_by.map(rawPath),
        ...(hasAliases ? { group_by_rule: groupByRule() } : {}),
        timespan_ms: c.timespan_ms,
        condition,
        ...(c.type === 'value_count' && c.field !== undefined ? { value_count: rawPath(c.field) } : {}),
        // temporal: the count is of distinct referenced rules seen in the window.
        ...(c.type === 'temporal' ? { value_count: 'detection.rule.id' } : {}),
      };
      out.docs.push({ doc, file: c.file });
      continue;
    }
    // temporal_ordered
    const cond = c.condition;
    if (cond !== undefined && !(Object.keys(cond).length === 1 && cond.gte === c.rules.length)) {
      skip('unsupported: temporal_ordered with a condition other than all rules in order');
      continue;
    }
    if (c.rules.length < 2) {
      skip('invalid: temporal_ordered needs at least two rules');
      continue;
    }
    const doc: SequenceDoc = {
      ...common,
      kind: 'sequence',
      steps: c.rules.map((r, i) => ({ name: `r${i + 1}`, rule: refs[i] as string, by: pathsFor(r) })),
      maxspan_ms: c.timespan_ms,
    };
    out.docs.push({ doc, file: c.file });
  }
  return out;
}

function isRec(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}


/** One YAML correlation document → SigmaCorrelationInput, or a skip reason (the shared importer parses it). */
export function parseSigmaCorrelationDoc(d: Record<string, unknown>, file: string): SigmaCorrelationInput | string {
  try {
    return parseCorrelation(d, file);
  } catch (err) {
    if (err instanceof SigmaConversionError) return `${err.kind}: ${err.reason}`;
    throw err;
  }
}

export interface SigmaLoadStats {
  files: number;
  file_errors: number;
  documents: number;
  /** Documents that are plain detection rules (their name → id pairs are kept). */
  detection_rules: number;
  correlations: number;
  converted: number;
  skipped: number;
  skipped_by_kind: Record<string, number>;
  generate_true: number;
}

export interface SigmaLoad extends SigmaConversion {
  stats: SigmaLoadStats;
  issues: CorrelationIssue[];
}

/** Sigma YAML files (`.yml`, `.yaml`) under the given files and folders; unreadable paths become issues. */
async function listSigmaFiles(paths: readonly string[], issues: CorrelationIssue[]): Promise<string[]> {
  // A file named as a path is taken as given; folders are searched for the two extensions.
  return listFiles(paths, ['.yml', '.yaml'], (_given, file, err) => issues.push({ file, path: '', message: `cannot read: ${err.message}` }));
}

/** Read Sigma YAML files/folders and convert every correlation document found. */
export async function loadSigmaCorrelations(paths: readonly string[]): Promise<SigmaLoad> {
  const issues: CorrelationIssue[] = [];
  const files = await listSigmaFiles(paths, issues);
  const stats: SigmaLoadStats = { files: files.length, file_errors: 0, documents: 0, detection_rules: 0, correlations: 0, converted: 0, skipped: 0, skipped_by_kind: {}, generate_true: 0 };
  const names = new Map<string, string>();
  const inputs: SigmaCorrelationInput[] = [];
  const early: SigmaSkip[] = [];
  for (const file of files) {
    // Rules decide what is detected: only root or the agent's user may have written them.
    const untrusted = fileTrustProblem(file);
    if (untrusted !== undefined) {
      stats.file_errors++;
      issues.push({ file, path: '', message: `untrusted: ${untrusted}; refused` });
      continue;
    }
    let docs;
    try {
      docs = parseAllDocuments(await readFile(file, 'utf8'));
    } catch (err) {
      stats.file_errors++;
      issues.push({ file, path: '', message: `cannot read: ${(err as Error).message}` });
      continue;
    }
    const list = Array.isArray(docs) ? docs : [docs];
    list.forEach((doc, i) => {
      stats.documents++;
      if (doc.errors.length > 0) {
        stats.file_errors++;
        issues.push({ file, path: `/${i}`, message: `YAML error: ${doc.errors[0]?.message ?? ''}` });
        return;
      }
      let v: unknown;
      try {
        // Bounded as every other YAML the agent reads: an alias bomb is a load error, not a hang.
        v = doc.toJS({ maxAliasCount: SIGMA_MAX_ALIAS_COUNT });
      } catch (err) {
        stats.file_errors++;
        issues.push({ file, path: `/${i}`, message: `YAML error: ${err instanceof Error ? err.message : String(err)}` });
        return;
      }
      if (!isRec(v)) return;
      if (v['correlation'] === undefined) {
        stats.detection_rules++;
        if (typeof v['name'] === 'string' && typeof v['id'] === 'string') names.set(v['name'], v['id'].toLowerCase());
        return;
      }
      stats.correlations++;
      const parsed = parseSigmaCorrelationDoc(v, file);
      if (typeof parsed === 'string') {
        early.push({ file, ...(typeof v['id'] === 'string' ? { id: v['id'] } : {}), ...(typeof v['title'] === 'string' ? { title: v['title'] } : {}), reason: parsed });
        return;
      }
      if (parsed.generate) stats.generate_true++;
      inputs.push(parsed);
    });
  }
  const conv = convertSigmaCorrelations(inputs, names);
  const skipped = [...early, ...conv.skipped];
  stats.converted = conv.docs.length;
  stats.skipped = skipped.length;
  for (const s of skipped) {
    const kind = s.reason.split(':')[0] ?? 'other';
    stats.skipped_by_kind[kind] = (stats.skipped_by_kind[kind] ?? 0) + 1;
  }
  return { docs: conv.docs, skipped, unresolved: conv.unresolved, stats, issues };
}
