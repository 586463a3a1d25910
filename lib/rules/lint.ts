/** Static checks of rule files beyond loading: reachability, contradictions, field names. */
import { unknownFieldWarning } from './fields.js';
import { loadRuleFiles, type LoadOptions } from './loader.js';
import { literalEqKey, toNumber } from './values.js';
import type { LintFinding, LintReport, LoadIssue, RuleDoc } from './types.js';

type Rec = Record<string, unknown>;

function isRec(v: unknown): v is Rec {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A stable code for a load issue (schema, json, event-type, regex …). */
export function issueCode(i: LoadIssue): string {
  const m = i.message;
  if (m.startsWith('invalid JSON')) return 'json';
  if (m.startsWith('cannot read')) return 'io';
  if (m.startsWith('untrusted')) return 'untrusted';
  if (m.startsWith('unknown event type')) return 'event-type';
  if (m.startsWith('duplicate rule id')) return 'duplicate-id';
  if (m.includes('is already defined')) return 'duplicate-name';
  if (m.startsWith('unknown macro') || m.includes('refers to itself')) return 'macro';
  if (m.startsWith('unknown list')) return 'list';
  if (m.includes('refused by RE2')) return 'regex';
  if (m.startsWith('unknown operator') || m.includes('exactly one operator')) return 'operator';
  if (m.includes('field group') || m.includes('field path')) return 'field';
  if (m.startsWith('unknown property')) return 'unknown-property';
  if (m.startsWith('rule needs engine')) return 'engine-version';
  return 'schema';
}

interface Walker {
  file: string;
  ruleId?: string;
  out: LintFinding[];
  usedMacros: Set<string>;
  usedLists: Set<string>;
}

function add(w: Walker, severity: LintFinding['severity'], path: string, code: string, message: string): void {
  const f: LintFinding = { severity, file: w.file, path, code, message };
  if (w.ruleId !== undefined) f.ruleId = w.ruleId;
  w.out.push(f);
}

function checkContradictions(w: Walker, kids: unknown[], path: string): void {
  const eqSets = new Map<string, { keys: Set<string>; at: string }>();
  const absent = new Map<string, string>();
  const positive = new Map<string, string>();
  const lower = new Map<string, { v: number; strict: boolean }>();
  const upper = new Map<string, { v: number; strict: boolean }>();
  kids.forEach((k, i) => {
    if (!isRec(k) || typeof k['field'] !== 'string') return;
    const field = k['field'];
    const at = `${path}/${i}`;
    if (k['exists'] === false) absent.set(field, at);
    else positive.set(field, at);
    const eq = k['equals_any'];
    if (Array.isArray(eq) && k['cased'] !== true) {
      const keys = new Set(eq.filter((x) => ['string', 'number', 'boolean'].includes(typeof x)).map((x) => literalEqKey(x as string)));
      const prev = eqSets.get(field);
      if (prev && ![...keys].some((x) => prev.keys.has(x))) {
        add(w, 'error', at, 'contradiction', `"${field}" cannot equal both ${prev.at} and this (no common value): the condition is never true`);
      } else eqSets.set(field, { keys: prev ? new Set([...keys].filter((x) => prev.keys.has(x))) : keys, at });
    }
    for (const op of ['gt', 'gte', 'lt', 'lte'] as const) {
      const n = toNumber(k[op]);
      if (n === undefined) continue;
      const strict = op === 'gt' || op === 'lt';
      const map = op === 'gt' || op === 'gte' ? lower : upper;
      const cur = map.get(field);
      const tighter = op === 'gt' || op === 'gte' ? !cur || n > cur.v || (n === cur.v && strict) : !cur || n < cur.v || (n === cur.v && strict);
      if (tighter) map.set(field, { v: n, strict });
    }
  });
  for (const [field, at] of absent) {
    const pos = positive.get(field);
    if (pos !== undefined) add(w, 'error', at, 'contradiction', `"${field}" is required absent here but tested at ${pos}: the condition is never true`);
  }
  for (const [field, lo] of lower) {
    const hi = upper.get(field);
    if (hi && (lo.v > hi.v || (lo.v === hi.v && (lo.strict || hi.strict)))) {
      add(w, 'error', path, 'contradiction', `"${field}" has an empty numeric range (${lo.strict ? '>' : '>='} ${lo.v} and ${hi.strict ? '<' : '<='} ${hi.v})`);
    }
  }
}

function walkCondition(w: Walker, c: unknown, path: string): void {
  if (!isRec(c)) return;
  if (typeof c['field'] === 'string') {
    const warn = unknownFieldWarning(c['field']);
    if (warn) add(w, 'warning', `${path}/field`, 'unknown-field', warn);
    for (const op of ['equals_field', 'not_equals_field']) {
      const other = c[op];
      if (typeof other === 'string') {
        const ow = unknownFieldWarning(other);
        if (ow) add(w, 'warning', `${path}/${op}`, 'unknown-field', ow);
      }
    }
    if (typeof c['in_list'] === 'string') w.usedLists.add(c['in_list']);
    const res = c['regex_any'];
    if (Array.isArray(res)) {
      res.forEach((r, i) => {
        if (typeof r === 'string' && (/^\.\*/.test(r) || /(?<!\\)\.\*\$?$/.test(r))) {
          add(w, 'warning', `${path}/regex_any/${i}`, 'regex-slow', `leading or trailing ".*" in ${JSON.stringify(r)} is redundant (a regex searches anywhere) and slows matching`);
        }
      });
    }
    for (const op of ['contains_any', 'startswith_any', 'endswith_any', 'contains_all']) {
      const vals = c[op];
      if (Array.isArray(vals) && vals.some((v) => v === '')) {
        add(w, 'warning', `${path}/${op}`, 'empty-literal', `an empty literal in ${op} matches every present value`);
      }
    }
    return;
  }
  if (Array.isArray(c['all'])) {
    const kids = c['all'] as unknown[];
    if (kids.length === 0) add(w, 'warning', `${path}/all`, 'always-true', 'an empty "all" is always true');
    checkContradictions(w, kids, `${path}/all`);
    kids.forEach((k, i) => walkCondition(w, k, `${path}/all/${i}`));
  } else if (Array.isArray(c['any'])) {
    const kids = c['any'] as unknown[];
    if (kids.length === 0) add(w, 'error', `${path}/any`, 'unreachable', 'an empty "any" is never true');
    kids.forEach((k, i) => walkCondition(w, k, `${path}/any/${i}`));
  } else if ('not' in c) {
    walkCondition(w, c['not'], `${path}/not`);
  } else if (isRec(c['n_of'])) {
    const n = c['n_of']['n'];
    const of = c['n_of']['of'];
    if (Array.isArray(of) && typeof n === 'number') {
      if (n > of.length) add(w, 'error', `${path}/n_of/n`, 'unreachable', `n_of needs ${n} of only ${of.length} conditions: never true`);
      if (n === 0) add(w, 'warning', `${path}/n_of/n`, 'always-true', 'n_of with n = 0 is always true');
      of.forEach((k, i) => walkCondition(w, k, `${path}/n_of/of/${i}`));
    }
  } else if (typeof c['macro'] === 'string') {
    w.usedMacros.add(c['macro']);
  }
}

function lintRule(w: Walker, rule: RuleDoc, pointer: string): void {
  walkCondition(w, rule.match, `${pointer}/match`);
  (rule.exceptions ?? []).forEach((x, i) => walkCondition(w, x, `${pointer}/exceptions/${i}`));
  const fx = rule.fixtures;
  if (!fx || !fx.positive || fx.positive.length === 0 || !fx.negative || fx.negative.length === 0) {
    add(w, 'warning', `${pointer}/fixtures`, 'fixtures', 'rule has no positive and negative fixtures (rules test fails it)');
  }
  if (rule.event.length !== new Set(rule.event).size) add(w, 'warning', `${pointer}/event`, 'duplicate-type', 'an event type is listed twice');
}

/** Lint rule files and folders; every finding names file, rule id, JSON path and severity. */
export async function lintRules(paths: readonly string[], opts: LoadOptions = {}): Promise<LintReport> {
  const loaded = await loadRuleFiles(paths, opts);
  const findings: LintFinding[] = loaded.issues.map((i) => {
    const f: LintFinding = { severity: 'error', file: i.file, path: i.path, code: issueCode(i), message: i.message };
    if (i.expected !== undefined || i.found !== undefined) f.message += ` (expected ${i.expected ?? '?'}, found ${i.found ?? '?'})`;
    if (i.ruleId !== undefined) f.ruleId = i.ruleId;
    return f;
  });
  const usedMacros = new Set<string>();
  const usedLists = new Set<string>();
  for (const rule of loaded.rules) {
    const w: Walker = { file: loaded.fileOf.get(rule.id) ?? '', ruleId: rule.id, out: findings, usedMacros, usedLists };
    lintRule(w, rule, loaded.pointerOf.get(rule.id) ?? '');
  }
  for (const [name, cond] of Object.entries(loaded.macros)) {
    const w: Walker = { file: '', out: findings, usedMacros, usedLists };
    walkCondition(w, cond, `/macros/${name}`);
  }
  // Definitions shared from the folders above the given paths serve rules not given here.
  const shared = new Set(loaded.sharedAbove);
  for (const name of Object.keys(loaded.macros)) {
    const file = loaded.macroFileOf.get(name) ?? '';
    if (!usedMacros.has(name) && !shared.has(file)) findings.push({ severity: 'warning', file, path: `/macros/${name}`, code: 'unused', message: `macro "${name}" is not used by any rule` });
  }
  for (const name of Object.keys(loaded.lists)) {
    const file = loaded.listFileOf.get(name) ?? '';
    if (!usedLists.has(name) && !shared.has(file)) findings.push({ severity: 'warning', file, path: `/lists/${name}`, code: 'unused', message: `list "${name}" is not used by any rule` });
  }
  let errors = 0;
  for (const f of findings) if (f.severity === 'error') errors++;
  return { files: loaded.files.length, rules: loaded.rules.length, errors, warnings: findings.length - errors, findings };
}

/** One line per finding. */
export function formatFinding(f: LintFinding): string {
  const parts = [f.severity, f.file || '<pack>'];
  if (f.ruleId !== undefined) parts.push(`rule ${f.ruleId}`);
  parts.push(f.path || '/');
  return `${parts.join(': ')}: [${f.code}] ${f.message}`;
}
