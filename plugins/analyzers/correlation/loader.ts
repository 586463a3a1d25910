/**
 * Loads correlation rule files (JSON: one rule, or a pack { lists, macros, rules }, read by the
 * rule library's pack reader, like detection rules, with the `lists.json` above them),
 * validates each rule against the published schema and compiles it. Every problem becomes an
 * issue naming the file and JSON pointer; a bad rule is skipped, never fatal.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { readRulePack, type LoadIssue } from '../../../lib/rules/index.js';
import { compileCorrelation, CompileError } from './compile.js';
import type { CompiledCorrelation, CorrelationRuleDoc, NamedDefs } from './model.js';
import { COUNT_RULE_SCHEMA, SEQUENCE_RULE_SCHEMA } from './schema.js';

export interface CorrelationIssue {
  file: string;
  ruleId?: string;
  /** JSON pointer inside the file. */
  path: string;
  message: string;
}

export interface LoadedRule {
  doc: CorrelationRuleDoc;
  file: string;
  /** JSON pointer of the rule inside its file ('' for a single-rule file). */
  pointer: string;
}

export interface LoadedCorrelations {
  /** Schema-valid, enabled rules (compiled or not). */
  rules: LoadedRule[];
  compiled: CompiledCorrelation[];
  defs: NamedDefs;
  files: string[];
  disabled: number;
  issues: CorrelationIssue[];
}

let validators: { sequence: ValidateFunction; count: ValidateFunction } | undefined;

function getValidators(): { sequence: ValidateFunction; count: ValidateFunction } {
  if (validators === undefined) {
    const ajv = new Ajv({ allErrors: true, strict: false });
    validators = { sequence: ajv.compile(SEQUENCE_RULE_SCHEMA), count: ajv.compile(COUNT_RULE_SCHEMA) };
  }
  return validators;
}

function describe(errors: readonly ErrorObject[] | null | undefined): Array<{ path: string; message: string }> {
  return (errors ?? []).map((e) => {
    let msg = e.message ?? 'is invalid';
    if (e.keyword === 'additionalProperties') msg = `unknown property "${String((e.params as { additionalProperty?: unknown }).additionalProperty)}"`;
    if (e.keyword === 'enum') msg = `must be one of ${JSON.stringify((e.params as { allowedValues?: unknown }).allowedValues)}`;
    return { path: e.instancePath, message: msg };
  });
}

function isRec(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Validate one rule object against the schema of its kind. */
export function validateCorrelationDoc(v: unknown): Array<{ path: string; message: string }> {
  if (!isRec(v)) return [{ path: '', message: 'a rule must be an object' }];
  const kind = v['kind'];
  if (kind !== 'sequence' && kind !== 'count') return [{ path: '/kind', message: `"kind" must be "sequence" or "count", found ${JSON.stringify(kind)}` }];
  const val = getValidators()[kind];
  return val(v) ? [] : describe(val.errors);
}

interface RawRule {
  value: unknown;
  file: string;
  pointer: string;
}

/** A reader issue in this loader's shape (expected / found folded into the message). */
function fromLoadIssue(i: LoadIssue): CorrelationIssue {
  const more = i.expected !== undefined || i.found !== undefined ? ` (expected ${i.expected ?? '?'}, found ${i.found ?? '?'})` : '';
  return { file: i.file, ...(i.ruleId !== undefined ? { ruleId: i.ruleId } : {}), path: i.path, message: i.message + more };
}

/** Read, validate and compile correlation rule files. */
export async function loadCorrelationFiles(paths: readonly string[]): Promise<LoadedCorrelations> {
  // Correlation issues keep their wording for a file that is not JSON (tests and tooling output
  // match it); the reader adds where the text goes wrong.
  const pack = await readRulePack(paths, { invalidJson: 'not valid JSON' });
  return compileRaw(pack.entries, { lists: pack.lists, macros: pack.macros }, pack.files, pack.issues.map(fromLoadIssue));
}

/** Validate and compile rule objects that did not come from files (e.g. converted Sigma). */
export function compileCorrelationDocs(docs: ReadonlyArray<{ doc: unknown; file: string; pointer?: string }>, defs: NamedDefs = { lists: {}, macros: {} }): LoadedCorrelations {
  return compileRaw(
    docs.map((d) => ({ value: d.doc, file: d.file, pointer: d.pointer ?? '' })),
    defs,
    [...new Set(docs.map((d) => d.file))],
    [],
  );
}

function compileRaw(raw: readonly RawRule[], defs: NamedDefs, files: string[], issues: CorrelationIssue[]): LoadedCorrelations {
  const rules: LoadedRule[] = [];
  const compiled: CompiledCorrelation[] = [];
  const seen = new Map<string, string>();
  let disabled = 0;
  for (const r of raw) {
    const id = isRec(r.value) && typeof r.value['id'] === 'string' ? r.value['id'] : undefined;
    const problems = validateCorrelationDoc(r.value);
    if (problems.length > 0) {
      for (const p of problems) issues.push({ file: r.file, ...(id !== undefined ? { ruleId: id } : {}), path: r.pointer + p.path, message: p.message });
      continue;
    }
    const doc = r.value as CorrelationRuleDoc;
    const prior = seen.get(doc.id);
    if (prior !== undefined) {
      issues.push({ file: r.file, ruleId: doc.id, path: `${r.pointer}/id`, message: `duplicate rule id "${doc.id}" (first in ${prior})` });
      continue;
    }
    seen.set(doc.id, r.file);
    if (doc.enabled === false) {
      disabled++;
      continue;
    }
    rules.push({ doc, file: r.file, pointer: r.pointer });
    try {
      compiled.push(compileCorrelation(doc, defs, r.pointer));
    } catch (err) {
      const path = err instanceof CompileError ? err.pointer : r.pointer;
      const message = err instanceof CompileError ? err.message.slice(err.pointer.length + 2) : (err as Error).message;
      issues.push({ file: r.file, ruleId: doc.id, path, message });
    }
  }
  return { rules, compiled, defs, files, disabled, issues };
}
