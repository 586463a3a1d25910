/**
 * `vigil rules lint | test | explain` for every rule kind. The command knows no rule format:
 * it finds the rule files, reads each file's rule kinds (a rule without `kind` is a
 * detection rule) and hands the file to the tooling that owns those kinds (the `ruleTooling`
 * of the analyzer plugins whose manifest declares them in `ruleKinds`). Reports are merged;
 * one exit code.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { listFiles } from '../lib/files/index.js';
import {
  DETECTION_RULE_KIND,
  type RuleExplainResult,
  type RuleFinding,
  type RuleLintReport,
  type RuleLoadProblem,
  type RuleTestReport,
  type RuleToolContext,
  type RuleTooling,
} from '../core/plugin/types.js';

/** Exit code of a rule tool that found errors or failures (docs/cli.md). */
const EXIT_FAILED = 2;
const DEFAULT_PATHS = ['rules'];

/** Where the commands write (tests pass their own). */
export interface RuleToolsIo {
  out(line: string): void;
  err(line: string): void;
}

const stdio: RuleToolsIo = {
  out: (s) => void process.stdout.write(`${s}\n`),
  err: (s) => void process.stderr.write(`${s}\n`),
};

type Rec = Record<string, unknown>;

function isRec(v: unknown): v is Rec {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A rule file as the dispatcher sees it. */
export interface ClassifiedFile {
  file: string;
  /** Kinds of the rules in it (empty: only lists/macros, or unreadable). */
  kinds: string[];
  /** Rule ids with their kind and JSON pointer. */
  rules: { id: string; kind: string; pointer: string }[];
}

/** The plan for one run: which files go to which tooling, and what the dispatcher itself found wrong. */
export interface RulePlan {
  files: ClassifiedFile[];
  /** Tooling name → its files. */
  byTooling: Map<string, string[]>;
  /** Problems the dispatcher reports itself (unreadable, not JSON, unknown kind, mixed owners). */
  findings: RuleFinding[];
  knownRuleIds: Set<string>;
}

function kindOf(rule: Rec): string {
  const k = rule['kind'];
  return k === undefined ? DETECTION_RULE_KIND : typeof k === 'string' ? k : JSON.stringify(k);
}

async function listJsonFiles(paths: readonly string[], findings: RuleFinding[]): Promise<string[]> {
  return listFiles(paths, '.json', (_given, file, err) => findings.push({ severity: 'error', file, path: '', code: 'io', message: `cannot read: ${err.message}` }));
}

/** Read every rule file under `paths` and decide which tooling gets it. */
export async function planRuleFiles(paths: readonly string[], toolings: readonly RuleTooling[]): Promise<RulePlan> {
  const findings: RuleFinding[] = [];
  const owner = new Map<string, RuleTooling>();
  for (const t of toolings) for (const k of t.kinds) if (!owner.has(k)) owner.set(k, t);
  const known = [...owner.entries()].map(([k, t]) => `${k} (${t.name})`).join(', ') || 'none';
  const byTooling = new Map<string, string[]>();
  const give = (t: RuleTooling, file: string): void => {
    const list = byTooling.get(t.name) ?? [];
    if (!list.includes(file)) list.push(file);
    byTooling.set(t.name, list);
  };
  const files: ClassifiedFile[] = [];
  const definitionsOnly: string[] = [];
  const knownRuleIds = new Set<string>();
  for (const file of await listJsonFiles(paths, findings)) {
    const cf: ClassifiedFile = { file, kinds: [], rules: [] };
    files.push(cf);
    let doc: unknown;
    try {
      const text = await readFile(file, 'utf8');
      doc = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
    } catch (err) {
      findings.push({ severity: 'error', file, path: '', code: err instanceof SyntaxError ? 'json' : 'io', message: `${err instanceof SyntaxError ? 'invalid JSON' : 'cannot read'}: ${(err as Error).message}` });
      continue;
    }
    if (!isRec(doc)) {
      findings.push({ severity: 'error', file, path: '', code: 'schema', message: 'a rule file holds one rule object or a pack object { lists, macros, rules }' });
      continue;
    }
    const rules: Array<{ rule: Rec; pointer: string }> = [];
    if (Array.isArray(doc['rules'])) doc['rules'].forEach((r: unknown, i: number) => isRec(r) && rules.push({ rule: r, pointer: `/rules/${i}` }));
    else if (!('lists' in doc) && !('macros' in doc)) rules.push({ rule: doc, pointer: '' });
    for (const { rule, pointer } of rules) {
      const kind = kindOf(rule);
      const id = typeof rule['id'] === 'string' ? rule['id'] : undefined;
      if (id !== undefined) {
        cf.rules.push({ id, kind, pointer });
        knownRuleIds.add(id);
      }
      if (!cf.kinds.includes(kind)) cf.kinds.push(kind);
      if (!owner.has(kind)) {
        findings.push({
          severity: 'error',
          file,
          ...(id !== undefined ? { ruleId: id } : {}),
          path: `${pointer}/kind`,
          code: 'unknown-kind',
          message: `unknown rule kind ${JSON.stringify(kind)}: no installed tooling owns it (known kinds: ${known})`,
        });
      }
    }
    const owners = [...new Set(cf.kinds.map((k) => owner.get(k)).filter((t): t is RuleTooling => t !== undefined))];
    if (owners.length > 1) {
      findings.push({
        severity: 'error',
        file,
        path: '',
        code: 'mixed-kinds',
        message: `holds rules of kinds ${cf.kinds.join(', ')} owned by different tools (${owners.map((t) => t.name).join(', ')}): put them in separate files`,
      });
      continue;
    }
    if (owners[0] !== undefined) give(owners[0], file);
    else if (cf.kinds.length === 0) definitionsOnly.push(file);
  }
  // Lists and macros are shared by the files of a run: every tool that has rules sees them
  // (every tool when none has, so that the definitions are still checked).
  const takers = toolings.filter((t) => byTooling.has(t.name));
  for (const file of definitionsOnly) for (const t of takers.length > 0 ? takers : toolings) give(t, file);
  return { files, byTooling, findings, knownRuleIds };
}

/** Lint with every tooling; the dispatcher's own findings first. */
export async function lintAll(paths: readonly string[], toolings: readonly RuleTooling[]): Promise<RuleLintReport & { tools: Record<string, RuleLintReport> }> {
  const plan = await planRuleFiles(paths, toolings);
  const ctx: RuleToolContext = { knownRuleIds: plan.knownRuleIds };
  const findings = [...plan.findings];
  const tools: Record<string, RuleLintReport> = {};
  let rules = 0;
  for (const t of toolings) {
    const files = plan.byTooling.get(t.name);
    if (files === undefined) continue;
    const rep = await t.lint(files, ctx);
    tools[t.name] = rep;
    rules += rep.rules;
    findings.push(...rep.findings);
  }
  const errors = findings.filter((f) => f.severity === 'error').length;
  return { files: plan.files.length, rules, errors, warnings: findings.length - errors, findings, tools };
}

/** Run every tooling's fixtures. Files the dispatcher could not hand to a tooling are load problems. */
export async function testAll(paths: readonly string[], toolings: readonly RuleTooling[]): Promise<RuleTestReport & { tools: Record<string, RuleTestReport> }> {
  const plan = await planRuleFiles(paths, toolings);
  const ctx: RuleToolContext = { knownRuleIds: plan.knownRuleIds };
  const merged: RuleTestReport & { tools: Record<string, RuleTestReport> } = {
    files: plan.files.length,
    rules: 0,
    passed: 0,
    failed: 0,
    fixtures: 0,
    results: [],
    failures: [],
    issues: plan.findings.filter((f) => f.severity === 'error').map(toProblem),
    tools: {},
  };
  for (const t of toolings) {
    const files = plan.byTooling.get(t.name);
    if (files === undefined) continue;
    const rep = await t.test(files, ctx);
    merged.tools[t.name] = rep;
    merged.rules += rep.rules;
    merged.passed += rep.passed;
    merged.failed += rep.failed;
    merged.fixtures += rep.fixtures;
    merged.results.push(...rep.results);
    merged.failures.push(...rep.failures);
    merged.issues.push(...rep.issues);
  }
  return merged;
}

function toProblem(f: RuleFinding): RuleLoadProblem {
  return { file: f.file, ...(f.ruleId !== undefined ? { ruleId: f.ruleId } : {}), path: f.path, message: `[${f.code}] ${f.message}` };
}

/** Items of an event file: one JSON value, a JSON array, or JSONL (one value per line). */
export async function readEventItems(file: string): Promise<unknown[]> {
  const text = await readFile(file, 'utf8');
  const trimmed = (text.charCodeAt(0) === 0xfeff ? text.slice(1) : text).trim();
  try {
    const whole: unknown = JSON.parse(trimmed);
    return Array.isArray(whole) ? whole : [whole];
  } catch (err) {
    if (!(err instanceof SyntaxError)) throw err;
  }
  const items: unknown[] = [];
  trimmed.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      items.push(JSON.parse(line));
    } catch (err) {
      throw new Error(`${file}: line ${i + 1}: invalid JSON: ${(err as Error).message}`, { cause: err });
    }
  });
  return items;
}

