import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DISCARD_REASONS, ERROR_STAGES, ERROR_STAGE_MEANINGS } from '../core/index.js';
import { Kernel } from '../core/kernel/kernel.js';
import { projectRoot } from '../core/paths.js';
import { silentLogger } from '../core/telemetry/logger.js';
import type { EventDraft } from '../core/events/event.js';
import { plugin as ruleEngine } from '../plugins/analyzers/rule-engine/index.js';
import { tempConfig, tempDir } from './support/config.js';
import { recordingResponder, ref, scriptedSensor } from './support/fake-plugins.js';

const root = projectRoot();

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (name !== 'test' && name !== 'fixtures') sources(p, out);
    } else if (name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Reasons written as literals at the discard call sites of these files. */
function literalReasons(files: readonly string[]): Set<string> {
  const found = new Set<string>();
  for (const f of files) {
    for (const m of readFileSync(f, 'utf8').matchAll(/\b(?:discard|discardAll)\(\s*(?:[^,()]*\?\s*)?'([a-z_]+)'(?:\s*:\s*'([a-z_]+)')?/g)) {
      found.add(m[1]!);
      if (m[2] !== undefined) found.add(m[2]);
    }
  }
  return found;
}

test('the stages and the shared discard reasons are documented with their meaning', () => {
  const doc = readFileSync(join(root, 'docs', 'architecture.md'), 'utf8');
  for (const stage of ERROR_STAGES) {
    assert.ok(doc.includes(`| \`${stage}\` | ${ERROR_STAGE_MEANINGS[stage]} |`), `docs/architecture.md lacks stage ${stage} with its meaning`);
  }
  for (const [reason, meaning] of Object.entries(DISCARD_REASONS)) {
    assert.ok(doc.includes(`| \`${reason}\` | ${meaning} |`), `docs/architecture.md lacks reason ${reason} with its meaning`);
  }
});

test('the core and the CLI discard only with reasons of DISCARD_REASONS', () => {
  const files = ['core', 'cli'].flatMap((d) => sources(join(root, d)));
  const used = literalReasons(files);
  assert.ok(used.has('queue_full') && used.has('plugin_not_running'), `the scan finds the call sites: ${[...used].join(', ')}`);
  assert.deepEqual([...used].filter((r) => !(r in DISCARD_REASONS)).sort(), []);
});

test("every plugin's own discard reasons are in its README, spelled once across plugins", () => {
  const owner = new Map<string, string>();
  for (const kind of ['sensors', 'analyzers', 'responders']) {
    const kindDir = join(root, 'plugins', kind);
    for (const id of readdirSync(kindDir)) {
      const dir = join(kindDir, id);
      if (!statSync(dir).isDirectory()) continue;
      const readme = join(dir, 'README.md');
      const used = literalReasons(sources(dir));
      if (used.size === 0) continue;
      assert.ok(existsSync(readme), `${kind}/${id} discards items but has no README.md`);
      const text = readFileSync(readme, 'utf8');
      for (const reason of used) {
        if (reason in DISCARD_REASONS) continue;
        assert.ok(text.includes(`\`${reason}\``), `${kind}/${id}: reason ${reason} is not in its README`);
        const other = owner.get(reason);
        assert.equal(other, undefined, `${reason} is used by ${other} and ${id}: a shared reason belongs in DISCARD_REASONS`);
        owner.set(reason, id);
      }
    }
  }
  assert.ok(owner.has('process_limit') && owner.has('below_min_severity'), `the scan finds plugin reasons: ${[...owner.keys()].join(', ')}`);
});

test('a bad rule file is a load error: counted as load:rule_refused, no "lost items", no health detection', async () => {
  const rules = tempDir('vigil-rules-');
  const good = {
    id: 't.good',
    title: 'runs good.exe',
    severity: 'low',
    event: ['process.start'],
    match: { field: 'proc.image', endswith_any: ['\\good.exe'] },
  };
  const bad = Array.from({ length: 12 }, (_, i) => ({ ...good, id: `t.bad${i}`, event: ['no.such_type'] }));
  writeFileSync(join(rules, 'rules.json'), JSON.stringify({ rules: [good, ...bad] }));
  const sink = { events: [], detections: [], actions: [], results: [] } as Parameters<typeof recordingResponder>[1];
  // A sensor whose invalid drafts are lost: proof that the health checks ran meanwhile.
  const lossy = scriptedSensor('lossy', () => [{ type: 'process.start', time: Number.NaN } as EventDraft], { delivery: 'live' });
  const cfg = tempConfig({
    health: { check_interval_seconds: 0.02, max_errors_per_window: 10 },
    plugins: { 'rule-engine': { config: { rule_paths: [rules] } }, lossy: {}, r: {} },
  });
  const k = new Kernel(cfg, { logger: silentLogger(), noBuiltins: true, extraPlugins: [ref(ruleEngine, 'builtin'), ref(lossy), ref(recordingResponder('r', sink))] });
  await k.start();
  try {
    for (let i = 0; i < 500 && !sink.detections.some((d) => d.rule.source === 'health'); i++) await new Promise((r) => setTimeout(r, 10));
    const health = sink.detections.filter((d) => d.rule.source === 'health');
    assert.ok(health.some((d) => d.rule.id === 'vigil.health.lost' && /sensor lossy lost 1 items/.test(d.summary ?? '')), 'the health checks ran');
    const re = k.status().plugins.find((p) => p.id === 'rule-engine')!;
    assert.equal(re.state, 'running');
    assert.equal(re.counters.custom['rules_loaded'], 1, 'the good rule is loaded');
    assert.equal(re.counters.errors['load:rule_refused'], 12);
    assert.deepEqual(re.counters.discarded, {}, 'nothing counted as lost or discarded');
    assert.deepEqual(
      health.filter((d) => /rule-engine/.test(d.summary ?? '')).map((d) => d.summary),
      [],
      'no health detection about the rule engine: neither lost items nor errors',
    );
  } finally {
    await k.stop();
  }
});
