import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../../../testing/index.js';
import { compileRuleSet, explainRule, lintRules, loadRuleFiles, packRootOf, RULE_SCHEMA, testRules, validateRuleFile } from '../index.js';

const good = {
  id: 'win.cred.lsass_access',
  title: 'LSASS opened with memory-read rights',
  version: '1.0.0',
  severity: 'high',
  tags: ['attack.t1003.001'],
  event: ['process.access'],
  match: { all: [{ field: 'target.image', endswith_any: ['\\lsass.exe'] }, { field: 'access.granted', mask_any: ['0x10'] }] },
  exceptions: [{ field: 'proc.image', in_list: 'trusted' }],
  response: [{ action: 'memscan' }],
  fixtures: {
    positive: [{ type: 'process.access', time: 1, proc: { image: 'C:\\x\\evil.exe' }, target: { image: 'C:\\Windows\\System32\\lsass.exe' }, access: { granted: 0x1410 } }],
    negative: [
      { type: 'process.access', time: 1, proc: { image: 'C:\\Windows\\System32\\MsMpEng.exe' }, target: { image: 'C:\\Windows\\System32\\lsass.exe' }, access: { granted: 0x1410 } },
      { type: 'process.access', time: 1, proc: { image: 'C:\\x\\evil.exe' }, target: { image: 'C:\\Windows\\System32\\lsass.exe' }, access: { granted: 0x1000 } },
    ],
  },
};

function dir(files: Record<string, unknown>): string {
  const d = mkdtempSync(join(tmpdir(), 'vigil-rules-'));
  for (const [name, content] of Object.entries(files)) {
    const p = join(d, name);
    mkdirSync(join(p, '..'), { recursive: true });
    writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  }
  return d;
}

const pack = { lists: { trusted: ['c:\\windows\\system32\\msmpeng.exe'] }, rules: [good] };

test('published rule.schema.json equals RULE_SCHEMA and accepts a good pack', () => {
  // Read from the source tree: the build does not copy JSON files into dist/.
  const file = JSON.parse(readFileSync(join(projectRoot(), 'lib', 'rules', 'rule.schema.json'), 'utf8')) as unknown;
  assert.deepEqual(file, RULE_SCHEMA);
  assert.deepEqual(validateRuleFile(pack), []);
  assert.ok(validateRuleFile({ ...good, match: { field: 'proc.image', bogus: 1 } }).length > 0);
});

test('loads folders recursively; broken files and rules are reported precisely and skipped', async () => {
  const bad = (over: Record<string, unknown>) => ({ ...good, fixtures: undefined, ...over });
  const d = dir({
    'a/pack.json': pack,
    'a/b/broken.json': '{ "id": "x", \n "title": }',
    'c/bad-rules.json': {
      rules: [
        bad({ id: 'bad.op', match: { field: 'proc.image', equal_any: ['x'] } }),
        bad({ id: 'bad.group', match: { field: 'process.image', equals_any: ['x'] } }),
        bad({ id: 'bad.type', event: ['process.begin'] }),
        bad({ id: 'bad.lookbehind', match: { field: 'proc.image', regex_any: ['(?<=x)y'] } }),
        bad({ id: 'bad.backref', match: { any: [{ field: 'proc.image', regex_any: ['(a)\\1'] }] } }),
        bad({ id: 'bad.sev', severity: 'huge' }),
        bad({ id: 'bad.extra', colour: 'red' }),
        'not a rule',
        bad({ id: 'win.cred.lsass_access' }),
        bad({ id: 'ok.two', exceptions: undefined }),
      ],
    },
    'ignored.txt': 'x',
  });
  const r = await loadRuleFiles([d]);
  assert.deepEqual(r.rules.map((x) => x.id).sort(), ['ok.two', 'win.cred.lsass_access']);
  assert.equal(r.files.length, 3);
  const by = (id: string) => r.issues.find((i) => i.ruleId === id);
  assert.match(r.issues.find((i) => i.file.endsWith('broken.json'))?.message ?? '', /invalid JSON at line 2 column/);
  assert.deepEqual({ ...by('bad.op'), file: '' }, { file: '', ruleId: 'bad.op', path: '/rules/0/match/equal_any', message: 'unknown operator "equal_any"', expected: by('bad.op')?.expected, found: 'equal_any' });
  assert.match(by('bad.op')?.expected ?? '', /equals_any/);
  assert.equal(by('bad.group')?.path, '/rules/1/match/field');
  assert.match(by('bad.group')?.message ?? '', /unknown field group "process"/);
  assert.equal(by('bad.type')?.path, '/rules/2/event/0');
  assert.match(by('bad.type')?.message ?? '', /unknown event type "process.begin"/);
  assert.equal(by('bad.lookbehind')?.path, '/rules/3/match/regex_any/0');
  assert.match(by('bad.lookbehind')?.message ?? '', /refused by RE2/);
  assert.equal(by('bad.backref')?.path, '/rules/4/match/any/0/regex_any/0');
  assert.equal(by('bad.sev')?.path, '/rules/5/severity');
  assert.match(by('bad.sev')?.expected ?? '', /critical/);
  assert.equal(by('bad.extra')?.path, '/rules/6/colour');
  assert.ok(r.issues.some((i) => i.path === '/rules/7' && /must be an object/.test(i.message)));
  assert.ok(r.issues.some((i) => i.path === '/rules/8/id' && /duplicate rule id/.test(i.message)));
  assert.ok(r.issues.every((i) => i.file.length > 0));
  const missing = await loadRuleFiles([join(d, 'nope')]);
  assert.match(missing.issues[0]?.message ?? '', /cannot read/);
});

