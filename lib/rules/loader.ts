/**
 * Loads detection rules from rule files (single rules or packs, read by pack-reader.ts): checks
 * each rule's envelope, event types and engine version, and trial-compiles it. A bad file or
 * rule is reported with its file, rule id and JSON path and skipped; loading never aborts.
 */
import semver from 'semver';
import { isKnownEventType } from '../../core/index.js';
import { compileCondition, ConditionError } from './compile.js';
import { readRulePack } from './pack-reader.js';
import { compileRule } from './rule-set.js';
import { validateRuleEnvelope, type SchemaError } from './validate.js';
import type { LoadIssue, LoadResult, RuleDoc } from './types.js';

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
  const pack = await readRulePack(paths);
  const { lists, macros, issues } = pack;
  const candidates: Candidate[] = [];
  const correlationFiles: string[] = [];
  for (const { value, file, pointer } of pack.entries) {
    if (pointer === '' && (value['kind'] === 'sequence' || value['kind'] === 'count')) {
      // A correlation rule (kind sequence/count) belongs to the correlation engine.
      correlationFiles.push(file);
      continue;
    }
    const rule = checkRule(value, file, pointer, issues);
    if (rule) candidates.push({ doc: rule, file, pointer });
  }

  // Macros are checked on their own so that their errors point at the macro, not its users.
  for (const name of Object.keys(macros)) {
    try {
      compileCondition(macros[name], { lists, macros, basePath: `/macros/${name}` });
    } catch (err) {
      if (!(err instanceof ConditionError)) throw err;
      const issue: LoadIssue = { file: pack.macroFileOf.get(name) ?? '', path: err.path, message: err.detail };
      if (err.expected !== undefined) issue.expected = err.expected;
      if (err.found !== undefined) issue.found = err.found;
      issues.push(issue);
    }
  }

  const result: LoadResult = {
    rules: [],
    lists,
    macros,
    listFileOf: pack.listFileOf,
    macroFileOf: pack.macroFileOf,
    files: pack.files,
    sharedAbove: pack.sharedAbove,
    fileOf: new Map(),
    pointerOf: new Map(),
    issues,
    correlationFiles,
  };
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
