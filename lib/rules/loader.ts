/**
 * Reads rule files (single rules or packs) from files and folders. A bad file or rule is
 * reported with its file, rule id and JSON path and skipped; loading never aborts.
 */
import { readFile } from 'node:fs/promises';
import semver from 'semver';
import { isKnownEventType } from '../../core/index.js';
import { listFiles } from '../files/index.js';
import { compileCondition, ConditionError, describe } from './compile.js';
import { jsonErrorOffset } from './json-position.js';
import { filesNamedAbove, SHARED_RULE_DEFINITIONS } from './pack-files.js';
import { compileRule } from './rule-set.js';
import { validatePackEnvelope, validateRuleEnvelope, type SchemaError } from './validate.js';
import type { Literal, LoadIssue, LoadResult, RuleDoc } from './types.js';

/** The rule-language version this engine implements (rules may require a minimum). */
export const ENGINE_VERSION = '1.0.0';

export interface LoadOptions {
  maxRegexInputChars?: number;
}

type Rec = Record<string, unknown>;

function isRec(v: unknown): v is Rec {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function issueFrom(file: string, e: SchemaError, ruleId?: string): LoadIssue {
  const i: LoadIssue = { file, path: e.path, message: e.message };
  if (ruleId !== undefined) i.ruleId = ruleId;
  if (e.expected !== undefined) i.expected = e.expected;
  if (e.found !== undefined) i.found = e.found;
  return i;
}

/**
 * Expand files and folders (recursively, *.json, sorted) into a file list (`given`), and the
 * shared lists and macros of the folders above them that are not among those (`above`,
 * filesNamedAbove).
 */
async function listWithShared(paths: readonly string[], issues: LoadIssue[]): Promise<{ given: string[]; above: string[] }> {
  const given = await listFiles(paths, '.json', (p, _file, err) => issues.push({ file: p, path: '', message: `cannot read: ${err.message}` }));
  const listed = new Set(given);
  return { given, above: filesNamedAbove(paths, SHARED_RULE_DEFINITIONS).filter((f) => !listed.has(f)) };
}

/** The files loadRuleFiles reads for `paths`: the shared lists and macros above them first. */
export async function listRuleFiles(paths: readonly string[], issues: LoadIssue[]): Promise<string[]> {
  const { given, above } = await listWithShared(paths, issues);
  return [...above, ...given];
}

/** Line and column (1-based) of a character offset. */
function lineCol(text: string, pos: number): string {
  let line = 1;
  let col = 1;
  for (let i = 0; i < pos && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      col = 1;
    } else col++;
  }
  return `line ${line} column ${col}`;
}

interface Candidate {
  doc: RuleDoc;
  file: string;
  pointer: string;
}

/** Envelope checks of one rule beyond the schema: event types and engine version. */
function checkRule(rule: unknown, file: string, pointer: string, issues: LoadIssue[]): RuleDoc | undefined {
  const id = isRec(rule) && typeof rule['id'] === 'string' ? rule['id'] : undefined;
  const errs = validateRuleEnvelope(rule, pointer);
  if (errs.length > 0) {
    for (const e of errs) issues.push(issueFrom(file, e, id));
    return undefined;
  }
  const doc = rule as RuleDoc;
  let ok = true;
  doc.event.forEach((t, i) => {
    if (!isKnownEventType(t)) {
      issues.push({
        file,
        ruleId: doc.id,
        path: `${pointer}/event/${i}`,
        message: `unknown event type "${t}"`,
        expected: 'a type from core/events/event-types.ts or x.<vendor>.<name>',
        found: t,
      });
      ok = false;
    }
  });
  if (doc.min_engine_version !== undefined) {
    const need = semver.coerce(doc.min_engine_version);
    if (need === null || semver.gt(need, ENGINE_VERSION)) {
      issues.push({
        file,
        ruleId: doc.id,
        path: `${pointer}/min_engine_version`,
        message: `rule needs engine ${doc.min_engine_version}; this engine is ${ENGINE_VERSION}`,
        expected: `<= ${ENGINE_VERSION}`,
        found: doc.min_engine_version,
      });
      ok = false;
    }
  }
  return ok ? doc : undefined;
}

