/**
 * Load Sigma rule files: walk folders, read multi-document YAML (with the `action: global /
 * reset / repeat` collection style), convert detection rules and collect correlation rules.
 * One bad file or rule never stops the others; each is reported with its reason.
 */
import { readFile } from 'node:fs/promises';
import { parseAllDocuments } from 'yaml';
import { fileTrustProblem, listFiles } from '../files/index.js';
import { convertSigmaRule, describeDoc } from './convert.js';
import { parseCorrelation } from './correlation.js';
import { sigmaReasonKind } from './skip-kinds.js';
import {
  SigmaConversionError,
  type SigmaCorrelationDoc,
  type SigmaLoadResult,
  type SigmaLoadStats,
  type SigmaOptions,
  type SigmaRuleDoc,
  type SkippedSigma,
} from './types.js';

/** Aliases a Sigma document may resolve; a rule needs few, an alias bomb needs many. */
export const SIGMA_MAX_ALIAS_COUNT = 100;

const EXTENSIONS = ['.yml', '.yaml'];

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/** Deep merge for rule collections: maps merge key by key, everything else is replaced. */
export function mergeDocs(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isRecord(b) && isRecord(v) ? mergeDocs(b, v) : v;
  }
  return out;
}

/**
 * Resolve a rule collection into standalone documents. `action: global` sets what every later
 * document inherits, `reset` clears it, `repeat` reuses the previous document with changes.
 */
export function expandCollection(docs: readonly unknown[]): unknown[] {
  let global: Record<string, unknown> = {};
  let previous: Record<string, unknown> | undefined;
  const out: unknown[] = [];
  for (const doc of docs) {
    if (doc === null || doc === undefined) continue;
    if (!isRecord(doc)) {
      out.push(doc);
      continue;
    }
    const { action, ...rest } = doc;
    if (action === 'global') {
      global = mergeDocs(global, rest);
      continue;
    }
    if (action === 'reset') {
      global = {};
      continue;
    }
    if (action === 'repeat') {
      if (!previous) throw new SigmaConversionError('bad-collection', '"action: repeat" has no previous document');
      previous = mergeDocs(previous, rest);
      out.push(previous);
      continue;
    }
    if (action !== undefined) throw new SigmaConversionError('bad-collection', `unknown action ${JSON.stringify(action)}`);
    previous = mergeDocs(global, rest);
    out.push(previous);
  }
  return out;
}

/** Load and convert every Sigma rule under the given files and folders. */
export async function loadSigmaRules(paths: readonly string[], opts: SigmaOptions = {}): Promise<SigmaLoadResult> {
  const skipped: SkippedSigma[] = [];
  const files: string[] = [];
  const unreadable = (_given: string, file: string, err: Error): void => {
    skipped.push({ file, reason: `read-error: ${err.message}` });
  };
  // Each path on its own: a rule file named twice is read twice and reported as a duplicate id.
  for (const p of paths) files.push(...(await listFiles([p], EXTENSIONS, unreadable)));
  const rules: SigmaRuleDoc[] = [];
  const correlations: SigmaCorrelationDoc[] = [];
  const seen = new Map<string, string>();
  const stats: SigmaLoadStats = {
    files: files.length,
    file_errors: skipped.length,
    documents: 0,
    rules: 0,
    correlations: 0,
    skipped: 0,
    skipped_by_kind: {},
    rules_by_logsource: {},
  };

  for (const file of files) {
    // Rules decide what is detected: only root or the agent's user may have written them.
    const untrusted = fileTrustProblem(file);
    if (untrusted !== undefined) {
      stats.file_errors++;
      skipped.push({ file, reason: `untrusted: ${untrusted}; refused` });
      continue;
    }
    let source: string;
    try {
      source = await readFile(file, 'utf8');
    } catch (err) {
      stats.file_errors++;
      skipped.push({ file, reason: `read-error: ${err instanceof Error ? err.message : String(err)}` });
      continue;
    }
    const parsed = parseAllDocuments(source, { prettyErrors: true });
    const yamlDocs = Array.isArray(parsed) ? parsed : [];
    if (!Array.isArray(parsed)) {
      stats.file_errors++;
      skipped.push({ file, reason: 'yaml-error: the file holds no YAML documents' });
      continue;
    }
    const firstError = yamlDocs.flatMap((d) => d.errors)[0];
    if (firstError) {
      // A syntax error makes every document of the file untrustworthy (merging depends on order).
      stats.file_errors++;
      skipped.push({ file, reason: `yaml-error: ${firstError.message.split('\n')[0]}` });
      continue;
    }
    let docs: unknown[];
    try {
      docs = expandCollection(yamlDocs.map((d) => d.toJS({ maxAliasCount: SIGMA_MAX_ALIAS_COUNT }) as unknown));
    } catch (err) {
      stats.file_errors++;
      const reason = err instanceof SigmaConversionError ? err.reason : `yaml-error: ${err instanceof Error ? err.message : String(err)}`;
      skipped.push({ file, reason });
      continue;
    }
    for (const doc of docs) {
      stats.documents++;
      const ident = describeDoc(doc);
      if (isRecord(doc) && 'correlation' in doc) {
        try {
          correlations.push(parseCorrelation(doc, file));
        } catch (err) {
          const reason = err instanceof SigmaConversionError ? err.reason : `internal-error: ${String(err)}`;
          skipped.push({ file, ...ident, reason });
        }
        continue;
      }
      const r = convertSigmaRule(doc, file, opts);
      if ('skipped' in r) {
        skipped.push({ file, ...ident, reason: r.skipped });
        continue;
      }
      const prior = seen.get(r.id);
      if (prior !== undefined) {
        skipped.push({ file, ...ident, reason: `duplicate-id: rule id ${r.id} was already loaded from ${prior}` });
        continue;
      }
      seen.set(r.id, file);
      rules.push(r);
      const key = `${r.x_sigma.logsource['product'] ?? '-'}/${r.x_sigma.logsource['category'] ?? r.x_sigma.logsource['service'] ?? '-'}`;
      stats.rules_by_logsource[key] = (stats.rules_by_logsource[key] ?? 0) + 1;
    }
  }
  stats.rules = rules.length;
  stats.correlations = correlations.length;
  stats.skipped = skipped.length;
  for (const s of skipped) {
    const k = sigmaReasonKind(s.reason);
    stats.skipped_by_kind[k] = (stats.skipped_by_kind[k] ?? 0) + 1;
  }
  return { rules, correlations, skipped, stats };
}
