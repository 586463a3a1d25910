/**
 * What the `vigil` command does with hostile or broken input at its boundary: a config that
 * expands without bound, paths that name nothing, broken content. Real processes, real files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { projectRoot } from '../../core/paths.js';
import { Kernel } from '../../core/kernel/kernel.js';
import { silentLogger } from '../../core/telemetry/logger.js';
import { formatStatus } from '../../cli/format.js';
import { tempConfig, tempDir } from '../support/config.js';
import { builtinsOff } from '../support/cli.js';

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
        ...builtinsOff(),
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

/** A Sigma folder with two broken files, one valid rule for a log source Vigil has no sensor for, and one good rule. */
function sigmaFolder(dir: string): { folder: string; broken: string[] } {
  const folder = join(dir, 'sigma');
  mkdirSync(folder);
  const rule = (id: string, logsource: string, detection: string): string =>
    `title: Rule ${id}\nid: ${id}\nlevel: high\nlogsource:\n  ${logsource}\ndetection:\n  ${detection}\n`;
  writeFileSync(join(folder, 'broken-yaml.yml'), 'title: [unclosed\nid: x\n');
  writeFileSync(join(folder, 'bad-condition.yml'), rule('00000000-0000-0000-0000-000000000002', 'category: process_creation\n  product: windows', "sel:\n    Image|endswith: '\\\\x.exe'\n  condition: sel and ("));
  writeFileSync(join(folder, 'cloud.yml'), rule('00000000-0000-0000-0000-000000000003', 'product: aws\n  service: cloudtrail', 'sel:\n    eventName: x\n  condition: sel'));
  writeFileSync(join(folder, 'good.yml'), rule('00000000-0000-0000-0000-000000000004', 'category: process_creation\n  product: windows', "sel:\n    Image|endswith: '\\\\notepad.exe'\n  condition: sel"));
  return { folder, broken: [join(folder, 'bad-condition.yml'), join(folder, 'broken-yaml.yml')] };
}

test('vigil replay: broken Sigma files are load errors listed by file; an unsupported log source stays an intended skip', () => {
  const dir = tempDir();
  const { broken } = sigmaFolder(dir);
  mkdirSync(join(dir, 'rules'));
  const config = writeConfig(dir, { 'rule-engine': { enabled: true, config: { rule_paths: ['rules'], sigma_paths: ['sigma'] } } });
  const events = join(dir, 'events.jsonl');
  writeFileSync(events, JSON.stringify({ type: 'process.start', time: 1_700_000_000_000, proc: { pid: 4, image: 'C:\\Windows\\notepad.exe' } }) + '\n');
  const r = vigil(['replay', events, '--config', config, '--no-progress', '--json', '--log-level', 'info']);
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout) as { detections: number; errors: Record<string, number>; skipped: Record<string, number>; load_errors: Array<{ plugin: string; file: string; reason: string }> };
  assert.equal(summary.detections, 1, 'the good rule still loads and fires');
  assert.equal(summary.errors['rule-engine: load:sigma_invalid'], 2);
  assert.deepEqual(
    summary.load_errors.map((e) => [e.plugin, e.file, e.reason.split(':')[0]]).sort(),
    [
      ['rule-engine', broken[0], 'bad-condition'],
      ['rule-engine', broken[1], 'yaml-error'],
    ],
  );
  assert.ok(!summary.load_errors.some((e) => e.file.endsWith('cloud.yml')), 'the unsupported log source is not an error');
  assert.deepEqual(Object.keys(summary.skipped).filter((k) => k.startsWith('rule-engine')), [], 'an intended skip is not a loss');
  const logs = r.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { level: number | string; msg: string; file?: string; reason?: string; skipped?: number });
  const warned = logs.filter((l) => /Sigma rule not loaded/.test(l.msg));
  assert.deepEqual(warned.map((l) => l.file).sort(), broken);
  assert.ok(warned.every((l) => (l.level === 40 || l.level === 'warn') && typeof l.reason === 'string' && l.reason.length > 0), JSON.stringify(warned));
  assert.ok(logs.some((l) => /Sigma rules skipped/.test(l.msg) && l.skipped === 1), 'the intended skip is logged at info with its count');

  const text = vigil(['replay', events, '--config', config, '--no-progress']);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, new RegExp(`not loaded \\(broken content\\):\\n  rule-engine: ${quote(broken[0]!)}: bad-condition: .*\\n  rule-engine: ${quote(broken[1]!)}: yaml-error: `));
});