export class RuleExplainError extends Error {
  override readonly name = 'RuleExplainError';
}

/** Explain one rule (of any kind) against the items of an event file. Throws RuleExplainError. */
export async function explainAny(ruleId: string, eventFile: string, paths: readonly string[], toolings: readonly RuleTooling[]): Promise<RuleExplainResult> {
  const plan = await planRuleFiles(paths, toolings);
  const hits = plan.files.flatMap((f) => f.rules.filter((r) => r.id === ruleId).map((r) => ({ ...r, file: f.file })));
  const hit = hits[0];
  if (hit === undefined) throw new RuleExplainError(`unknown rule id "${ruleId}" (not in ${paths.join(', ')})`);
  const tooling = toolings.find((t) => t.kinds.includes(hit.kind));
  if (tooling === undefined) throw new RuleExplainError(`rule "${ruleId}" in ${hit.file} has kind "${hit.kind}", which no installed tooling owns`);
  if (tooling.explain === undefined) throw new RuleExplainError(`the ${tooling.name} tooling cannot explain ${hit.kind} rules`);
  let items: unknown[];
  try {
    items = await readEventItems(eventFile);
  } catch (err) {
    throw new RuleExplainError(err instanceof Error && err.message.startsWith(eventFile) ? err.message : `${eventFile}: ${(err as Error).message}`);
  }
  try {
    return await tooling.explain(ruleId, plan.byTooling.get(tooling.name) ?? [hit.file], items, { knownRuleIds: plan.knownRuleIds, eventFile });
  } catch (err) {
    throw new RuleExplainError((err as Error).message);
  }
}