test('one rule file or one folder of a pack loads with the lists and macros of the lists.json of its pack root', async () => {
  const lsass = { ...good, match: { all: [{ macro: 'lsass_target' }, { field: 'access.granted', mask_any: ['0x10'] }] } };
  const d = dir({
    'pack/lists.json': {
      lists: { trusted: ['c:\\windows\\system32\\msmpeng.exe'], spare: ['x'] },
      macros: { lsass_target: { field: 'target.image', endswith_any: ['\\lsass.exe'] } },
      rules: [],
    },
    'pack/windows/cred/lsass.json': lsass,
    // Beside the pack, not above it: never read.
    'other/lists.json': { lists: { trusted: ['y'] }, rules: [] },
  });
  const file = join(d, 'pack/windows/cred/lsass.json');
  for (const given of [file, join(d, 'pack/windows'), join(d, 'pack/windows/cred')]) {
    const r = await loadRuleFiles([given]);
    assert.deepEqual(r.issues, [], `${given}: no issue`);
    assert.deepEqual(r.rules.map((x) => x.id), [good.id]);
    assert.deepEqual(r.sharedAbove, [join(d, 'pack/lists.json')]);
    assert.equal(r.listFileOf.get('trusted'), join(d, 'pack/lists.json'));
  }
  // The pack's fixtures pass with the shared exception list and macro.
  const t = await testRules([file]);
  assert.equal(t.failed, 0);
  assert.equal(t.passed, 1);
  // Definitions the given rules do not use are not "unused" when they come from above…
  const sub = await lintRules([file]);
  assert.deepEqual(sub.findings.filter((x) => x.code === 'unused'), []);
  // …but are with the whole pack given, named by the file that defines them.
  const whole = await lintRules([join(d, 'pack')]);
  assert.deepEqual(
    whole.findings.filter((x) => x.code === 'unused').map((x) => [x.file, x.path]),
    [[join(d, 'pack/lists.json'), '/lists/spare']],
  );
  assert.deepEqual((await loadRuleFiles([join(d, 'pack')])).sharedAbove, [], 'a lists.json under the given folder is given, not above');
});

const lsassByMacro = { ...good, match: { all: [{ macro: 'lsass_target' }, { field: 'access.granted', mask_any: ['0x10'] }] } };
const lsassMacro = { lsass_target: { field: 'target.image', endswith_any: ['\\lsass.exe'] } };