test('vigil status shows broken Sigma files by file', async () => {
  const dir = tempDir();
  const { folder, broken } = sigmaFolder(dir);
  mkdirSync(join(dir, 'rules'));
  const cfg = tempConfig({ plugins: { 'rule-engine': { enabled: true, config: { rule_paths: [join(dir, 'rules')], sigma_paths: [folder] } } } }, dir);
  const kernel = new Kernel(cfg, { logger: silentLogger() });
  try {
    await kernel.start();
    const status = kernel.status();
    const engine = status.plugins.find((p) => p.id === 'rule-engine');
    assert.equal(engine?.counters.errors['load:sigma_invalid'], 2);
    assert.deepEqual(engine?.counters.file_errors.map((f) => [f.stage, f.kind, f.file]).sort(), broken.map((f) => ['load', 'sigma_invalid', f]));
    assert.equal(engine?.counters.discarded['sigma_unsupported']?.intended, true);
    const text = formatStatus(status);
    for (const f of broken) assert.match(text, new RegExp(`^rule-engine: load error in ${quote(f)}: `, 'm'));
    assert.match(text, /^rule-engine: errors load:sigma_invalid = 2$/m);
  } finally {
    await kernel.stop();
  }
});

test('vigil replay: a 60 MB JSONL line is refused and counted in the summary; the lines around it replay', () => {
  const dir = tempDir();
  const config = writeConfig(dir, {});
  const events = join(dir, 'huge.jsonl');
  const good = (pid: number): string => JSON.stringify({ type: 'process.start', time: 1_700_000_000_000 + pid, proc: { pid, image: '/bin/true' } }) + '\n';
  // Written a MiB at a time: the test never holds the line either.
  const fd = openSync(events, 'w');
  try {
    writeSync(fd, good(1));
    writeSync(fd, '{"type":"process.start","time":1700000000005,"proc":{"pid":5,"cmdline":"');
    const block = Buffer.alloc(1 << 20, 'A');
    for (let i = 0; i < 60; i++) writeSync(fd, block);
    writeSync(fd, '"}}\n');
    writeSync(fd, good(2));
    writeSync(fd, good(3));
  } finally {
    closeSync(fd);
  }
  try {
    const r = vigil(['replay', events, '--config', config, '--no-progress', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const summary = JSON.parse(r.stdout) as { records: number; events: number; skipped: Record<string, number> };
    assert.equal(summary.events, 3);
    assert.equal(summary.records, 4);
    assert.deepEqual(summary.skipped, { 'replay: line_too_long': 1 });
    assert.match(r.stderr, /huge\.jsonl \(line 2\): line longer than max_line_bytes \(1048576\); skipped/);
  } finally {
    rmSync(events, { force: true });
  }

  // The limit is the replay sensor's config key.
  const small = join(dir, 'small.jsonl');
  writeFileSync(small, good(1) + JSON.stringify({ type: 'process.start', time: 1_700_000_000_009, proc: { pid: 9, cmdline: 'B'.repeat(3000) } }) + '\n' + good(2));
  const limited = writeConfig(dir, { replay: { enabled: false, config: { max_line_bytes: 2048 } } });
  const r2 = vigil(['replay', small, '--config', limited, '--no-progress', '--json']);
  assert.equal(r2.code, 0, r2.stderr);
  const s2 = JSON.parse(r2.stdout) as { events: number; skipped: Record<string, number> };
  assert.equal(s2.events, 2);
  assert.deepEqual(s2.skipped, { 'replay: line_too_long': 1 });
});
