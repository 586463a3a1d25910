import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import type { VigilEvent } from '../../../core/index.js';
import { recordingContext } from '../../../testing/index.js';
import { plugin, type RuleEngineConfig } from './index.js';
import { ruleEngineTooling } from './cli.js';
import { registerRuleToolsCommand } from '../../../cli/rule-tools.js';

function rule(id: string, image: string): Record<string, unknown> {
  return {
    id,
    title: `runs ${image}`,
    version: '1.2.0',
    severity: 'medium',
    tags: ['attack.execution'],
    event: ['process.start'],
    match: { field: 'proc.image', endswith_any: [`\\${image}`] },
    response: [{ action: 'kill', params: { tree: true } }],
    fixtures: {
      positive: [{ type: 'process.start', time: 1, proc: { image: `C:\\x\\${image}` } }],
      negative: [{ type: 'process.start', time: 1, proc: { image: 'C:\\x\\other.exe' } }],
    },
  };
}

function ev(image: string, seq: number): VigilEvent {
  return { id: `b-${seq}`, seq, type: 'process.start', time: 1, received: 2, source: 'test', host: { name: 'h' }, proc: { image: `C:\\Tools\\${image}` } };
}

function harness(config: Partial<RuleEngineConfig>) {
  const rec = recordingContext(plugin, {
    config: { rule_paths: [], sigma_paths: [], sigma_placeholders: {}, watch: false, max_regex_input_chars: 65536, ...config },
    hostName: 'h',
  });
  return { instance: plugin.create(rec.ctx), detections: rec.detections, counters: rec.counters };
}

test('manifest and config schema defaults', () => {
  assert.equal(plugin.manifest.id, 'rule-engine');
  assert.deepEqual(plugin.manifest.consumes, ['*']);
  const props = (plugin.manifest.configSchema as { properties: Record<string, { default?: unknown }> }).properties;
  assert.deepEqual(props['rule_paths']?.default, ['rules']);
  assert.deepEqual(props['sigma_paths']?.default, []);
  assert.equal(props['watch']?.default, false);
});

test('raises detections with rule ref, matched predicates and requested actions', async () => {
  const d = mkdtempSync(join(tmpdir(), 'vigil-re-'));
  writeFileSync(join(d, 'r.json'), JSON.stringify({ rules: [rule('t.mimikatz', 'mimikatz.exe')] }));
  const h = harness({ rule_paths: [d] });
  await h.instance.start();
  await h.instance.onEvents?.([ev('MIMIKATZ.EXE', 1), ev('calc.exe', 2)]);
  assert.equal(h.detections.length, 1);
  const det = h.detections[0];
  assert.deepEqual(det?.rule, { id: 't.mimikatz', title: 'runs mimikatz.exe', version: '1.2.0', source: 'native' });
  assert.equal(det?.severity, 'medium');
  assert.deepEqual(det?.tags, ['attack.execution']);
  assert.equal(det?.evidence[0]?.id, 'b-1');
  assert.deepEqual(det?.actions, [{ action: 'kill', params: { tree: true } }]);
  assert.deepEqual(det?.matched, [{ path: '/match', field: 'proc.image', op: 'endswith_any', value: 'C:\\Tools\\MIMIKATZ.EXE' }]);
  assert.equal(h.counters.snapshot().custom['rules_loaded'], 1);
  await h.instance.stop();
});

test('reload swaps the whole set atomically; a bad new set keeps the old one', async () => {
  const d = mkdtempSync(join(tmpdir(), 'vigil-re-'));
  const file = join(d, 'r.json');
  writeFileSync(file, JSON.stringify({ rules: [rule('t.a', 'a.exe')] }));
  const h = harness({ rule_paths: [d] });
  await h.instance.start();
  // A new set with one good and one broken rule: refused as a whole.
  writeFileSync(file, JSON.stringify({ rules: [rule('t.b', 'b.exe'), { ...rule('t.c', 'c.exe'), match: { field: 'proc.image', regex_any: ['(?<=x)'] } }] }));
  await h.instance.reload?.();
  await h.instance.onEvents?.([ev('a.exe', 1), ev('b.exe', 2)]);
  assert.deepEqual(h.detections.map((x) => x.rule.id), ['t.a']);
  const snap = h.counters.snapshot();
  assert.equal(snap.custom['reload_failures'], 1);
  assert.equal(snap.errors['load:reload:invalid_rules'], 1);
  // A good new set replaces the old one entirely.
  writeFileSync(file, JSON.stringify({ rules: [rule('t.b', 'b.exe')] }));
  await h.instance.reload?.();
  await h.instance.onEvents?.([ev('a.exe', 3), ev('b.exe', 4)]);
  assert.deepEqual(h.detections.map((x) => x.rule.id), ['t.a', 't.b']);
  // Unparseable JSON is refused too.
  writeFileSync(file, '{ "rules": [');
  await h.instance.reload?.();
  await h.instance.onEvents?.([ev('b.exe', 5)]);
  assert.deepEqual(h.detections.map((x) => x.rule.id), ['t.a', 't.b', 't.b']);
  assert.equal(h.counters.snapshot().custom['reload_failures'], 2);
  await h.instance.stop();
});

