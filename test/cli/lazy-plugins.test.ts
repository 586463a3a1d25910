/**
 * Commands import a plugin only when they need it: with a config naming a third-party
 * plugin whose module throws on import, `vigil --help`, `vigil status` and `vigil alerts`
 * work and never import it; `vigil config check` imports it and names it. The loaded
 * modules are traced, so the built-in plugins each command imports are checked too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { projectRoot } from '../../core/paths.js';
import { tempDir } from '../support/config.js';
import { builtinPluginFilesLoaded, vigilTraced } from './run-vigil.js';
import { builtinsOff } from '../support/cli.js';

const root = projectRoot();
const BUILTINS = ['alert-store', 'console', 'correlation', 'driver-enforce', 'driver', 'ebpf', 'etw', 'jsonl', 'proc-connector', 'process-actions', 'procfs', 'replay', 'rule-engine', 'scanner', 'sysmon'];

/** A plugin folder whose module leaves a marker file behind and throws when it is imported. */
function throwingPlugin(dir: string): { folder: string; marker: string } {
  const folder = join(dir, 'plugins', 'broken-on-import');
  mkdirSync(folder, { recursive: true });
  const marker = join(dir, 'imported.marker');
  writeFileSync(
    join(folder, 'index.js'),
    `import { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(marker)}, 'imported');\nthrow new Error('broken-on-import: this module must not be imported');\n`,
  );
  return { folder, marker };
}

function config(dir: string, name: string, plugins: Record<string, unknown>): string {
  const file = join(dir, name);
  writeFileSync(
    file,
    stringify({
      agent: { data_dir: 'var', stop_timeout_seconds: 3 },
      plugins: {
        ...builtinsOff(),
        jsonl: { enabled: true, config: { path: 'out/detections.jsonl' } },
        'alert-store': { enabled: true, config: { path: 'out/alerts.db' } },
        ...plugins,
      },
    }),
  );
  return file;
}

const manifests = (files: readonly string[]): string[] => files.filter((f) => f.endsWith('/manifest.js')).map((f) => f.split('/')[0]!);
const indexes = (files: readonly string[]): string[] => files.filter((f) => f.endsWith('/index.js')).map((f) => f.split('/')[0]!);

test('vigil --help and vigil status with a config naming a plugin that throws on import: they work and never import it', () => {
  const dir = tempDir();
  const { folder, marker } = throwingPlugin(dir);
  const cfg = config(dir, 'vigil.yaml', { 'broken-on-import': { path: folder } });

  const help = vigilTraced(['--help'], { cwd: dir });
  assert.equal(help.code, 0, help.stderr);
  for (const c of ['run', 'replay', 'plugins', 'config', 'status', 'rules', 'alerts']) assert.match(help.stdout, new RegExp(`^  ${c}\\b`, 'm'));
  assert.equal(help.stderr, '', 'no import error, no warning');
  assert.equal(existsSync(marker), false, 'the third-party module was not imported');
  const helpFiles = builtinPluginFilesLoaded(help);
  assert.deepEqual(manifests(helpFiles), BUILTINS, 'help reads every built-in manifest');
  assert.deepEqual(indexes(helpFiles), [], 'and imports no built-in plugin');

  // The same config given explicitly: status reads only the socket path from it.
  const status = vigilTraced(['status', '--config', cfg], { cwd: dir });
  assert.equal(status.code, 1);
  assert.match(status.stderr, /^vigil: VIGIL_ERR_STATUS_UNAVAILABLE: /);
  assert.doesNotMatch(status.stderr, /broken-on-import|warning/);
  assert.equal(existsSync(marker), false);
  assert.deepEqual(builtinPluginFilesLoaded(status), [], 'status imports no plugin file at all');

  const json = vigilTraced(['status', '--json', '--config', cfg], { cwd: dir });
  assert.equal(json.code, 1);
  assert.match(json.stderr, /VIGIL_ERR_STATUS_UNAVAILABLE/);
  assert.equal(existsSync(marker), false);
});

