/**
 * The rule engine's part of `vigil rules lint|test|explain`: the tooling for detection rules
 * (rule documents without `kind`). The command itself belongs to the core, which hands each
 * rule file to the tooling owning its kinds.
 */
import { DETECTION_RULE_KIND, type EventDraft, type RuleExplainResult, type RuleLintReport, type RuleTestReport, type RuleTooling } from '../../../core/index.js';
import { compileRuleSet, explainRule, formatIssue, lintRules, loadRuleFiles, testRules, type LoadIssue } from '../../../lib/rules/index.js';

function issueMessage(i: LoadIssue): string {
  return i.expected !== undefined || i.found !== undefined ? `${i.message} (expected ${i.expected ?? '?'}, found ${i.found ?? '?'})` : i.message;
}

/** Events of an explain request: objects with a string `type`. */
function toEvents(items: readonly unknown[], file: string): EventDraft[] {
  return items.map((v, i) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v) || typeof (v as Record<string, unknown>)['type'] !== 'string') {
      throw new Error(`${file}: item ${i}: not an event (an object with a string "type")`);
    }
    return v as EventDraft;
  });
}

/** Lint, fixtures and explain for detection rules. */
export const ruleEngineTooling: RuleTooling = {
  name: 'rule-engine',
  kinds: [DETECTION_RULE_KIND],

  async lint(files): Promise<RuleLintReport> {
    return lintRules(files);
  },

  async test(files): Promise<RuleTestReport> {
    const rep = await testRules(files);
    return {
      files: rep.files,
      rules: rep.rules,
      passed: rep.passed,
      failed: rep.failed,
      fixtures: rep.fixtures,
      results: rep.results.map((r) => ({ ...r, kind: DETECTION_RULE_KIND })),
      failures: rep.failures,
      issues: rep.issues.map((i) => ({ file: i.file, ...(i.ruleId !== undefined ? { ruleId: i.ruleId } : {}), path: i.path, message: issueMessage(i) })),
    };
  },

  async explain(ruleId, files, items, ctx): Promise<RuleExplainResult> {
    const loaded = await loadRuleFiles(files);
    const set = compileRuleSet(loaded.rules, loaded.lists, loaded.macros, { includeDisabled: true, fileOf: loaded.fileOf });
    const notes = [...loaded.issues, ...set.issues].map((i) => `not loaded: ${formatIssue(i)}`);
    const events = toEvents(items, ctx.eventFile);
    // Throws UnknownRuleError (e.g. the rule itself did not load): the command reports it.
    const results = events.map((e) => explainRule(ruleId, e, set));
    return {
      ruleId,
      fired: results.some((r) => r.fired),
      text: results.map((r, i) => `${events.length > 1 ? `#${i} ` : ''}${r.text}`).join('\n'),
      data: results.map(({ text: _text, ...r }) => r),
      notes,
    };
  },
};

