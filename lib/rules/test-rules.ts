/** Runs every rule's fixtures through the compiled, indexed rule set. */
import type { EventDraft } from '../../core/index.js';
import { explainRule } from './explain.js';
import { loadRuleFiles, type LoadOptions } from './loader.js';
import { compileRuleSet } from './rule-set.js';
import type { FixtureFailure, TestReport } from './types.js';

type RuleResult = TestReport['results'][number];

function fixtureProblem(f: unknown): string | undefined {
  if (typeof f !== 'object' || f === null || Array.isArray(f)) return 'a fixture must be an event object';
  const r = f as Record<string, unknown>;
  if (typeof r['type'] !== 'string') return 'a fixture needs a string "type"';
  if (typeof r['time'] !== 'number') return 'a fixture needs a numeric "time" (ms since the epoch)';
  return undefined;
}

/**
 * Each rule's positive fixtures must fire it and its negative fixtures must not; a rule
 * without both kinds is a failure. Rules that do not load are reported in `issues`.
 */
export async function testRules(paths: readonly string[], opts: LoadOptions = {}): Promise<TestReport> {
  const loaded = await loadRuleFiles(paths, opts);
  const setOpts = { includeDisabled: true, fileOf: loaded.fileOf, ...(opts.maxRegexInputChars !== undefined ? { maxRegexInputChars: opts.maxRegexInputChars } : {}) };
  const set = compileRuleSet(loaded.rules, loaded.lists, loaded.macros, setOpts);
  const failures: FixtureFailure[] = [];
  const results: RuleResult[] = [];
  let fixtures = 0;
  let failedRules = 0;
  for (const rule of set.rules) {
    const id = rule.doc.id;
    const file = loaded.fileOf.get(id) ?? '';
    const before = failures.length;
    const fixturesBefore = fixtures;
    const fx = rule.doc.fixtures ?? {};
    for (const kind of ['positive', 'negative'] as const) {
      const list = fx[kind];
      if (!list || list.length === 0) {
        failures.push({ ruleId: id, file, kind: 'missing', message: `no ${kind} fixtures (every shipped rule needs both kinds)` });
        continue;
      }
      list.forEach((f: EventDraft, index) => {
        fixtures++;
        const problem = fixtureProblem(f);
        if (problem) {
          failures.push({ ruleId: id, file, kind: 'invalid', index, message: `${kind} fixture ${index}: ${problem}` });
          return;
        }
        let fired = false;
        set.match(f, (hit) => {
          if (hit.rule.id === id) fired = true;
        });
        if (fired !== (kind === 'positive')) {
          const why = explainRule(id, f, set).text;
          failures.push({
            ruleId: id,
            file,
            kind,
            index,
            message: `${kind} fixture ${index} ${kind === 'positive' ? 'did not fire' : 'fired'}\n${why}`,
          });
        }
      });
    }
    if (failures.length > before) failedRules++;
    results.push({ ruleId: id, file, fixtures: fixtures - fixturesBefore, passed: failures.length === before });
  }
  return {
    files: loaded.files.length,
    rules: set.rules.length,
    passed: set.rules.length - failedRules,
    failed: failedRules,
    fixtures,
    results,
    failures,
    issues: [...loaded.issues, ...set.issues],
  };
}