test('vigil alerts with the same config reads the store, importing alert-store alone; vigil config check names the plugin that fails to import (exit 2)', () => {
  const dir = tempDir();
  const { folder, marker } = throwingPlugin(dir);
  mkdirSync(join(dir, 'rules'));
  writeFileSync(
    join(dir, 'rules', 'r.json'),
    JSON.stringify({
      id: 'test.any_start',
      title: 'Any process start (test rule)',
      version: '1.0.0',
      severity: 'medium',
      event: ['process.start'],
      match: { all: [{ field: 'proc.image', endswith_any: ['/sh'] }] },
    }),
  );
  const events = join(dir, 'events.jsonl');
  writeFileSync(events, `${JSON.stringify({ type: 'process.start', time: 1_700_000_000_000, proc: { pid: 7, image: '/bin/sh', cmdline: 'sh -c true' } })}\n`);
  const clean = config(dir, 'clean.yaml', { 'rule-engine': { enabled: true, config: { rule_paths: ['rules'] } } });
  const replay = vigilTraced(['replay', events, '--config', clean, '--no-progress', '--json'], { cwd: dir });
  assert.equal(replay.code, 0, replay.stderr);

  const cfg = config(dir, 'vigil.yaml', { 'broken-on-import': { path: folder } });
  const alerts = vigilTraced(['alerts', '--json', '--config', cfg], { cwd: dir });
  assert.equal(alerts.code, 0, alerts.stderr);
  assert.deepEqual((JSON.parse(alerts.stdout) as Array<{ rule_id: string }>).map((a) => a.rule_id), ['test.any_start']);
  assert.equal(alerts.stderr, '');
  assert.equal(existsSync(marker), false, 'alerts does not import the third-party plugin');
  assert.deepEqual(indexes(builtinPluginFilesLoaded(alerts)), ['alert-store'], 'alerts imports the alert store and no other plugin');

  const check = vigilTraced(['config', 'check', cfg], { cwd: dir });
  assert.equal(check.code, 2, check.stderr);
  assert.match(check.stderr, /^vigil: VIGIL_ERR_PLUGIN_LOAD: plugin broken-on-import \(path .*broken-on-import\): cannot import plugin module/);
  assert.match(check.stderr, /this module must not be imported/);
  assert.equal(existsSync(marker), true, 'config check is the command that imports it');
  const checked = builtinPluginFilesLoaded(check);
  assert.deepEqual(indexes(checked), [], 'config check imports no built-in plugin module');
});

test('vigil config check reads the manifests of the enabled built-ins only, validates their blocks, and counts as the agent does', () => {
  const dir = tempDir();
  const cfg = config(dir, 'vigil.yaml', { 'long-cmdline': { path: join(root, 'test', 'example-plugin'), config: { max_cmdline_chars: 100 } } });
  const ok = vigilTraced(['config', 'check', cfg], { cwd: dir });
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /vigil\.yaml: ok \(3 plugins enabled, 13 skipped\)$/m);
  const files = builtinPluginFilesLoaded(ok);
  assert.deepEqual(manifests(files), ['alert-store', 'jsonl'], 'the disabled built-ins are not read');
  assert.deepEqual(indexes(files), []);

  // The agent's own load (vigil plugins list) agrees on what is enabled and skipped.
  const list = vigilTraced(['plugins', 'list', '--json', '--config', cfg], { cwd: dir });
  assert.equal(list.code, 0, list.stderr);
  const rows = JSON.parse(list.stdout) as Array<{ id: string; enabled: boolean }>;
  assert.equal(rows.filter((r) => r.enabled).length, 3);
  assert.equal(rows.filter((r) => !r.enabled).length, 13);

  // A wrong block of an enabled plugin, built-in or third-party, is refused with its path.
  const bad = config(dir, 'bad.yaml', {
    jsonl: { enabled: true, config: { path: 'out/d.jsonl', max_files: 'five' } },
    'long-cmdline': { path: join(root, 'test', 'example-plugin'), config: { max_cmdline_chars: 3 } },
    procfs: { enabled: false, config: { no_such_key: 1 } },
  });
  const refused = vigilTraced(['config', 'check', bad], { cwd: dir });
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /VIGIL_ERR_CONFIG_INVALID/);
  assert.match(refused.stderr, /bad\.yaml:\d+ at \/plugins\/jsonl\/config\/max_files: /);
  assert.match(refused.stderr, /bad\.yaml:\d+ at \/plugins\/long-cmdline\/config\/max_cmdline_chars: /);
  assert.doesNotMatch(refused.stderr, /procfs/, 'a disabled plugin block is not checked, as at boot');
});
