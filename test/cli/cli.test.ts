/**
 * The `vigil` command as an operator uses it: real processes, real files, a real SQLite
 * store. Requires the build (npm test builds first).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { projectRoot } from '../../core/paths.js';
import { tempDir } from '../support/config.js';
import { builtinsOff, exited, waitFor } from '../support/cli.js';

const root = projectRoot();
const bin = join(root, 'bin', 'vigil.js');

function vigil(args: string[], opts: { cwd?: string } = {}) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: opts.cwd ?? root, encoding: 'utf8', env: { ...process.env, VIGIL_CONFIG: '' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A config in a temp folder: nothing live except what the test enables, outputs in the folder. */
function writeConfig(dir: string, plugins: Record<string, unknown>, extra: Record<string, unknown> = {}): string {
  const file = join(dir, 'vigil.yaml');
  writeFileSync(
    file,
    stringify({
      agent: { data_dir: 'var', stop_timeout_seconds: 3 },
      health: { check_interval_seconds: 0.2 },
      ...extra,
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

const TEST_RULE = {
  id: 'test.encoded_powershell',
  title: 'Encoded PowerShell (test rule)',
  description: 'test',
  version: '1.0.0',
  severity: 'high',
  tags: ['attack.execution', 'attack.t1059.001'],
  event: ['process.start'],
  match: { all: [{ field: 'proc.image', endswith_any: ['\\powershell.exe'] }, { field: 'proc.cmdline', contains_any: [' -enc '] }] },
  references: ['https://attack.mitre.org/techniques/T1059/001/'],
};

function eventLine(i: number, image: string, cmdline: string): string {
  return JSON.stringify({ type: 'process.start', time: 1_700_000_000_000 + i, proc: { pid: 100 + i, guid: `g${i}`, image, cmdline } });
}

test('vigil config check: the default config is valid (exit 0); a misspelled key exits 2 with file, path and allowed keys', () => {
  const ok = vigil(['config', 'check', join(root, 'config', 'default.yaml')]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /default\.yaml: ok/);

  const dir = tempDir();
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'agent:\n  data_dri: x\n');
  const r = vigil(['config', 'check', bad]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /VIGIL_ERR_CONFIG_INVALID/);
  assert.match(r.stderr, new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:2 at /agent/data_dri`));
  assert.match(r.stderr, /expected one of the keys: .*data_dir/);

  writeFileSync(bad, 'plugins:\n  console:\n    config:\n      colour: always\n');
  const r2 = vigil(['config', 'check', bad]);
  assert.equal(r2.code, 2);
  assert.match(r2.stderr, /at \/plugins\/console\/config\/colour: expected one of the keys: color, min_severity, stream/);
});

test('vigil --help and a wrong option: exit 0 and 2', () => {
  const h = vigil(['--help']);
  assert.equal(h.code, 0);
  for (const c of ['run', 'replay', 'plugins', 'config', 'status', 'alerts', 'rules']) assert.match(h.stdout, new RegExp(`\\b${c}\\b`));
  assert.equal(vigil(['run', '--no-such-option']).code, 2);
});

test('vigil plugins list --json lists the built-in plugins with their kinds', () => {
  const r = vigil(['plugins', 'list', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const rows = JSON.parse(r.stdout) as Array<{ id: string; kind: string }>;
  const byId = new Map(rows.map((x) => [x.id, x.kind]));
  assert.equal(byId.get('replay'), 'sensor');
  assert.equal(byId.get('rule-engine'), 'analyzer');
  assert.equal(byId.get('alert-store'), 'responder');
});

test('vigil replay of Vigil JSONL through a test rule writes the detection to JSONL and SQLite; vigil alerts --json returns it', () => {
  const dir = tempDir();
  mkdirSync(join(dir, 'rules'));
  writeFileSync(join(dir, 'rules', 'test-rule.json'), JSON.stringify(TEST_RULE));
  const events = join(dir, 'events.jsonl');
  writeFileSync(
    events,
    [
      eventLine(1, 'C:\\Windows\\System32\\notepad.exe', 'notepad.exe a.txt'),
      '{ this line is not JSON',
      eventLine(2, 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe', 'powershell.exe -nop -enc SQBFAFgA'),
      eventLine(3, 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe', 'powershell.exe -File x.ps1'),
    ].join('\n') + '\n',
  );
  const config = writeConfig(dir, { 'rule-engine': { enabled: true, config: { rule_paths: ['rules'] } } });
  const out = join(dir, 'cli-detections.jsonl');
  const r = vigil(['replay', events, '--config', config, '--out', out, '--no-progress', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout) as { records: number; events: number; detections: number; events_by_type: Record<string, number>; skipped: Record<string, number> };
  assert.equal(summary.events, 3);
  assert.equal(summary.events_by_type['process.start'], 3);
  assert.equal(summary.detections, 1);
  assert.ok(Object.keys(summary.skipped).some((k) => k.startsWith('replay:')), 'the malformed line is counted as skipped');

  const cliOut = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { rule: { id: string } });
  assert.deepEqual(cliOut.map((d) => d.rule.id), ['test.encoded_powershell']);
  const pluginOut = readFileSync(join(dir, 'out', 'detections.jsonl'), 'utf8').trim().split('\n');
  assert.equal(pluginOut.length, 1);

  const a = vigil(['alerts', '--json', '--config', config]);
  assert.equal(a.code, 0, a.stderr);
  const alerts = JSON.parse(a.stdout) as Array<{ rule_id: string; severity: string; evidence: Array<{ proc?: { cmdline?: string } }> }>;
  assert.equal(alerts.length, 1);
  assert.equal(alerts[0]!.rule_id, 'test.encoded_powershell');
  assert.equal(alerts[0]!.severity, 'high');
  assert.match(alerts[0]!.evidence[0]!.proc?.cmdline ?? '', /-enc/);
  const filtered = vigil(['alerts', '--json', '--config', config, '--severity', 'critical']);
  assert.deepEqual(JSON.parse(filtered.stdout), []);
});

test('the example third-party plugin loads from its folder and raises its detection in a replay', () => {
  const dir = tempDir();
  const events = join(dir, 'events.jsonl');
  writeFileSync(events, [eventLine(1, '/usr/bin/bash', 'bash -c ' + 'A'.repeat(300)), eventLine(2, '/usr/bin/ls', 'ls -l')].join('\n'));
  const config = writeConfig(dir, {
    'long-cmdline': { path: join(root, 'test', 'example-plugin'), config: { max_cmdline_chars: 100, severity: 'medium' } },
  });
  const out = join(dir, 'd.jsonl');
  const r = vigil(['replay', events, '--config', config, '--out', out, '--no-progress', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const dets = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { rule: { id: string }; severity: string; analyzer: string });
  assert.deepEqual(dets.map((d) => [d.rule.id, d.severity, d.analyzer]), [['example.long_cmdline', 'medium', 'long-cmdline']]);

  // The command its manifest declares is there when it is enabled in the config.
  const c = vigil(['long-cmdline', 'check', 'x'.repeat(150), '--config', config]);
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.stdout, /^flagged: 150 characters, threshold 100$/m);
});

test('vigil run: starts the live agent, answers vigil status, isolates a plugin that throws on every event, stops on SIGTERM', async (t) => {
  if (process.platform !== 'linux') return t.skip('the live procfs sensor runs on Linux only');
  const dir = tempDir();
  const thrower = join(dir, 'thrower');
  mkdirSync(thrower);
  writeFileSync(
    join(thrower, 'index.js'),
    `export const plugin = {
  manifest: { id: 'thrower', kind: 'analyzer', apiVersion: '2.0.0', version: '1.0.0', description: 'fails on every event',
    platforms: ['any'], produces: [], consumes: ['process.start'], configSchema: { type: 'object' } },
  create() { return { async start() {}, async stop() {}, onEvents() { throw new Error('thrower: broken on purpose'); } }; },
};\n`,
  );
  const config = writeConfig(
    dir,
    {
      procfs: { enabled: true, config: { poll_interval_ms: 50 } },
      'rule-engine': { enabled: true, config: { rule_paths: [join(root, 'rules')] } },
      console: { enabled: true },
      thrower: { path: thrower },
    },
    { agent: { data_dir: 'var', stop_timeout_seconds: 3, max_errors_before_restart: 2, max_restarts: 1, restart_backoff_ms: 20, batch_events: 1 } },
  );
  const child = spawn(process.execPath, [bin, 'run', '--config', config], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let logs = '';
  child.stderr!.on('data', (d: Buffer) => (logs += d.toString()));
  child.stdout!.resume();
  try {
    await waitFor('the agent to start', () => (logs.includes('vigil agent running') ? true : undefined));
    assert.match(logs, /"plugin":"procfs".*"plugin started"/);
    assert.match(logs, /"skipped":\[.*"replay: not enabled in config"/);
    // New processes give the sensor something to report.
    for (let i = 0; i < 5; i++) spawnSync('/bin/sh', ['-c', 'sleep 0.2']);
    const status = await waitFor('the thrower to be detached', () => {
      const s = vigil(['status', '--json', '--config', config], { cwd: dir });
      if (s.code !== 0) return undefined;
      const st = JSON.parse(s.stdout) as { plugins: Array<{ id: string; state: string; restarts: number; counters: { received: number; errors: Record<string, number> } }> };
      return st.plugins.find((p) => p.id === 'thrower')?.state === 'detached' ? st : undefined;
    });
    const thr = status.plugins.find((p) => p.id === 'thrower')!;
    assert.equal(thr.restarts, 1);
    assert.ok(Object.values(thr.counters.errors).reduce((a, b) => a + b, 0) >= 2);
    const procfs = status.plugins.find((p) => p.id === 'procfs')!;
    assert.equal(procfs.state, 'running', 'the sensor keeps running');
    const engine = status.plugins.find((p) => p.id === 'rule-engine')!;
    assert.equal(engine.state, 'running', 'the other analyzer keeps running');
    assert.ok(engine.counters.received > 0);
    const human = vigil(['status', '--config', config], { cwd: dir });
    assert.match(human.stdout, /thrower\s+analyzer\s+detached/);
  } finally {
    child.kill('SIGTERM');
  }
  const guard = setTimeout(() => child.kill('SIGKILL'), 15_000);
  const code = await exited(child);
  clearTimeout(guard);
  assert.equal(code, 0, logs.slice(-2000));
  assert.match(logs, /"msg":"stopped"/);
  const after = vigil(['status', '--config', config], { cwd: dir });
  assert.equal(after.code, 1, 'no agent answers after the stop');
  assert.match(after.stderr, /VIGIL_ERR_STATUS_UNAVAILABLE/);
});
