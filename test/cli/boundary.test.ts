/**
 * What the `vigil` command does with hostile or broken input at its boundary: a config that
 * expands without bound, paths that name nothing, broken content. Real processes, real files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { projectRoot } from '../../core/paths.js';
import { tempDir } from '../support/config.js';

const root = projectRoot();
const bin = join(root, 'bin', 'vigil.js');

function vigil(args: string[], opts: { cwd?: string } = {}) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: opts.cwd ?? root, encoding: 'utf8', env: { ...process.env, VIGIL_CONFIG: '' }, timeout: 120_000 });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** A config in a temp folder with only what the test enables. */
function writeConfig(dir: string, plugins: Record<string, unknown>): string {
  const file = join(dir, 'vigil.yaml');
  writeFileSync(
    file,
    stringify({
      agent: { data_dir: 'var', stop_timeout_seconds: 3 },
      plugins: {
        procfs: { enabled: false },
        console: { enabled: false },
        correlation: { enabled: false },
        'rule-engine': { enabled: false },
        jsonl: { enabled: false },
        'alert-store': { enabled: false },
        ...plugins,
      },
    }),
  );
  return file;
}

const quote = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

test('vigil config check: a YAML alias bomb exits 2 with VIGIL_ERR_CONFIG_PARSE and the file', () => {
  const dir = tempDir();
  const file = join(dir, 'bomb.yaml');
  const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (const [prev, name] of ['ab', 'bc', 'cd', 'de', 'ef', 'fg', 'gh', 'hi'].map((p) => [...p] as [string, string])) {
    lines.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(',')}]`);
  }
  writeFileSync(file, lines.join('\n') + '\n');
  const r = vigil(['config', 'check', file]);
  assert.equal(r.signal, null);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, new RegExp(`^vigil: VIGIL_ERR_CONFIG_PARSE: ${quote(file)}: .*alias`, 'm'));
});

test('vigil config check and the start refuse a rule or Sigma path that does not exist (exit 2, path named)', () => {
  const dir = tempDir();
  mkdirSync(join(dir, 'rules'));
  const config = writeConfig(dir, {
    'rule-engine': { enabled: true, config: { rule_paths: ['rules', 'no-such-rules'] } },
    correlation: { enabled: true, config: { rule_paths: ['rules'], sigma_paths: ['no-such-sigma'] } },
  });
  const r = vigil(['config', 'check', config]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /VIGIL_ERR_CONFIG_INVALID/);
  assert.match(
    r.stderr,
    new RegExp(`${quote(config)}:\\d+ at /plugins/rule-engine/config/rule_paths/1: expected an existing file or folder; found no such file or folder ${quote(join(dir, 'no-such-rules'))}`),
  );
  assert.match(r.stderr, new RegExp(`at /plugins/correlation/config/sigma_paths/0: .*${quote(join(dir, 'no-such-sigma'))}`));
  assert.doesNotMatch(r.stderr, /rule_paths\/0/, 'the existing path is accepted');

  const events = join(dir, 'events.jsonl');
  writeFileSync(events, JSON.stringify({ type: 'process.start', time: 1_700_000_000_000, proc: { pid: 1, image: '/bin/x' } }) + '\n');
  const replay = vigil(['replay', events, '--config', config, '--no-progress', '--json']);
  assert.equal(replay.code, 2, replay.stderr);
  assert.match(replay.stderr, /VIGIL_ERR_CONFIG_INVALID/);
  assert.match(replay.stderr, /rule_paths\/1: expected an existing file or folder/);
  assert.equal(replay.stdout, '', 'nothing ran');

  const run = vigil(['run', '--config', config], { cwd: dir });
  assert.equal(run.signal, null, 'the agent did not start with a missing rule path');
  assert.equal(run.code, 2, run.stderr);
  assert.match(run.stderr, /rule_paths\/1: expected an existing file or folder/);
});
