/**
 * Sigma correlation rules: parsed and validated here, evaluated by the correlation engine.
 */
import { SEVERITIES, type Severity } from '../../core/index.js';
import { describeDoc, nativeRuleId } from './convert.js';
import { SigmaConversionError, type CorrelationCondition, type CorrelationType, type SigmaCorrelationDoc } from './types.js';

const TYPES: ReadonlySet<string> = new Set(['event_count', 'value_count', 'temporal', 'temporal_ordered']);
const LEVELS: ReadonlySet<string> = new Set(SEVERITIES);
const UNIT_MS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const BOUNDS = ['gt', 'gte', 'lt', 'lte', 'eq'] as const;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function bad(message: string): never {
  throw new SigmaConversionError('bad-correlation', message);
}

function strings(v: unknown, what: string): string[] {
  if (v === undefined || v === null) return [];
  const list = Array.isArray(v) ? v : [v];
  return list.map((x, i) => {
    if (typeof x !== 'string' || x.trim() === '') bad(`${what}[${i}] must be a non-empty string`);
    return x;
  });
}

/** `90m` → 5 400 000. */
export function parseTimespan(v: unknown): number {
  const m = typeof v === 'string' ? /^(\d+)\s*([smhdw])$/.exec(v.trim()) : null;
  if (!m) return bad(`timespan ${JSON.stringify(v)} must be a number and a unit (s, m, h, d), e.g. 5m`);
  const ms = Number(m[1]) * UNIT_MS[m[2]!]!;
  if (ms <= 0) bad('timespan must be greater than zero');
  return ms;
}

function parseCondition(v: unknown, type: CorrelationType): { condition?: CorrelationCondition; field?: string } {
  if (v === undefined || v === null) {
    if (type === 'event_count' || type === 'value_count') bad(`correlation.condition is required for ${type}`);
    return {};
  }
  if (!isRecord(v)) return bad('correlation.condition must be a map such as { gte: 10 }');
  const condition: CorrelationCondition = {};
  let field: string | undefined;
  for (const [k, val] of Object.entries(v)) {
    if (k === 'field') {
      if (typeof val !== 'string' || val === '') bad('correlation.condition.field must be a field name');
      field = val;
    } else if ((BOUNDS as readonly string[]).includes(k)) {
      if (typeof val !== 'number' || !Number.isFinite(val) || val < 0) bad(`correlation.condition.${k} must be a non-negative number`);
      condition[k as (typeof BOUNDS)[number]] = val;
    } else {
      bad(`correlation.condition has unknown key "${k}" (expected gt, gte, lt, lte, eq, field)`);
    }
  }
  if (Object.keys(condition).length === 0) bad('correlation.condition needs at least one of gt, gte, lt, lte, eq');
  if (type === 'value_count' && field === undefined) bad('value_count needs correlation.condition.field');
  if (type !== 'value_count' && field !== undefined) bad(`correlation.condition.field is only valid for value_count, not ${type}`);
  const out: { condition?: CorrelationCondition; field?: string } = { condition };
  if (field !== undefined) out.field = field;
  return out;
}

/** Parse a Sigma correlation document; throws SigmaConversionError('bad-correlation'). */
export function parseCorrelation(doc: unknown, file: string): SigmaCorrelationDoc {
  if (!isRecord(doc)) return bad('the document is not a map');
  const { id, title } = describeDoc(doc);
  if (!title) bad('title is missing');
  if (!id) bad('id is missing');
  const c = doc['correlation'];
  if (!isRecord(c)) return bad('correlation must be a map');
  const typeRaw = c['type'];
  if (typeof typeRaw !== 'string' || !TYPES.has(typeRaw)) {
    bad(`correlation.type ${JSON.stringify(typeRaw)} must be event_count, value_count, temporal or temporal_ordered`);
  }
  const type = typeRaw as CorrelationType;
  const rules = strings(c['rules'], 'correlation.rules');
  if (rules.length === 0) bad('correlation.rules must name at least one rule');
  if ((type === 'temporal' || type === 'temporal_ordered') && rules.length < 2) bad(`${type} needs at least two rules`);
  const groupBy = strings(c['group-by'], 'correlation.group-by');
  const timespan_ms = parseTimespan(c['timespan']);
  const aliases: Record<string, Record<string, string>> = {};
  if (c['aliases'] !== undefined) {
    if (!isRecord(c['aliases'])) bad('correlation.aliases must be a map');
    for (const [alias, perRule] of Object.entries(c['aliases'])) {
      if (!isRecord(perRule)) bad(`correlation.aliases.${alias} must map rule names to field names`);
      const m: Record<string, string> = {};
      for (const [rule, field] of Object.entries(perRule)) {
        if (typeof field !== 'string') bad(`correlation.aliases.${alias}.${rule} must be a field name`);
        if (!rules.includes(rule)) bad(`correlation.aliases.${alias} names "${rule}", which is not in correlation.rules`);
        m[rule] = field;
      }
      aliases[alias] = m;
    }
  }
  const generateRaw = c['generate'] ?? doc['generate'];
  if (generateRaw !== undefined && typeof generateRaw !== 'boolean') bad('generate must be true or false');
  const level = typeof doc['level'] === 'string' ? doc['level'].toLowerCase() : undefined;
  if (level !== undefined && !LEVELS.has(level)) bad(`level "${level}" is not a Sigma level`);

  const out: SigmaCorrelationDoc = {
    id: nativeRuleId(id!),
    title: title!,
    tags: strings(doc['tags'], 'tags').map((t) => t.toLowerCase()),
    references: strings(doc['references'], 'references'),
    type,
    rules,
    group_by: groupBy,
    timespan_ms,
    aliases,
    generate: generateRaw === true,
    file,
    ...parseCondition(c['condition'], type),
  };
  if (typeof doc['description'] === 'string') out.description = doc['description'].trim();
  if (typeof doc['name'] === 'string') out.name = doc['name'];
  if (level !== undefined) out.severity = level as Severity;
  if (typeof doc['status'] === 'string') out.status = doc['status'];
  return out;
}
