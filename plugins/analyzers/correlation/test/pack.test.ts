import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { testCorrelationRules, lintCorrelationRules, loadCorrelationFiles, CORRELATION_RULE_SCHEMA } from '../index.js';

const ROOT = process.env['VIGIL_PROJECT_ROOT'] ?? resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../..');
const PACK = join(ROOT, 'rules/correlation');
const HERE = resolve(ROOT, 'plugins/analyzers/correlation');

test('the shipped correlation pack passes its fixtures and lint', async () => {
  const rep = await testCorrelationRules([PACK]);
  assert.deepEqual(rep.issues, []);
  assert.deepEqual(rep.failures, []);
  const loaded = await loadCorrelationFiles([PACK]);
  const sequences = loaded.compiled.filter((r) => r.kind === 'sequence');
  assert.ok(sequences.length >= 10, `expected ≥ 10 sequences, found ${sequences.length}`);
  for (const r of loaded.compiled) {
    assert.ok((r.doc.fixtures?.positive ?? []).length > 0, `${r.doc.id} has a positive fixture`);
    assert.ok((r.doc.fixtures?.negative ?? []).length > 0, `${r.doc.id} has a negative fixture`);
  }
  const lint = await lintCorrelationRules([PACK]);
  assert.equal(lint.errors, 0, JSON.stringify(lint.findings));
});

test('every shipped sequence has a negative fixture one second past its span', async () => {
  const loaded = await loadCorrelationFiles([PACK]);
  for (const r of loaded.compiled) {
    if (r.kind !== 'sequence') continue;
    const found = (r.doc.fixtures?.negative ?? []).some((fx) => {
      const times = fx.map((i) => ('detection' in i ? (i.evidence?.at(-1)?.time ?? i.event?.time ?? 0) : i.time));
      return (times.at(-1) ?? 0) - (times[0] ?? 0) === r.spanMs + 1000;
    });
    assert.ok(found, `${r.doc.id}: no negative fixture exceeding the span by one second`);
  }
});

test('fixture testing can fail: a rule whose span is too short fails its positive fixture', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-corr-'));
  const doc = JSON.parse(readFileSync(join(PACK, 'win.exec.download_execute_connect.json'), 'utf8')) as Record<string, unknown>;
  doc['maxspan'] = '10s';
  writeFileSync(join(dir, 'r.json'), JSON.stringify(doc));
  const rep = await testCorrelationRules([dir]);
  assert.equal(rep.failed, 1);
  assert.match(rep.failures[0]?.message ?? '', /positive fixture 0 did not fire/);
});

test('bad rule files are reported with file and JSON pointer, and skipped', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-corr-'));
  writeFileSync(join(dir, 'broken.json'), '{ "id": ');
  writeFileSync(
    join(dir, 'pack.json'),
    JSON.stringify({
      rules: [
        { id: 'ok.one', title: 't', severity: 'low', kind: 'count', event: ['net.connect'], group_by: ['proc.guid'], timespan: '1m', condition: { gte: 2 } },
        { id: 'bad.regex', title: 't', severity: 'low', kind: 'sequence', maxspan: '1m', steps: [{ event: ['net.connect'], by: ['proc.guid'], match: { field: 'proc.image', regex_any: ['(unclosed'] } }, { event: ['dns.query'], by: ['proc.guid'] }] },
        { id: 'bad.bound', title: 't', severity: 'low', kind: 'sequence', maxspan: '1m', steps: [{ event: ['net.connect'], by: ['proc.guid'] }, { event: ['dns.query'], by: ['proc.guid'], match: { field: 'dns.query', equals_bound: '$2.dns.query' } }] },
        { id: 'bad.kind', title: 't', severity: 'low', kind: 'sequence', maxspan: 'soon', steps: [] },
      ],
    }),
  );
  const res = await loadCorrelationFiles([dir]);
  assert.deepEqual(res.compiled.map((c) => c.doc.id), ['ok.one']);
  const msg = res.issues.map((i) => `${i.file.split(/[\\/]/).pop() ?? ''}${i.path}: ${i.message}`);
  assert.ok(msg.some((m) => m.startsWith('broken.json: not valid JSON')), msg.join('\n'));
  assert.ok(msg.some((m) => m.startsWith('pack.json/rules/1/steps/0/match/regex_any/0') && m.includes('RE2')), msg.join('\n'));
  assert.ok(msg.some((m) => m.startsWith('pack.json/rules/2/steps/1/match/equals_bound') && m.includes('earlier step')), msg.join('\n'));
  assert.ok(msg.some((m) => m.startsWith('pack.json/rules/3/maxspan')), msg.join('\n'));
});

