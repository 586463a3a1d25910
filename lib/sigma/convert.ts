/**
 * One Sigma detection rule document → one native rule (SigmaRuleDoc), or the reason it cannot be.
 */
import { SEVERITIES, type Severity } from '../../core/index.js';
import type { Condition } from '../rules/index.js';
import { convertDetection } from './detection.js';
import { resolveLogsource } from './logsource.js';
import { SigmaConversionError, type SigmaExtension, type SigmaOptions, type SigmaRuleDoc } from './types.js';

const LEVELS: ReadonlySet<string> = new Set(SEVERITIES);
const DISABLED_STATUSES: ReadonlySet<string> = new Set(['deprecated', 'unsupported']);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

function text(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  if (v instanceof Date) return v.toISOString().slice(0, 10);
  return undefined;
}

function stringList(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  const list = Array.isArray(v) ? v : [v];
  return list.map(text).filter((s): s is string => s !== undefined);
}

/** Sigma ids are UUIDs; the native id alphabet is [a-z0-9_.-]. */
export function nativeRuleId(sigmaId: string): string {
  return sigmaId.trim().toLowerCase().replace(/[^a-z0-9_.-]+/g, '_');
}

/** Identity fields for skip reports, read defensively from an unvalidated document. */
export function describeDoc(doc: unknown): { id?: string; title?: string; product?: string } {
  if (!isRecord(doc)) return {};
  const out: { id?: string; title?: string; product?: string } = {};
  const id = text(doc['id']);
  const title = text(doc['title']);
  const ls = doc['logsource'];
  const product = isRecord(ls) ? text(ls['product'])?.toLowerCase() : undefined;
  if (id !== undefined) out.id = id;
  if (title !== undefined) out.title = title;
  if (product !== undefined) out.product = product;
  return out;
}

function convertOrThrow(doc: unknown, file: string, opts: SigmaOptions): SigmaRuleDoc {
  if (!isRecord(doc)) throw new SigmaConversionError('bad-rule', 'the document is not a map');
  if ('correlation' in doc) throw new SigmaConversionError('not-a-detection', 'a correlation rule is not a detection rule');
  if ('filter' in doc && !('detection' in doc)) {
    throw new SigmaConversionError('unsupported-filter', 'Sigma meta filters are not supported');
  }
  const title = text(doc['title']);
  if (!title) throw new SigmaConversionError('bad-rule', 'title is missing');
  const sigmaId = text(doc['id']);
  if (!sigmaId) throw new SigmaConversionError('bad-rule', 'id is missing');
  const logsourceRaw = doc['logsource'];
  if (!isRecord(logsourceRaw)) throw new SigmaConversionError('bad-rule', 'logsource is missing or not a map');
  const logsource: Record<string, string> = {};
  for (const [k, v] of Object.entries(logsourceRaw)) {
    const s = text(v);
    if (s !== undefined) logsource[k] = s;
  }
  if (!('detection' in doc)) throw new SigmaConversionError('bad-rule', 'detection is missing');

  const level = text(doc['level'])?.toLowerCase();
  if (level !== undefined && !LEVELS.has(level)) throw new SigmaConversionError('bad-rule', `level "${level}" is not a Sigma level`);
  const severity = (level ?? 'medium') as Severity;

  const ls = resolveLogsource(logsource);
  const converted = convertDetection(doc['detection'], { mapField: ls.mapField, placeholders: opts.placeholders ?? {} });
  const event = ls.eventTypes(converted);
  const parts = (c: Condition): Condition[] => ('all' in c ? c.all : [c]);
  const match: Condition = ls.guard ? { all: [...parts(ls.guard), ...parts(converted)] } : converted;

  const x: SigmaExtension = { logsource, file };
  const status = text(doc['status']);
  if (status !== undefined) x.status = status;
  const fps = stringList(doc['falsepositives']);
  if (fps.length > 0) x.falsepositives = fps;
  const name = text(doc['name']);
  if (name !== undefined) x.name = name;
  const author = text(doc['author']);
  if (author !== undefined) x.author = author;
  const date = text(doc['date']);
  if (date !== undefined) x.date = date;
  const modified = text(doc['modified']);
  if (modified !== undefined) x.modified = modified;

  const rule: SigmaRuleDoc = {
    id: nativeRuleId(sigmaId),
    title,
    description: text(doc['description'])?.trim() || title,
    version: modified ?? '1',
    severity,
    tags: stringList(doc['tags']).map((t) => t.toLowerCase()),
    references: stringList(doc['references']),
    origin: 'sigma',
    event,
    match,
    x_sigma: x,
  };
  if (status !== undefined && DISABLED_STATUSES.has(status)) rule.enabled = false;
  return rule;
}

/**
 * Convert one parsed Sigma rule document. Returns `{ skipped: reason }` (never throws for bad
 * content) with a reason of the form `<kind>: <detail>`.
 */
export function convertSigmaRule(doc: unknown, file: string, opts: SigmaOptions = {}): SigmaRuleDoc | { skipped: string } {
  try {
    return convertOrThrow(doc, file, opts);
  } catch (err) {
    if (err instanceof SigmaConversionError) return { skipped: err.reason };
    // A converter bug must not abort loading: report it as its own kind so it stands out.
    return { skipped: `internal-error: ${err instanceof Error ? err.message : String(err)}` };
  }
}