test('the nearest lists.json marks the pack root: nothing above it is read', async () => {
  const d = dir({
    'lists.json': { lists: { trusted: ['y'] }, macros: { lsass_target: { field: 'proc.pid', exists: false } }, rules: [] },
    'pack/lists.json': { lists: { trusted: ['c:\\windows\\system32\\msmpeng.exe'] }, macros: lsassMacro, rules: [] },
    'pack/windows/lsass.json': lsassByMacro,
  });
  for (const given of [join(d, 'pack'), join(d, 'pack/windows'), join(d, 'pack/windows/lsass.json')]) {
    const r = await loadRuleFiles([given]);
    assert.deepEqual(r.issues, [], given);
    assert.ok(!r.files.includes(join(d, 'lists.json')), `${given}: the lists.json above the pack root is not read`);
    assert.equal(r.macroFileOf.get('lsass_target'), join(d, 'pack/lists.json'));
  }
  assert.deepEqual(packRootOf(join(d, 'pack/windows/lsass.json')), { root: join(d, 'pack'), shared: join(d, 'pack/lists.json') });
});

test('the walk to the pack root stops below a folder others can create files in', async (t) => {
  if (process.platform !== 'linux') return t.skip('file modes are checked on Linux');
  const d = dir({
    // Planted in a shared folder above a pack that has no lists.json of its own.
    'shared/lists.json': { lists: {}, macros: lsassMacro, rules: [] },
    'shared/pack/windows/lsass.json': lsassByMacro,
    'shared/pack/windows/other.json': { ...good, id: 'win.other', exceptions: undefined },
  });
  chmodSync(join(d, 'shared'), 0o1777);
  assert.equal(packRootOf(join(d, 'shared/pack/windows')), undefined);
  const r = await loadRuleFiles([join(d, 'shared/pack')]);
  assert.deepEqual(r.sharedAbove, []);
  assert.equal(r.macros['lsass_target'], undefined, 'the planted macro is not read');
  assert.ok(!r.rules.some((x) => x.id === good.id), 'the rule that needs the macro does not load');
  if (process.geteuid?.() === 0) {
    // Root-owned and sticky, as /tmp: the pack's own files under it are still trusted.
    assert.deepEqual(r.rules.map((x) => x.id), ['win.other']);
    assert.match(r.issues.map((i) => i.message).join('\n'), /unknown macro "lsass_target"/);
  }
});

test('a rule file or lists.json other users can write is refused with the reason; lint names it untrusted', async (t) => {
  if (process.platform !== 'linux') return t.skip('file modes are checked on Linux');
  const d = dir({
    'pack/lists.json': { lists: { trusted: ['c:\\windows\\system32\\msmpeng.exe'] }, macros: lsassMacro, rules: [] },
    'pack/windows/lsass.json': lsassByMacro,
    'pack/windows/other.json': { ...good, id: 'win.other', exceptions: undefined },
  });
  const other = join(d, 'pack/windows/other.json');
  chmodSync(other, 0o666);
  const r = await loadRuleFiles([join(d, 'pack')]);
  assert.deepEqual(r.rules.map((x) => x.id), [good.id]);
  assert.deepEqual(r.issues, [{ file: other, path: '', message: `untrusted: file ${other} is writable by group and others (mode 0666); refused` }]);
  const lint = await lintRules([join(d, 'pack')]);
  assert.deepEqual(lint.findings.filter((f) => f.severity === 'error').map((f) => [f.file, f.code]), [[other, 'untrusted']]);
  // The shared definitions are checked as every other file of the pack.
  chmodSync(other, 0o644);
  chmodSync(join(d, 'pack/lists.json'), 0o664);
  const shared = await loadRuleFiles([join(d, 'pack/windows/lsass.json')]);
  assert.match(shared.issues[0]?.message ?? '', /^untrusted: file .*pack\/lists\.json is writable by group \(mode 0664\); refused$/);
  assert.deepEqual(shared.rules, []);
});