test('the published JSON Schema file matches the one the loader uses', () => {
  const published = JSON.parse(readFileSync(join(HERE, 'correlation-rule.schema.json'), 'utf8')) as unknown;
  assert.deepEqual(published, JSON.parse(JSON.stringify(CORRELATION_RULE_SCHEMA)));
  assert.ok(readdirSync(PACK).length >= 10);
});

test('a correlation rule file given alone loads with the lists and macros of the lists.json above it', async () => {
  const d = mkdtempSync(join(tmpdir(), 'vigil-corr-shared-'));
  const sub = join(d, 'correlation');
  mkdirSync(sub);
  writeFileSync(join(d, 'lists.json'), JSON.stringify({ lists: { tools: ['c:\\t\\procdump.exe'] }, macros: { lsass_target: { field: 'target.image', endswith_any: ['\\lsass.exe'] } }, rules: [] }));
  const rule = {
    id: 'test.shared_defs',
    title: 'a dump tool opens lsass, then writes a file',
    severity: 'high',
    kind: 'sequence',
    maxspan: '1m',
    steps: [
      { event: ['process.access'], by: ['proc.guid'], match: { all: [{ macro: 'lsass_target' }, { field: 'proc.image', in_list: 'tools' }] } },
      { event: ['file.create'], by: ['proc.guid'] },
    ],
    fixtures: {
      positive: [[
        { type: 'process.access', time: 1000, proc: { guid: '{p}', image: 'C:\\t\\procdump.exe' }, target: { image: 'C:\\Windows\\System32\\lsass.exe' } },
        { type: 'file.create', time: 2000, proc: { guid: '{p}' }, file: { path: 'C:\\x.dmp' } },
      ]],
      negative: [[
        { type: 'process.access', time: 1000, proc: { guid: '{p}', image: 'C:\\t\\other.exe' }, target: { image: 'C:\\Windows\\System32\\lsass.exe' } },
        { type: 'file.create', time: 2000, proc: { guid: '{p}' }, file: { path: 'C:\\x.dmp' } },
      ]],
    },
  };
  const file = join(sub, 'test.shared_defs.json');
  writeFileSync(file, JSON.stringify(rule));
  const loaded = await loadCorrelationFiles([file]);
  assert.deepEqual(loaded.issues, []);
  assert.deepEqual(Object.keys(loaded.defs.lists), ['tools']);
  assert.deepEqual(Object.keys(loaded.defs.macros), ['lsass_target']);
  const rep = await testCorrelationRules([sub]);
  assert.deepEqual(rep.issues, []);
  assert.deepEqual(rep.failures, []);
  assert.deepEqual((await loadCorrelationFiles([d])).issues, [], 'the lists.json of a given folder is read once');
});

test('a correlation rule file saved with a UTF-8 byte-order mark loads; a broken one is placed by line and column', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-corr-bom-'));
  const doc = JSON.parse(readFileSync(join(PACK, 'win.exec.download_execute_connect.json'), 'utf8')) as { id: string };
  writeFileSync(join(dir, 'bom.json'), `\ufeff${JSON.stringify(doc, null, 2)}`, 'utf8');
  writeFileSync(join(dir, 'broken.json'), '{\n  "id": "x",\n  "kind" "count"\n}\n');
  const res = await loadCorrelationFiles([dir]);
  assert.deepEqual(res.compiled.map((c) => c.doc.id), [doc.id]);
  assert.deepEqual(res.issues.map((i) => i.file.split(/[\\/]/).pop()), ['broken.json']);
  assert.match(res.issues[0]?.message ?? '', /^not valid JSON at line 3 column 10: /);
  const rep = await testCorrelationRules([join(dir, 'bom.json')]);
  assert.deepEqual(rep.failures, []);
  assert.equal(rep.passed, 1);
});
