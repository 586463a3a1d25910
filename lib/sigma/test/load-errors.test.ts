import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSigmaLoadError, loadSigmaRules, sigmaReasonKind } from '../index.js';
import { ruleYaml } from './helpers.js';

const uuid = (n: number): string => `00000000-0000-0000-0000-${String(n).padStart(12, '0')}`;
const withId = (src: string, n: number): string => src.replace('11111111-2222-3333-4444-555555555555', uuid(n));

test('broken files and rules are load errors; valid rules Vigil cannot run are intended skips', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-sigma-errors-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]', ...'bcdefgh'.split('').map((c, i) => `${c}: &${c} [${Array(9).fill(`*${'abcdefgh'[i]!}`).join(', ')}]`)];
  const files: Record<string, string> = {
    'bad-yaml.yml': 'title: [unclosed\nid: x\n',
    'alias-bomb.yml': bomb.join('\n') + '\n',
    'not-sigma.yml': 'server:\n  port: 8080\n',
    'a-list.yml': '- one\n- two\n',
    'bad-detection.yml': withId(ruleYaml('sel: {}\ncondition: sel'), 1),
    'bad-condition.yml': withId(ruleYaml('sel:\n  Image: a.exe\ncondition: sel or'), 2),
    'bad-value.yml': withId(ruleYaml("sel:\n  DestinationIp|cidr: '10.0.0.0/99'\ncondition: sel"), 3),
    'unsupported-logsource.yml': withId(ruleYaml('sel:\n  eventName: x\ncondition: sel', 'product: aws\n  service: cloudtrail'), 4),
    'unsupported-modifier.yml': withId(ruleYaml('sel:\n  CommandLine|minute: 5\ncondition: sel'), 5),
    'good.yml': withId(ruleYaml('sel:\n  Image: a.exe\ncondition: sel'), 6),
  };
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);

  const res = await loadSigmaRules([dir]);
  assert.deepEqual(res.rules.map((r) => r.id), [uuid(6)]);
  const byFile = new Map(res.skipped.map((s) => [s.file.slice(dir.length + 1), s.reason]));
  const expected: Record<string, [kind: string, error: boolean]> = {
    'bad-yaml.yml': ['yaml-error', true],
    'alias-bomb.yml': ['yaml-error', true],
    'not-sigma.yml': ['bad-rule', true],
    'a-list.yml': ['bad-rule', true],
    'bad-detection.yml': ['bad-detection', true],
    'bad-condition.yml': ['bad-condition', true],
    'bad-value.yml': ['bad-value', true],
    'unsupported-logsource.yml': ['unsupported-logsource', false],
    'unsupported-modifier.yml': ['unsupported-modifier', false],
  };
  assert.deepEqual([...byFile.keys()].sort(), Object.keys(expected).sort());
  for (const [file, [kind, error]] of Object.entries(expected)) {
    const reason = byFile.get(file) ?? '';
    assert.equal(sigmaReasonKind(reason), kind, `${file}: ${reason}`);
    assert.equal(isSigmaLoadError(reason), error, `${file} is ${error ? 'a load error' : 'an intended skip'}: ${reason}`);
  }
  assert.match(byFile.get('alias-bomb.yml') ?? '', /alias/i);
});

test('read errors and duplicate ids are load errors too', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-sigma-errors-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const good = join(dir, 'good.yml');
  await writeFile(good, ruleYaml('sel:\n  Image: a.exe\ncondition: sel'));
  const res = await loadSigmaRules([good, good, join(dir, 'missing.yml')]);
  assert.deepEqual(res.skipped.map((s) => [sigmaReasonKind(s.reason), isSigmaLoadError(s.reason)]).sort(), [
    ['duplicate-id', true],
    ['read-error', true],
  ]);
});

test('a Sigma file other users can write, or in a folder they can write, is a load error (untrusted)', async (t) => {
  if (process.platform !== 'linux') return t.skip('file modes are checked on Linux');
  const dir = await mkdtemp(join(tmpdir(), 'vigil-sigma-trust-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const good = join(dir, 'good.yml');
  const open = join(dir, 'open.yml');
  await writeFile(good, withId(ruleYaml('sel:\n  Image: a.exe\ncondition: sel'), 1));
  await writeFile(open, withId(ruleYaml('sel:\n  Image: b.exe\ncondition: sel'), 2));
  await chmod(good, 0o644);
  await chmod(open, 0o666);
  const res = await loadSigmaRules([dir]);
  assert.deepEqual(res.rules.map((r) => r.id), [uuid(1)]);
  assert.deepEqual(res.skipped, [{ file: open, reason: `untrusted: file ${open} is writable by group and others (mode 0666); refused` }]);
  assert.equal(isSigmaLoadError(res.skipped[0]?.reason ?? ''), true);
  assert.equal(res.stats.file_errors, 1);
});
