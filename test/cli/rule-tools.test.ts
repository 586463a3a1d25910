/**
 * `vigil rules lint | test | explain` over every rule kind, as an operator runs it: the real
 * CLI in a child process (compiled, or the sources under tsx), real rule files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { projectRoot } from '../../core/paths.js';
import { tempDir } from '../support/config.js';

const root = projectRoot();
const fromSource = import.meta.url.endsWith('.ts');
const entry = fileURLToPath(new URL(`./vigil-entry.${fromSource ? 'ts' : 'js'}`, import.meta.url));
const CORRELATION = join(root, 'rules', 'correlation');
const LSASS = 'win.cred.lsass_access_then_dump_file';

function vigil(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [...(fromSource ? ['--import', 'tsx'] : []), entry, ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, VIGIL_CONFIG: '' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface TestJson {
  rules: number;
  fixtures: number;
  failed: number;
  results: Array<{ ruleId: string; kind: string; passed: boolean; fixtures: number }>;
  tools: Record<string, { rules: number; fixtures: number }>;
}

test('vigil rules test rules: one run covers detection and correlation rules, every correlation rule of the pack is tested and passes', () => {
  const r = vigil(['rules', 'test', 'rules', '--json']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const rep = JSON.parse(r.stdout) as TestJson;
  const correlationIds = readdirSync(CORRELATION)
    .filter((f) => f.endsWith('.json'))
    .map((f) => (JSON.parse(readFileSync(join(CORRELATION, f), 'utf8')) as { id: string }).id);
  assert.ok(correlationIds.includes(LSASS));
  const byId = new Map(rep.results.map((x) => [x.ruleId, x]));
  for (const id of correlationIds) {
    const res = byId.get(id);
    assert.ok(res, `${id} was tested`);
    assert.ok(res.kind === 'sequence' || res.kind === 'count', `${id}: kind ${res.kind}`);
    assert.ok(res.passed && res.fixtures >= 2, `${id}: passed with its fixtures`);
  }
  const detection = rep.results.filter((x) => x.kind === 'detection');
  assert.ok(detection.length > 20, 'detection rules are tested in the same run');
  assert.equal(rep.rules, rep.results.length);
  assert.equal(rep.fixtures, (rep.tools['rule-engine']?.fixtures ?? 0) + (rep.tools['correlation']?.fixtures ?? 0));
  assert.equal(rep.failed, 0);

  const lint = vigil(['rules', 'lint', 'rules']);
  assert.equal(lint.code, 0, lint.stdout + lint.stderr);
  assert.match(lint.stdout, /0 error\(s\)/);
  assert.match(lint.stdout, /correlation: \d+ rule\(s\).*rule-engine: \d+ rule\(s\)/);
});

test('one folder or one file of the shipped pack tests and lints alone: the lists and macros of rules/lists.json come with it', () => {
  for (const given of ['rules/windows', 'rules/linux', 'rules/windows/execution/office_spawns_shell.json']) {
    const t = vigil(['rules', 'test', given, '--json']);
    assert.equal(t.code, 0, t.stdout + t.stderr);
    const rep = JSON.parse(t.stdout) as TestJson & { issues: unknown[] };
    assert.deepEqual(rep.issues, [], `${given}: every rule loads`);
    assert.ok(rep.rules >= 1 && rep.failed === 0, `${given}: ${rep.rules} rule(s), ${rep.failed} failed`);
    const lint = vigil(['rules', 'lint', given]);
    assert.equal(lint.code, 0, lint.stdout + lint.stderr);
    assert.match(lint.stdout, /0 error\(s\), 0 warning\(s\)/, `${given}: the shared definitions the folder does not use are not warned about`);
  }
});

test('a broken correlation fixture fails vigil rules test with exit 2, naming the rule, the fixture and the engine trace', () => {
  const dir = tempDir();
  const doc = JSON.parse(readFileSync(join(CORRELATION, `${LSASS}.json`), 'utf8')) as { fixtures: { positive: Array<Array<{ time: number }>> } };
  const pos = doc.fixtures.positive[0];
  assert.ok(pos && pos[0] && pos[1]);
  // The dump now comes 61 s after the LSASS access: past the rule's one-minute span.
  pos[1].time = pos[0].time + 61_000;
  writeFileSync(join(dir, 'lsass.json'), JSON.stringify(doc));
  writeFileSync(
    join(dir, 'detection.json'),
    JSON.stringify({
      id: 't.ok',
      title: 't',
      severity: 'low',
      event: ['process.start'],
      match: { field: 'proc.image', endswith_any: ['\\a.exe'] },
      fixtures: { positive: [{ type: 'process.start', time: 1, proc: { image: 'C:\\a.exe' } }], negative: [{ type: 'process.start', time: 1, proc: { image: 'C:\\b.exe' } }] },
    }),
  );
  const r = vigil(['rules', 'test', dir]);
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.match(r.stdout, new RegExp(`FAIL ${LSASS.replace(/\./g, '\\.')} \\(.*lsass\\.json\\): positive fixture 0 did not fire`));
  assert.match(r.stdout, /span exceeded by 1000 ms/);
  assert.match(r.stdout, /2 rule\(s\), \d+ fixture\(s\): 1 passed, 1 failed/);
});

test('a rule of a kind no tooling owns is a lint error naming file, rule and kind; mixed kinds in one file are refused', () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'odd.json'), JSON.stringify({ id: 't.odd', title: 'odd', severity: 'low', kind: 'frequency', event: ['process.start'] }));
  writeFileSync(
    join(dir, 'mixed.json'),
    JSON.stringify({ rules: [{ id: 't.det', title: 'd', severity: 'low', event: ['process.start'], match: { field: 'proc.image', exists: true } }, { id: 't.seq', kind: 'sequence' }] }),
  );
  const r = vigil(['rules', 'lint', dir]);
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.match(r.stdout, /error: .*odd\.json: rule t\.odd: \/kind: \[unknown-kind\] unknown rule kind "frequency"/);
  assert.match(r.stdout, /error: .*mixed\.json: \/: \[mixed-kinds\] holds rules of kinds detection, sequence owned by different tools/);
  const t = vigil(['rules', 'test', dir]);
  assert.equal(t.code, 2);
  assert.match(t.stdout, /not loaded: .*odd\.json: rule t\.odd: \/kind: \[unknown-kind\]/);
});

test('vigil rules explain on the LSASS sequence rule prints the engine step by step, including a span exceeded', () => {
  const dir = tempDir();
  const access = (t: number, guid: string) => ({ type: 'process.access', time: t, proc: { guid, image: 'C:\\x\\rundll32.exe' }, target: { image: 'C:\\Windows\\System32\\lsass.exe' }, access: { granted: 0x1fffff } });
  const dump = (t: number, guid: string, path = 'C:\\Windows\\Temp\\lsass.dmp') => ({ type: 'file.create', time: t, proc: { guid }, file: { path } });
  const T = 1_700_000_000_000;
  const events = [access(T, '{a}'), dump(T + 5_000, '{a}', 'C:\\t\\notes.txt'), dump(T + 6_000, '{other}'), dump(T + 61_000, '{a}'), access(T + 100_000, '{b}'), dump(T + 101_000, '{b}')];
  const file = join(dir, 'events.jsonl');
  writeFileSync(file, events.map((e) => JSON.stringify(e)).join('\n') + '\n');
  const r = vigil(['rules', 'explain', LSASS, file]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const out = r.stdout;
  assert.match(out, /#0 .* process\.access\n\s+· step 0 \(access\): matched: partial match started, waiting for step 1 \(dump\) under key "\{a\}"/);
  assert.match(out, /#1 .* file\.create\n\s+· step 1 \(dump\): event type fits, condition false/);
  assert.match(out, /#2 .*\n\s+· step 1 \(dump\): matches with key "\{other\}", but no partial match waits for it under that key/);
  assert.match(out, /#3 .*\n\s+· step 1 \(dump\): matches under key "\{a\}", but the partial #0 \(step 0 \(access\)\) is past its span: span exceeded by 1000 ms/);
  assert.match(out, /#5 .*\n\s+★ step 1 \(dump\): matched the partial #4 \(step 0 \(access\)\) under key "\{b\}": FIRED/);
  assert.match(out, /verdict: FIRES \(1 detection\)/);

  const j = vigil(['rules', 'explain', LSASS, file, '--json']);
  assert.equal(j.code, 0);
  const data = JSON.parse(j.stdout) as { items: Array<{ index: number; lines: Array<{ outcome: string; overMs?: number }> }> };
  assert.equal(data.items.find((i) => i.index === 3)?.lines[0]?.overMs, 1000);

  const unknown = vigil(['rules', 'explain', 'no.such.rule', file]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown rule id "no\.such\.rule"/);
});

test('vigil correlation is gone: the rule tools live under vigil rules', () => {
  assert.equal(vigil(['correlation', 'test']).code, 2);
});