/** One line per finding: `severity: file: rule id: /path: [code] message`. */
export function formatRuleFinding(f: RuleFinding): string {
  const parts = [f.severity, f.file || '<pack>'];
  if (f.ruleId !== undefined) parts.push(`rule ${f.ruleId}`);
  parts.push(f.path || '/');
  return `${parts.join(': ')}: [${f.code}] ${f.message}`;
}

function formatProblem(p: RuleLoadProblem): string {
  return `${p.file || '<pack>'}${p.ruleId !== undefined ? `: rule ${p.ruleId}` : ''}: ${p.path || '/'}: ${p.message}`;
}

function perTool<R extends { rules: number }>(tools: Record<string, R>, what: (r: R) => string): string {
  const parts = Object.entries(tools).map(([name, r]) => `${name}: ${what(r)}`);
  return parts.length > 0 ? ` (${parts.join('; ')})` : '';
}

export interface RuleCommandOptions {
  /** The toolings, asked for when a command runs (the CLI imports the plugins owning rule kinds then). */
  toolings(): readonly RuleTooling[] | Promise<readonly RuleTooling[]>;
  io?: RuleToolsIo;
}

/** Adds `vigil rules lint | test | explain`. */
export function registerRuleToolsCommand(program: Command, opts: RuleCommandOptions): Command {
  const io = opts.io ?? stdio;
  const rules = program.command('rules').description('lint, test and explain rules of every kind (detection, sequence, count)');

  rules
    .command('lint')
    .description('check rule files of every kind: schema, event types, lists/macros, unreachable or contradictory conditions, steps, join keys; exit 2 on errors')
    .argument('[paths...]', 'rule files or folders', DEFAULT_PATHS)
    .option('--json', 'print the report as JSON')
    .option('--strict', 'warnings fail too')
    .action(async (paths: string[], o: { json?: boolean; strict?: boolean }) => {
      const rep = await lintAll(paths, await opts.toolings());
      if (o.json) io.out(JSON.stringify(rep, null, 2));
      else {
        for (const f of rep.findings) io.out(formatRuleFinding(f));
        io.out(`${rep.files} file(s), ${rep.rules} rule(s): ${rep.errors} error(s), ${rep.warnings} warning(s)${perTool(rep.tools, (r) => `${r.rules} rule(s)`)}`);
      }
      if (rep.errors > 0 || (o.strict === true && rep.warnings > 0)) process.exitCode = EXIT_FAILED;
    });

  rules
    .command('test')
    .description("run every rule's fixtures (positives must fire, negatives must not); exit 2 when one fails or a rule does not load")
    .argument('[paths...]', 'rule files or folders', DEFAULT_PATHS)
    .option('--json', 'print the report as JSON')
    .action(async (paths: string[], o: { json?: boolean }) => {
      const rep = await testAll(paths, await opts.toolings());
      if (o.json) io.out(JSON.stringify(rep, null, 2));
      else {
        for (const i of rep.issues) io.out(`not loaded: ${formatProblem(i)}`);
        for (const f of rep.failures) io.out(`FAIL ${f.ruleId} (${f.file}): ${f.message}`);
        if (rep.rules === 0) io.out(`no rules found in ${paths.join(', ')}`);
        io.out(
          `${rep.rules} rule(s), ${rep.fixtures} fixture(s): ${rep.passed} passed, ${rep.failed} failed, ${rep.issues.length} not loaded` +
            perTool(rep.tools, (r) => `${r.rules} rule(s), ${r.fixtures} fixture(s)`),
        );
      }
      if (rep.failed > 0 || rep.issues.length > 0 || rep.rules === 0) process.exitCode = EXIT_FAILED;
    });

  rules
    .command('explain')
    .description('why a rule fires or not: every predicate of a detection rule; step by step for a sequence or count rule')
    .argument('<ruleId>', 'rule id')
    .argument('<eventFile>', 'JSON (one event or an array) or JSONL file of events, in order')
    .option('--rules <paths...>', 'rule files or folders', DEFAULT_PATHS)
    .option('--json', 'print the result as JSON')
    .action(async (ruleId: string, eventFile: string, o: { rules: string[]; json?: boolean }) => {
      let res: RuleExplainResult;
      try {
        res = await explainAny(ruleId, eventFile, o.rules, await opts.toolings());
      } catch (err) {
        if (!(err instanceof RuleExplainError)) throw err;
        io.err(err.message);
        process.exitCode = EXIT_FAILED;
        return;
      }
      for (const n of res.notes) io.err(n);
      io.out(o.json ? JSON.stringify(res.data, null, 2) : res.text);
    });
  return rules;
}