/** Load rule files: parse, validate, resolve lists/macros, trial-compile every rule. */
export async function loadRuleFiles(paths: readonly string[], opts: LoadOptions = {}): Promise<LoadResult> {
  const issues: LoadIssue[] = [];
  const { given, above } = await listWithShared(paths, issues);
  const files = [...above, ...given];
  const lists: Record<string, Literal[]> = {};
  const macros: Record<string, unknown> = {};
  const listFile = new Map<string, string>();
  const macroFile = new Map<string, string>();
  const candidates: Candidate[] = [];
  const correlationFiles: string[] = [];

  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      issues.push({ file, path: '', message: `cannot read: ${err instanceof Error ? err.message : String(err)}` });
      continue;
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
      const pos = jsonErrorOffset(body);
      issues.push({ file, path: '', message: `invalid JSON${pos !== undefined ? ` at ${lineCol(body, pos)}` : ''}: ${msg}` });
      continue;
    }
    if (!isRec(doc)) {
      issues.push({ file, path: '', message: 'a rule file holds one rule object or a pack object', expected: 'object', found: describe(doc) });
      continue;
    }
    if ('id' in doc && (doc['kind'] === 'sequence' || doc['kind'] === 'count')) {
      // A correlation rule (kind sequence/count) belongs to the correlation engine.
      correlationFiles.push(file);
      continue;
    }
    if ('id' in doc) {
      const rule = checkRule(doc, file, '', issues);
      if (rule) candidates.push({ doc: rule, file, pointer: '' });
      continue;
    }
    const packErrors = validatePackEnvelope(doc);
    const badRules = new Set<number>();
    const fileErrors: SchemaError[] = [];
    for (const e of packErrors) {
      const m = /^\/rules\/(\d+)/.exec(e.path);
      if (m) badRules.add(Number(m[1]));
      else fileErrors.push(e);
    }
    if (fileErrors.length > 0) {
      for (const e of fileErrors) issues.push(issueFrom(file, e));
      continue;
    }
    for (const [name, values] of Object.entries((doc['lists'] ?? {}) as Record<string, Literal[]>)) {
      if (Object.hasOwn(lists, name)) {
        issues.push({ file, path: `/lists/${name}`, message: `list "${name}" is already defined in ${listFile.get(name) ?? '?'}` });
        continue;
      }
      lists[name] = values;
      listFile.set(name, file);
    }
    for (const [name, cond] of Object.entries((doc['macros'] ?? {}) as Record<string, unknown>)) {
      if (Object.hasOwn(macros, name)) {
        issues.push({ file, path: `/macros/${name}`, message: `macro "${name}" is already defined in ${macroFile.get(name) ?? '?'}` });
        continue;
      }
      macros[name] = cond;
      macroFile.set(name, file);
    }
    const rules = (doc['rules'] ?? []) as unknown[];
    rules.forEach((r, i) => {
      const pointer = `/rules/${i}`;
      if (badRules.has(i) && !isRec(r)) {
        issues.push({ file, path: pointer, message: 'a rule must be an object', expected: 'object', found: describe(r) });
        return;
      }
      const rule = checkRule(r, file, pointer, issues);
      if (rule) candidates.push({ doc: rule, file, pointer });
    });
  }

  // Macros are checked on their own so that their errors point at the macro, not its users.
  for (const name of Object.keys(macros)) {
    try {
      compileCondition(macros[name], { lists, macros, basePath: `/macros/${name}` });
    } catch (err) {
      if (!(err instanceof ConditionError)) throw err;
      const issue: LoadIssue = { file: macroFile.get(name) ?? '', path: err.path, message: err.detail };
      if (err.expected !== undefined) issue.expected = err.expected;
      if (err.found !== undefined) issue.found = err.found;
      issues.push(issue);
    }
  }

  const result: LoadResult = { rules: [], lists, macros, listFileOf: listFile, macroFileOf: macroFile, files, sharedAbove: above, fileOf: new Map(), pointerOf: new Map(), issues, correlationFiles };
  for (const c of candidates) {
    const prev = result.fileOf.get(c.doc.id);
    if (prev !== undefined) {
      issues.push({ file: c.file, ruleId: c.doc.id, path: `${c.pointer}/id`, message: `duplicate rule id "${c.doc.id}" (first defined in ${prev}); skipped` });
      continue;
    }
    try {
      compileRule(c.doc, 0, lists, macros, opts.maxRegexInputChars);
    } catch (err) {
      if (!(err instanceof ConditionError)) throw err;
      const issue: LoadIssue = { file: c.file, ruleId: c.doc.id, path: c.pointer + err.path, message: err.detail };
      if (err.expected !== undefined) issue.expected = err.expected;
      if (err.found !== undefined) issue.found = err.found;
      issues.push(issue);
      continue;
    }
    result.rules.push(c.doc);
    result.fileOf.set(c.doc.id, c.file);
    result.pointerOf.set(c.doc.id, c.pointer);
  }
  return result;
}

/** One line per issue: `file: rule <id>: /path: message (expected …, found …)`. */
export function formatIssue(i: LoadIssue): string {
  const parts = [i.file || '<input>'];
  if (i.ruleId !== undefined) parts.push(`rule ${i.ruleId}`);
  parts.push(i.path || '/');
  let s = `${parts.join(': ')}: ${i.message}`;
  if (i.expected !== undefined || i.found !== undefined) s += ` (expected ${i.expected ?? '?'}, found ${i.found ?? '?'})`;
  return s;
}
