/**
 * The correlation plugin's part of `vigil rules lint|test|explain`: the tooling for rule
 * documents of kind `sequence` and `count`. The command belongs to the core, which hands
 * each rule file to the tooling owning its kinds.
 */
import type { RuleExplainResult, RuleLintReport, RuleTestReport, RuleTooling } from '../../../core/index.js';
import { explainCorrelation, toFixtureItems } from './explain.js';
import { lintCorrelationRules, testCorrelationRules } from './fixtures.js';
import { loadCorrelationFiles } from './loader.js';

function issueLine(i: { file: string; ruleId?: string; path: string; message: string }): string {
  return `not loaded: ${i.file}${i.ruleId !== undefined ? `: rule ${i.ruleId}` : ''}: ${i.path || '/'}: ${i.message}`;
}

export const correlationTooling: RuleTooling = {
  name: 'correlation',
  kinds: ['sequence', 'count'],

  async lint(files, ctx): Promise<RuleLintReport> {
    return lintCorrelationRules(files, { knownRuleIds: ctx.knownRuleIds });
  },

  async test(files): Promise<RuleTestReport> {
    const rep = await testCorrelationRules(files);
    const failing = rep.failures.filter((f) => (f.kind === 'positive' || f.kind === 'negative') && f.index !== undefined);
    if (failing.length > 0) {
      // Like detection rules, a failed fixture shows the engine's step-by-step trace.
      const loaded = await loadCorrelationFiles(files);
      for (const f of failing) {
        const rule = loaded.compiled.find((r) => r.doc.id === f.ruleId);
        const items = rule?.doc.fixtures?.[f.kind as 'positive' | 'negative']?.[f.index ?? -1];
        if (rule === undefined || items === undefined) continue;
        f.message += `\n${explainCorrelation(rule, items, loaded.defs).text}`;
      }
    }
    return rep;
  },

  async explain(ruleId, files, events, ctx): Promise<RuleExplainResult> {
    const loaded = await loadCorrelationFiles(files);
    const rule = loaded.compiled.find((r) => r.doc.id === ruleId);
    if (rule === undefined) {
      const own = loaded.issues.filter((i) => i.ruleId === ruleId).map(issueLine);
      throw new Error(`rule "${ruleId}" did not load${own.length > 0 ? `:\n${own.join('\n')}` : ' (disabled?)'}`);
    }
    const res = explainCorrelation(rule, toFixtureItems(events, ctx.eventFile), loaded.defs);
    const { text, ...data } = res;
    return { ruleId, fired: res.fired > 0, text, data, notes: loaded.issues.map(issueLine) };
  },
};
