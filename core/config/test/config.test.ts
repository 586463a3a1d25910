import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { loadConfig, parseConfig, validateWithSchema } from '../../config/index.js';
import { isVigilError } from '../../errors/index.js';
import { Kernel } from '../../kernel/kernel.js';
import { silentLogger } from '../../telemetry/logger.js';
import { tempDir } from '../../../test/support/config.js';

/** Nine anchors, each a list of nine aliases of the one before: 9^9 strings once expanded. */
function aliasBomb(): string {
  const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  const names = 'abcdefghi';
  for (let i = 1; i < names.length; i++) {
    const prev = `*${names[i - 1]!}`;
    lines.push(`${names[i]!}: &${names[i]!} [${Array(9).fill(prev).join(',')}]`);
  }
  return lines.join('\n') + '\n';
}

test('a YAML alias bomb is a config parse error naming the file, not an escaped exception', () => {
  const dir = tempDir();
  const file = join(dir, 'bomb.yaml');
  writeFileSync(file, aliasBomb());
  assert.throws(
    () => loadConfig(file),
    (err: unknown) => {
      assert.ok(isVigilError(err), `a VigilError, got ${String(err)}`);
      assert.equal(err.code, 'VIGIL_ERR_CONFIG_PARSE');
      assert.ok(err.message.startsWith(`${file}: `), err.message);
      assert.match(err.message, /alias/i);
      assert.ok(err.cause instanceof Error, 'the yaml error is chained');
      return true;
    },
  );
});

test('ordinary use of anchors and aliases still loads', () => {
  const text = 'response: &r\n  mode: enforce\nplugins:\n  replay: { enabled: false, config: { paths: &p [a, b] } }\n  other-replay: { enabled: false, config: { paths: *p } }\n';
  const loaded = parseConfig(text, join(tempDir(), 'vigil.yaml'));
  assert.deepEqual(loaded.config.plugins['other-replay']?.config, { paths: ['a', 'b'] });
  assert.equal(loaded.config.response.mode, 'enforce');
});

test('x-vigil-path: checked against the given resolver only, after defaults are applied', () => {
  const dir = tempDir();
  mkdirSync(join(dir, 'present'));
  const schema = {
    type: 'object',
    properties: { paths: { type: 'array', items: { type: 'string', 'x-vigil-path': 'existing' }, default: ['absent-default'] } },
  };
  const resolvePath = (p: string): string => join(dir, p);
  assert.deepEqual(validateWithSchema(schema, { paths: ['present'] }, { resolvePath }), []);
  assert.deepEqual(validateWithSchema(schema, { paths: ['present', 'gone'] }, { resolvePath }), [
    { path: '/paths/1', expected: 'an existing file or folder', found: `no such file or folder ${join(dir, 'gone')}` },
  ]);
  assert.deepEqual(validateWithSchema(schema, {}, { resolvePath }).map((f) => f.found), [`no such file or folder ${join(dir, 'absent-default')}`]);
  // Without a context (manifest and tool checks) the document alone is validated.
  assert.deepEqual(validateWithSchema(schema, { paths: ['gone'] }), []);
});

function writeConfig(dir: string, plugins: Record<string, unknown>): string {
  const file = join(dir, 'vigil.yaml');
  writeFileSync(
    file,
    stringify({
      agent: { data_dir: 'var' },
      plugins: { procfs: { enabled: false }, console: { enabled: false }, jsonl: { enabled: false }, 'alert-store': { enabled: false }, ...plugins },
    }),
  );
  return file;
}

test('the kernel refuses to load a missing rule or Sigma path, with file, line, JSON path and the resolved path', async () => {
  const dir = tempDir();
  mkdirSync(join(dir, 'rules'));
  const file = writeConfig(dir, {
    'rule-engine': { enabled: true, config: { rule_paths: ['rules', 'missing-rules'], sigma_paths: ['/nonexistent/sigma'] } },
    correlation: { enabled: true, config: { rule_paths: ['rules'] } },
  });
  const kernel = new Kernel(loadConfig(file), { logger: silentLogger() });
  try {
    await assert.rejects(kernel.load(), (err: unknown) => {
      assert.ok(isVigilError(err));
      assert.equal(err.code, 'VIGIL_ERR_CONFIG_INVALID');
      const findings = (err.details as { findings: Array<{ path: string; found: string; expected: string; line?: number }> }).findings;
      assert.deepEqual(
        findings.map((f) => [f.path, f.found, f.expected]),
        [
          ['/plugins/rule-engine/config/rule_paths/1', `no such file or folder ${join(dir, 'missing-rules')}`, 'an existing file or folder'],
          ['/plugins/rule-engine/config/sigma_paths/0', 'no such file or folder /nonexistent/sigma', 'an existing file or folder'],
        ],
      );
      assert.ok(findings.every((f) => typeof f.line === 'number' && f.line > 0), JSON.stringify(findings));
      assert.match(err.message, new RegExp(`vigil\\.yaml:\\d+ at /plugins/rule-engine/config/rule_paths/1`));
      return true;
    });
  } finally {
    await kernel.stop();
  }

  // Relative paths resolve against the config file's folder, as ctx.resolvePath does.
  const ok = new Kernel(loadConfig(writeConfig(dir, { 'rule-engine': { enabled: true, config: { rule_paths: ['rules'] } } })), { logger: silentLogger() });
  try {
    await ok.load();
    assert.deepEqual(ok.hosts.map((h) => h.id), ['rule-engine']);
  } finally {
    await ok.stop();
  }
});
