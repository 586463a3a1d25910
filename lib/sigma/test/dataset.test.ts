/**
 * The SigmaHQ rule set through the importer: how many rules load, why the others do not, and
 * that every produced rule is valid for the rule engine (schema and compile).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { datasetsDir, projectRoot } from '../../../testing/index.js';
import { compileRuleSet } from '../../rules/index.js';
import { loadSigmaRules, type SigmaLoadResult } from '../index.js';

const sigmaDir = join(datasetsDir(), 'sigma');
const folders = ['rules', 'rules-emerging-threats', 'rules-threat-hunting'].map((f) => join(sigmaDir, f));
const present = folders.every((f) => existsSync(f));
const SKIP = present ? false : `SigmaHQ dataset not found under ${sigmaDir} (set VIGIL_DATASETS)`;

let loaded: Promise<SigmaLoadResult> | undefined;
const load = (): Promise<SigmaLoadResult> => (loaded ??= loadSigmaRules(folders));

test('SigmaHQ: at least 97% of the Windows and Linux detection rules load; every skip has a reason', { skip: SKIP }, async (t) => {
  const res = await load();
  const osRules = res.rules.filter((r) => ['windows', 'linux'].includes(r.x_sigma.logsource['product']?.toLowerCase() ?? ''));
  const osSkipped = res.skipped.filter((s) => s.product === 'windows' || s.product === 'linux');
  const ratio = osRules.length / (osRules.length + osSkipped.length);
  t.diagnostic(`files ${res.stats.files}, documents ${res.stats.documents}, rules ${res.stats.rules}, correlations ${res.stats.correlations}, skipped ${res.stats.skipped}`);
  t.diagnostic(`Windows + Linux: ${osRules.length} loaded, ${osSkipped.length} skipped (${(ratio * 100).toFixed(2)}%)`);
  t.diagnostic(`skipped by kind: ${JSON.stringify(res.stats.skipped_by_kind)}`);
  const byReason = new Map<string, number>();
  for (const s of res.skipped) {
    // Group the "no sensor for this product" skips; list every other skip on its own.
    const key = s.reason.startsWith('unsupported-logsource') ? s.reason : `${s.reason} [${s.file.slice(sigmaDir.length + 1)}]`;
    byReason.set(key, (byReason.get(key) ?? 0) + 1);
  }
  for (const [reason, n] of [...byReason].sort((a, b) => b[1] - a[1])) t.diagnostic(`${n} × ${reason}`);

  assert.ok(ratio >= 0.97, `only ${(ratio * 100).toFixed(2)}% of the Windows + Linux rules loaded`);
  assert.equal(res.stats.file_errors, 0);
  assert.equal(res.stats.skipped_by_kind['internal-error'], undefined, 'converter bugs surfaced as internal-error');
  for (const s of res.skipped) assert.match(s.reason, /^[a-z-]+: \S/, `reason of ${s.file}`);
  // The big categories land where the engine looks for them.
  assert.ok((res.stats.rules_by_logsource['windows/process_creation'] ?? 0) > 1000);
  assert.ok(res.rules.filter((r) => r.event.includes('process.start')).length > 1000);
});

test('SigmaHQ: every converted rule is valid against the published rule schema', { skip: SKIP }, async () => {
  const schemaPath = join(projectRoot(), 'lib', 'rules', 'rule.schema.json');
  const res = await load();
  const validate = new Ajv2020({ allErrors: true, strict: false }).compile(JSON.parse(readFileSync(schemaPath, 'utf8')) as object);
  const bad: string[] = [];
  for (const r of res.rules) {
    const where = `${r.id} (${r.x_sigma.file})`;
    if (!validate(r)) bad.push(`${where}: ${JSON.stringify(validate.errors?.slice(0, 2))}`);
  }
  assert.deepEqual(bad.slice(0, 5), []);
});

test('SigmaHQ: every converted rule compiles in the rule engine', { skip: SKIP }, async (t) => {
  const res = await load();
  const set = compileRuleSet(res.rules, {}, {}, { includeDisabled: true });
  t.diagnostic(`compiled ${set.stats.rules} rules over ${set.stats.eventTypes} event types; ${set.stats.unindexed} without a literal prefilter`);
  assert.deepEqual(
    set.issues.slice(0, 5).map((i) => `${i.ruleId ?? '?'}: ${i.path} ${i.message}`),
    [],
  );
  assert.equal(set.stats.rules, res.rules.length);
});