test('lint reports errors and warnings with file, rule id and path', async () => {
  const d = dir({
    'r.json': {
      macros: { unused_macro: { field: 'proc.pid', exists: true } },
      rules: [
        { ...good, id: 'lint.empty_any', fixtures: undefined, exceptions: undefined, match: { all: [{ field: 'proc.imagee', exists: true }, { any: [] }] } },
        {
          ...good,
          id: 'lint.contradiction',
          exceptions: undefined,
          match: {
            all: [
              { field: 'proc.image', equals_any: ['a.exe'] },
              { field: 'proc.image', equals_any: ['b.exe'] },
              { field: 'net.dst_port', gt: 10 },
              { field: 'net.dst_port', lt: 5 },
              { field: 'proc.cwd', exists: false },
              { field: 'proc.cwd', contains_any: ['x'] },
              { n_of: { n: 3, of: [{ field: 'proc.pid', exists: true }] } },
            ],
          },
        },
        { ...good, id: 'lint.regex', exceptions: undefined, match: { field: 'proc.image', regex_any: ['(?<!x)y'] } },
        { ...good, id: 'lint.list' },
      ],
    },
  });
  const rep = await lintRules([d]);
  const f = (code: string, id?: string) => rep.findings.filter((x) => x.code === code && (id === undefined || x.ruleId === id));
  assert.equal(f('unreachable', 'lint.empty_any')[0]?.path, '/rules/0/match/all/1/any');
  assert.equal(f('unreachable', 'lint.empty_any')[0]?.severity, 'error');
  assert.equal(f('unknown-field', 'lint.empty_any')[0]?.severity, 'warning');
  assert.equal(f('fixtures', 'lint.empty_any').length, 1);
  assert.equal(f('contradiction', 'lint.contradiction').length, 3);
  assert.equal(f('unreachable', 'lint.contradiction')[0]?.path, '/rules/1/match/all/6/n_of/n');
  assert.equal(f('regex', 'lint.regex')[0]?.severity, 'error');
  assert.equal(f('list', 'lint.list')[0]?.path, '/rules/3/exceptions/0/in_list', 'in_list of an undefined list is an error');
  assert.equal(f('unused').length, 1);
  assert.ok(rep.errors >= 6);
  assert.ok(rep.findings.every((x) => x.file.length > 0), 'every finding names its file, unused definitions included');
});

test('rules test: fixtures must fire / not fire, missing fixtures fail', async () => {
  const d = dir({
    'ok.json': pack,
    'bad.json': {
      rules: [
        { ...good, id: 'no.fixtures', exceptions: undefined, fixtures: { positive: good.fixtures.positive } },
        { ...good, id: 'wrong.fixture', exceptions: undefined, fixtures: { positive: good.fixtures.negative.slice(1), negative: good.fixtures.positive } },
      ],
    },
  });
  const ok = await testRules([join(d, 'ok.json')]);
  assert.equal(ok.failed, 0, JSON.stringify(ok.failures));
  assert.equal(ok.passed, 1);
  assert.equal(ok.fixtures, 3);
  const rep = await testRules([d]);
  assert.equal(rep.failed, 2);
  assert.deepEqual(rep.failures.filter((x) => x.ruleId === 'no.fixtures').map((x) => x.kind), ['missing']);
  const wrong = rep.failures.filter((x) => x.ruleId === 'wrong.fixture');
  assert.deepEqual(wrong.map((x) => x.kind), ['positive', 'negative']);
  assert.match(wrong[0]?.message ?? '', /did not fire[\s\S]*✗ \/rules|✗ \/match\/all\/1/);
});

test('explain prints every predicate with value and verdict', async () => {
  const d = dir({ 'p.json': pack });
  const r = await loadRuleFiles([d]);
  const set = compileRuleSet(r.rules, r.lists, r.macros);
  const e = good.fixtures.negative[0] as (typeof good.fixtures.positive)[0];
  const x = explainRule('win.cred.lsass_access', e, set);
  assert.equal(x.matchVerdict, true);
  assert.equal(x.fired, false, 'suppressed by the exception');
  assert.equal(x.exceptions[0]?.verdict, true);
  assert.match(x.text, /✓ \/match\/all\/1 {2}access.granted mask_any \["0x10"\] {2}seen 5136/);
  assert.match(x.text, /verdict: does not fire/);
  assert.throws(() => explainRule('nope', e, set), /unknown rule id "nope"/);
});
