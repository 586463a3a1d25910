/** `vigil rules lint|test|explain`: the detection engineer's loop. Exit code 2 on failure. */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { EventDraft } from '../../../core/index.js';
import {
  compileRuleSet,
  explainRule,
  formatFinding,
  formatIssue,
  lintRules,
  loadRuleFiles,
  testRules,
  UnknownRuleError,
} from '../../shared/rules/index.js';
import { resolvePaths } from './engine.js';

const DEFAULT_PATHS = ['rules'];

/** Where the commands write (tests pass their own). */
export interface CliIo {
  out(line: string): void;
  err(line: string): void;
}

const stdio: CliIo = {
  out: (s) => void process.stdout.write(`${s}\n`),
  err: (s) => void process.stderr.write(`${s}\n`),
};

/** Events from a JSON file (one event or an array) or JSONL (one per line). */
export async function readEvents(file: string): Promise<EventDraft[]> {
  const text = await readFile(file, 'utf8');
  const trimmed = text.trim();
  const check = (v: unknown, where: string): EventDraft => {
    if (typeof v !== 'object' || v === null || Array.isArray(v) || typeof (v as Record<string, unknown>)['type'] !== 'string') {
      throw new Error(`${file}: ${where}: not an event (an object with a string "type")`);
    }
    return v as EventDraft;
  };
  try {
    const whole: unknown = JSON.parse(trimmed);
    return Array.isArray(whole) ? whole.map((v, i) => check(v, `item ${i}`)) : [check(whole, 'document')];
  } catch (err) {
    if (!(err instanceof SyntaxError)) throw err;
  }
  const events: EventDraft[] = [];
  trimmed.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '') return;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (err) {
      throw new Error(`${file}: line ${i + 1}: invalid JSON: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    events.push(check(v, `line ${i + 1}`));
  });
  return events;
}

export function registerRuleCommands(program: Command, io: CliIo = stdio): void {
  const out = io.out;
  const rules = program.command('rules').description('Lint, test and explain detection rules');

  rules
    .command('lint')
    .description('Check rule files: schema, event types, lists/macros, unreachable or contradictory conditions, regexes')
    .argument('[paths...]', 'rule files or folders', DEFAULT_PATHS)
    .option('--json', 'print the report as JSON')
    .option('--strict', 'warnings fail too')
    .action(async (paths: string[], opts: { json?: boolean; strict?: boolean }) => {
      const rep = await lintRules(resolvePaths(paths));
      if (opts.json) out(JSON.stringify(rep, null, 2));
      else {
        for (const f of rep.findings) out(formatFinding(f));
        out(`${rep.files} file(s), ${rep.rules} rule(s): ${rep.errors} error(s), ${rep.warnings} warning(s)`);
      }
      if (rep.errors > 0 || (opts.strict === true && rep.warnings > 0)) process.exitCode = 2;
    });

  rules
    .command('test')
    .description("Run every rule's fixtures: positives must fire, negatives must not")
    .argument('[paths...]', 'rule files or folders', DEFAULT_PATHS)
    .option('--json', 'print the report as JSON')
    .action(async (paths: string[], opts: { json?: boolean }) => {
      const rep = await testRules(resolvePaths(paths));
      if (opts.json) out(JSON.stringify(rep, null, 2));
      else {
        for (const i of rep.issues) out(`not loaded: ${formatIssue(i)}`);
        for (const f of rep.failures) out(`FAIL ${f.ruleId} (${f.file}): ${f.message}`);
        out(`${rep.rules} rule(s), ${rep.fixtures} fixture(s): ${rep.passed} passed, ${rep.failed} failed, ${rep.issues.length} not loaded`);
      }
      if (rep.failed > 0 || rep.issues.length > 0) process.exitCode = 2;
    });

  rules
    .command('explain')
    .description('Show every predicate of a rule with the value it saw and its verdict')
    .argument('<ruleId>', 'rule id')
    .argument('<eventFile>', 'JSON or JSONL file of events / event drafts')
    .option('--rules <paths...>', 'rule files or folders', DEFAULT_PATHS)
    .option('--json', 'print the result as JSON')
    .action(async (ruleId: string, eventFile: string, opts: { rules: string[]; json?: boolean }) => {
      const loaded = await loadRuleFiles(resolvePaths(opts.rules));
      const set = compileRuleSet(loaded.rules, loaded.lists, loaded.macros, { includeDisabled: true, fileOf: loaded.fileOf });
      for (const i of [...loaded.issues, ...set.issues]) io.err(`not loaded: ${formatIssue(i)}`);
      const events = await readEvents(eventFile);
      try {
        const results = events.map((e) => explainRule(ruleId, e, set));
        if (opts.json) out(JSON.stringify(results.map(({ text: _text, ...r }) => r), null, 2));
        else results.forEach((r, i) => out(`${events.length > 1 ? `#${i} ` : ''}${r.text}`));
      } catch (err) {
        if (!(err instanceof UnknownRuleError)) throw err;
        io.err(err.message);
        process.exitCode = 2;
      }
    });
}
