/**
 * Reads correlation rule files (JSON: one rule, or a pack { lists, macros, rules }),
 * validates them against the published schema and compiles them. Every problem becomes an
 * issue naming the file and JSON pointer; a bad rule is skipped, never fatal.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { filesNamedAbove, SHARED_RULE_DEFINITIONS } from '../../../lib/rules/index.js';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { StaticCompiler } from './condition.js';
import { compileCorrelation, CompileError } from './compile.js';
import type { CompiledCorrelation, CorrelationRuleDoc, NamedDefs } from './model.js';
import { COUNT_RULE_SCHEMA, SEQUENCE_RULE_SCHEMA } from './schema.js';
import type { Literal } from './condition.js';

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

/** Files with one of `exts` under the given files/folders (named files are taken as given), sorted. */
export function listRuleFiles(paths: readonly string[], issues: CorrelationIssue[], exts: readonly string[] = ['.json']): string[] {
  const out: string[] = [];
  const walk = (p: string): void => {
    let st;
    try {
      st = statSync(p);
    } catch (err) {
      issues.push({ file: p, path: '', message: `cannot read: ${(err as Error).message}` });
      return;
    }
    if (st.isDirectory()) {
      for (const name of readdirSync(p).sort()) {
        const child = join(p, name);
        if (exts.some((x) => name.endsWith(x)) || statSync(child).isDirectory()) walk(child);
      }
    } else out.push(p);
  };
  for (const p of paths) walk(resolve(p));
  return out;
}

interface RawRule {
  value: unknown;
  file: string;
  pointer: string;
}

/** Read, validate and compile correlation rule files. */
export function loadCorrelationFiles(paths: readonly string[], opts: { delegate?: StaticCompiler } = {}): LoadedCorrelations {
  const issues: CorrelationIssue[] = [];
  // The lists and macros shared by the pack the paths belong to (core/paths.ts filesNamedAbove).
  const files = [...new Set(listRuleFiles([...filesNamedAbove(paths, SHARED_RULE_DEFINITIONS), ...paths], issues))];
  const lists: Record<string, Literal[]> = {};
  const macros: Record<string, unknown> = {};
  const raw: RawRule[] = [];
  for (const file of files) {
    let data: unknown;
    try {
      data = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      issues.push({ file, path: '', message: `not valid JSON: ${(err as Error).message}` });
      continue;
    }
    if (isRec(data) && Array.isArray(data['rules'])) {
      for (const [kind, target] of [['lists', lists], ['macros', macros]] as const) {
        const defs = data[kind];
        if (defs === undefined) continue;
        if (!isRec(defs)) {
          issues.push({ file, path: `/${kind}`, message: `"${kind}" must be an object` });
          continue;
        }
        for (const [name, v] of Object.entries(defs)) {
          if (name in target) issues.push({ file, path: `/${kind}/${name}`, message: `duplicate ${kind === 'lists' ? 'list' : 'macro'} name "${name}"` });
          else if (kind === 'lists' && !(Array.isArray(v) && v.every((x) => ['string', 'number', 'boolean'].includes(typeof x)))) {
            issues.push({ file, path: `/lists/${name}`, message: 'a list is an array of strings, numbers or booleans' });
          } else (target as Record<string, unknown>)[name] = v;
        }
      }
      for (const k of Object.keys(data)) {
        if (k !== 'rules' && k !== 'lists' && k !== 'macros') issues.push({ file, path: `/${k}`, message: `unknown property "${k}" in a rule pack` });
      }
      data['rules'].forEach((r: unknown, i: number) => raw.push({ value: r, file, pointer: `/rules/${i}` }));
    } else raw.push({ value: data, file, pointer: '' });
  }
  return compileRaw(raw, { lists, macros }, files, issues, opts.delegate);
}

/** Validate and compile rule objects that did not come from files (e.g. converted Sigma). */
export function compileCorrelationDocs(
  docs: ReadonlyArray<{ doc: unknown; file: string; pointer?: string }>,
  defs: NamedDefs = { lists: {}, macros: {} },
  delegate?: StaticCompiler,
): LoadedCorrelations {
  return compileRaw(
    docs.map((d) => ({ value: d.doc, file: d.file, pointer: d.pointer ?? '' })),
    defs,
    [...new Set(docs.map((d) => d.file))],
    [],
    delegate,
  );
}

function compileRaw(raw: RawRule[], defs: NamedDefs, files: string[], issues: CorrelationIssue[], delegate: StaticCompiler | undefined): LoadedCorrelations {
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
      compiled.push(compileCorrelation(doc, defs, r.pointer, delegate));
    } catch (err) {
      const path = err instanceof CompileError ? err.pointer : r.pointer;
      const message = err instanceof CompileError ? err.message.slice(err.pointer.length + 2) : (err as Error).message;
      issues.push({ file: r.file, ruleId: doc.id, path, message });
    }
  }
  return { rules, compiled, defs, files, disabled, issues };
}