test('watch: a rule file added to a watched folder is loaded without a restart', async () => {
  const d = mkdtempSync(join(tmpdir(), 'vigil-watch-'));
  writeFileSync(join(d, 'a.json'), JSON.stringify(rule('t.a', 'a.exe')));
  const h = harness({ rule_paths: [d], watch: true });
  await h.instance.start();
  try {
    await h.instance.onEvents?.([ev('b.exe', 1)]);
    assert.equal(h.detections.length, 0);
    writeFileSync(join(d, 'b.json'), JSON.stringify(rule('t.b', 'b.exe')));
    for (let i = 0; i < 100 && (h.counters.snapshot().custom['reloads'] ?? 0) < 1; i++) await new Promise((r) => setTimeout(r, 50));
    await h.instance.onEvents?.([ev('b.exe', 2)]);
    assert.deepEqual(h.detections.map((x) => x.rule.id), ['t.b']);
  } finally {
    await h.instance.stop();
  }
});

test('start skips refused rules and counts them', async () => {
  const d = mkdtempSync(join(tmpdir(), 'vigil-re-'));
  writeFileSync(join(d, 'r.json'), JSON.stringify({ rules: [rule('t.a', 'a.exe'), { ...rule('t.bad', 'x'), event: ['nope.nope'] }] }));
  const h = harness({ rule_paths: [d] });
  await h.instance.start();
  assert.equal(h.counters.snapshot().custom['rules_loaded'], 1);
  assert.equal(h.counters.snapshot().errors['load:rule_refused'], 1);
  assert.equal(h.counters.lostTotal, 0, 'a refused rule is a load error, not lost telemetry');
  await h.instance.stop();
});

test('a rule file refused whole (untrusted, not JSON) is listed with the file in the counters', async () => {
  const d = mkdtempSync(join(tmpdir(), 'vigil-re-'));
  writeFileSync(join(d, 'good.json'), JSON.stringify(rule('t.a', 'a.exe')));
  const broken = join(d, 'broken.json');
  writeFileSync(broken, '{ "rules": [');
  const h = harness({ rule_paths: [d] });
  await h.instance.start();
  try {
    assert.equal(h.counters.snapshot().custom['rules_loaded'], 1);
    const files = h.counters.snapshot().file_errors;
    assert.deepEqual(files.map((f) => [f.stage, f.kind, f.file]), [['load', 'rule_file_refused', broken]]);
    assert.match(files[0]!.reason, /JSON/);
  } finally {
    await h.instance.stop();
  }
});

async function runCli(args: string[]): Promise<{ code: number; stdout: string }> {
  const program = new Command().exitOverride();
  const chunks: string[] = [];
  registerRuleToolsCommand(program, { toolings: () => [ruleEngineTooling], io: { out: (s) => chunks.push(s), err: () => undefined } });
  process.exitCode = 0;
  await program.parseAsync(['node', 'vigil', ...args]);
  const code = Number(process.exitCode ?? 0);
  process.exitCode = 0;
  return { code, stdout: chunks.join('\n') };
}

test('cli: rules lint / test / explain, JSON output and exit code 2', async () => {
  const d = mkdtempSync(join(tmpdir(), 'vigil-cli-'));
  writeFileSync(join(d, 'good.json'), JSON.stringify(rule('t.a', 'a.exe')));
  const lint = await runCli(['rules', 'lint', d, '--json']);
  assert.equal(lint.code, 0);
  assert.equal((JSON.parse(lint.stdout) as { errors: number }).errors, 0);
  const tst = await runCli(['rules', 'test', d]);
  assert.equal(tst.code, 0);
  assert.match(tst.stdout, /1 passed, 0 failed/);
  const events = join(d, '..', `${d.split('/').pop() ?? 'x'}-events.jsonl`);
  writeFileSync(events, `${JSON.stringify({ type: 'process.start', time: 1, proc: { image: 'C:\\a.exe' } })}\n${JSON.stringify({ type: 'process.start', time: 1, proc: { image: 'C:\\b.exe' } })}\n`);
  const ex = await runCli(['rules', 'explain', 't.a', events, '--rules', d]);
  assert.equal(ex.code, 0);
  assert.match(ex.stdout, /#0 rule t.a[\s\S]*verdict: FIRES[\s\S]*#1 rule t.a[\s\S]*verdict: does not fire/);
  writeFileSync(join(d, 'bad.json'), JSON.stringify({ ...rule('t.b', 'b.exe'), match: { field: 'proc.image', equals: ['x'] } }));
  const bad = await runCli(['rules', 'lint', d]);
  assert.equal(bad.code, 2);
  assert.match(bad.stdout, /error: .*bad\.json: rule t\.b: \/match\/equals: \[operator\] unknown operator "equals"/);
  const badTest = await runCli(['rules', 'test', d]);
  assert.equal(badTest.code, 2);
  const unknown = await runCli(['rules', 'explain', 'nope', events, '--rules', d]);
  assert.equal(unknown.code, 2);
});
