/**
 * One meaning of every operator: each detection rule of the shipped pack, compiled by the rule
 * engine (lib/rules) and by the correlation layer's condition compiler, decides every fixture
 * of the pack the same way.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { EventDraft } from '../../../../core/index.js';
import { projectRoot } from '../../../../testing/index.js';
import { compileRuleSet, loadRuleFiles } from '../../../../lib/rules/index.js';
import { compileCorrCondition, type ConditionContext, type CorrCondition } from '../condition.js';

const PACKS = ['windows', 'linux'].map((p) => join(projectRoot(), 'rules', p));

test('every detection rule of the pack decides each of its fixtures alike in the rule engine and in correlation', async (t) => {
  const loaded = await loadRuleFiles(PACKS);
  assert.deepEqual(loaded.issues, []);
  assert.ok(Object.keys(loaded.lists).length > 0 && Object.keys(loaded.macros).length > 0, 'the shared lists and macros are loaded');
  const set = compileRuleSet(loaded.rules, loaded.lists, loaded.macros, { includeDisabled: true });
  assert.deepEqual(set.issues, []);
  const ctx: ConditionContext = { lists: loaded.lists, macros: loaded.macros, stepNames: new Map(), step: -1 };
  const counts = { rules: 0, fixtures: 0, fired: 0, quiet: 0, exceptions: 0 };
  const disagree: string[] = [];
  for (const rule of set.rules) {
    const doc = rule.doc;
    counts.rules++;
    const match = compileCorrCondition(doc.match, '/match', ctx);
    const exceptions: CorrCondition[] = (doc.exceptions ?? []).map((x, i) => compileCorrCondition(x, `/exceptions/${i}`, ctx));
    assert.equal(match.usesBound, false, `${doc.id}: a detection rule binds nothing`);
    counts.exceptions += exceptions.length;
    for (const kind of ['positive', 'negative'] as const) {
      (doc.fixtures?.[kind] ?? []).forEach((f: EventDraft, i) => {
        counts.fixtures++;
        const where = `${doc.id} ${kind} ${i}`;
        // The rule engine as it runs: the indexed set with its literal prefilter.
        let engine = false;
        set.match(f, (hit) => {
          if (hit.rule.id === doc.id) engine = true;
        });
        const correlation = doc.event.includes(f.type) && match.test(f, null) && !exceptions.some((x) => x.test(f, null));
        if (engine !== correlation) disagree.push(`${where}: rule engine ${engine}, correlation ${correlation}`);
        // And condition by condition, against the compiled rule itself.
        if (rule.match.test(f) !== match.test(f, null)) disagree.push(`${where}: /match differs`);
        rule.exceptions.forEach((x, j) => {
          if (x.test(f) !== exceptions[j]?.test(f, null)) disagree.push(`${where}: /exceptions/${j} differs`);
        });
        if (rule.test(f) !== engine) disagree.push(`${where}: compileRule and the indexed set differ`);
        if (engine) counts.fired++;
        else counts.quiet++;
        assert.equal(engine, kind === 'positive', `${where}: the fixture itself holds`);
      });
    }
  }
  t.diagnostic(JSON.stringify(counts));
  assert.deepEqual(disagree, []);
  // Not vacuous: the pack's whole fixture set ran, both verdicts many times over.
  assert.ok(counts.rules >= 50, JSON.stringify(counts));
  assert.ok(counts.fixtures > 100, JSON.stringify(counts));
  assert.ok(counts.fired > 50 && counts.quiet > 50, JSON.stringify(counts));
  assert.ok(counts.exceptions > 0, JSON.stringify(counts));
});
