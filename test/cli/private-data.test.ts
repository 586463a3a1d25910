/**
 * Data stays private, checked as an attacker would: a real `vigil run` started with a
 * permissive umask writes its alert store, JSONL outputs and status socket into folders
 * every local user may enter, and a second, unprivileged user created for the test tries
 * to read them and to query the agent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { stringify } from 'yaml';
import { projectRoot } from '../../core/paths.js';
import { builtinsOff, exited, waitFor } from '../support/cli.js';
import { tempDir } from '../support/config.js';
import { createSecondUser, secondUserUnavailable } from '../support/second-user.js';

const root = projectRoot();
const bin = join(root, 'bin', 'vigil.js');

const RULE = {
  id: 'test.encoded_powershell',
  title: 'Encoded PowerShell (test rule)',
  description: 'test',
  version: '1.0.0',
  severity: 'high',
  tags: ['attack.execution'],
  event: ['process.start'],
  match: { all: [{ field: 'proc.image', endswith_any: ['\\powershell.exe'] }, { field: 'proc.cmdline', contains_any: [' -enc '] }] },
};

const modeOf = (p: string): number => statSync(p).mode & 0o7777;


/** A folder laid out as an operator would: config, rules and input readable by everyone. */
function agentFolder(extra: { socketPath: string }): { dir: string; config: string; out: string } {
  const dir = tempDir();
  // mkdtemp makes 0700: opened up so that only the agent's own modes keep the other user out.
  chmodSync(dir, 0o755);
  const out = join(dir, 'out');
  mkdirSync(out, { mode: 0o755 });
  chmodSync(out, 0o755);
  mkdirSync(join(dir, 'rules'), { mode: 0o755 });
  writeFileSync(join(dir, 'rules', 'rule.json'), JSON.stringify(RULE), { mode: 0o644 });
  mkdirSync(join(dir, 'input'), { mode: 0o755 });
  const event = (i: number, cmdline: string) =>
    JSON.stringify({ type: 'process.start', time: 1_700_000_000_000 + i, proc: { pid: 100 + i, guid: `g${i}`, image: 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe', cmdline } });
  writeFileSync(join(dir, 'input', 'events.jsonl'), [event(1, 'powershell.exe -nop -enc SQBFAFgA'), event(2, 'powershell.exe -File x.ps1')].join('\n') + '\n', { mode: 0o644 });
  const config = join(dir, 'vigil.yaml');
  writeFileSync(
    config,
    stringify({
      agent: { data_dir: 'var', stop_timeout_seconds: 3 },
      status: { socket_path: extra.socketPath, metrics_file: 'out/metrics.json', metrics_interval_seconds: 0.2 },
      plugins: {
        ...builtinsOff(),
        replay: { enabled: true, config: { paths: ['input'] } },
        'rule-engine': { enabled: true, config: { rule_paths: ['rules'] } },
        jsonl: { enabled: true, config: { path: 'out/detections.jsonl' } },
        'alert-store': { enabled: true, config: { path: 'out/alerts.db' } },
      },
    }),
    { mode: 0o644 },
  );
  return { dir, config, out };
}

/** `vigil run` as an operator starts it from a shell whose umask lets everyone read new files. */
function startAgent(dir: string, config: string, args: string[]): { child: ChildProcess; logs: () => string } {
  const script = `umask 022; exec "$0" "$@"`;
  const child = spawn('sh', ['-c', script, process.execPath, bin, 'run', '--config', config, ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let logs = '';
  child.stderr!.on('data', (d: Buffer) => (logs += d.toString()));
  child.stdout!.resume();
  return { child, logs: () => logs };
}

async function stopAgent(child: ChildProcess): Promise<number | null> {
  child.kill('SIGTERM');
  const guard = setTimeout(() => child.kill('SIGKILL'), 15_000);
  const code = await exited(child);
  clearTimeout(guard);
  return code;
}

/** What another user gets for each path: 'read' / 'connected', or the error code. */
const PROBE = `
import { readFileSync, readdirSync } from 'node:fs';
import { createConnection } from 'node:net';
const out = {};
for (const p of process.argv.slice(2)) {
  if (p.endsWith('/')) {
    try { readdirSync(p); out[p] = 'read'; } catch (e) { out[p] = e.code; }
  } else if (p.endsWith('.sock')) {
    out[p] = await new Promise((r) => {
      const s = createConnection(p);
      s.on('connect', () => { s.destroy(); r('connected'); });
      s.on('error', (e) => r(e.code));
    });
  } else {
    try { readFileSync(p); out[p] = 'read'; } catch (e) { out[p] = e.code; }
  }
}
process.stdout.write(JSON.stringify(out));
`;

/** Tightening a file the agent's user does not own fails with the data code, not silently. */
const TIGHTEN = `
import { tightenPrivate } from ${JSON.stringify(pathToFileURL(join(root, 'dist', 'core', 'private-files.js')).href)};
try {
  tightenPrivate(process.argv[2], { warn() {} });
  process.stdout.write('tightened');
} catch (e) {
  process.stdout.write(String(e.code) + ' ' + e.message);
}
`;

test('as another local user: the alert store, its WAL and SHM, the JSONL outputs and the status socket of a running agent are out of reach', async (t) => {
  if (process.platform !== 'linux') return t.skip('file modes and a second user are checked on Linux');
  const unavailable = secondUserUnavailable();
  if (unavailable !== undefined) return t.skip(`${unavailable} (to check data privacy against a real second user)`);
  const { run: asUser } = createSecondUser(t);

  const { dir, config, out } = agentFolder({ socketPath: 'out/vigil.sock' });
  const probe = join(dir, 'probe.mjs');
  writeFileSync(probe, PROBE, { mode: 0o644 });
  const tighten = join(dir, 'tighten.mjs');
  writeFileSync(tighten, TIGHTEN, { mode: 0o644 });
  // Left readable by everyone, as an older version wrote them: the agent must close them.
  const varDir = join(dir, 'var');
  mkdirSync(varDir);
  chmodSync(varDir, 0o755);
  const jsonl = join(out, 'detections.jsonl');
  writeFileSync(jsonl, '{"id":"from-an-older-run"}\n');
  chmodSync(jsonl, 0o644);
  const tap = join(out, 'tap.jsonl');
  writeFileSync(tap, '');
  chmodSync(tap, 0o644);
  const events = join(out, 'events.jsonl');
  const db = join(out, 'alerts.db');
  const socket = join(out, 'vigil.sock');
  const metrics = join(out, 'metrics.json');

  // The probe itself works for this user: what it cannot read below is the agent's doing.
  const control = asUser([process.execPath, probe, config, join(dir, 'input', 'events.jsonl'), varDir + '/']);
  assert.equal(control.status, 0, control.stderr);
  assert.deepEqual(Object.values(JSON.parse(control.stdout) as Record<string, string>), ['read', 'read', 'read']);

  const agent = startAgent(dir, config, ['--out', tap, '--events-out', events]);
  let code: number | null = null;
  try {
    await waitFor('the detection in the alert store and the tap', () =>
      existsSync(`${db}-wal`) && existsSync(metrics) && readFileSync(tap, 'utf8').includes('test.encoded_powershell') && existsSync(socket) ? true : undefined,
    );
    const status = spawnSync(process.execPath, [bin, 'status', '--json', '--socket', socket], { encoding: 'utf8' });
    assert.equal(status.status, 0, `the agent's own user queries status: ${status.stderr}`);
    assert.equal((JSON.parse(status.stdout) as { detections: { total: number } }).detections.total, 1);

    const files = [db, `${db}-wal`, `${db}-shm`, jsonl, tap, events, metrics];
    for (const f of files) assert.equal(modeOf(f), 0o600, `${f} is 0600`);
    assert.equal(modeOf(socket), 0o600, 'the socket is 0600');
    assert.equal(modeOf(varDir), 0o700, 'the data dir made 0755 by an older run is tightened');
    assert.equal(modeOf(out), 0o755, 'a folder the operator made shared stays as it is');
    const logs = agent.logs();
    for (const p of [varDir, jsonl, tap]) {
      assert.ok(logs.includes(`"path":${JSON.stringify(p)},"from":"0755"`) || logs.includes(`"path":${JSON.stringify(p)},"from":"0644"`), `tightening ${p} is logged`);
    }
    assert.match(logs, /"umask":"0077","previous":"0022".*umask set/);

    const targets = [...files, socket, varDir + '/'];
    const denied = asUser([process.execPath, probe, ...targets]);
    assert.equal(denied.status, 0, denied.stderr);
    const got = JSON.parse(denied.stdout) as Record<string, string>;
    assert.deepEqual(got, Object.fromEntries(targets.map((p) => [p, 'EACCES'])));
    const cat = asUser(['cat', db]);
    assert.notEqual(cat.status, 0);
    assert.match(cat.stderr, /Permission denied/);

    // The other user cannot even tighten (or loosen) what the agent owns: the helper says why.
    const otherTry = asUser([process.execPath, tighten, config]);
    assert.match(otherTry.stdout, /^VIGIL_ERR_DATA_NOT_PRIVATE .*could not be made 0600/);
    assert.equal(modeOf(config), 0o644);
  } finally {
    code = await stopAgent(agent.child);
  }
  assert.equal(code, 0, agent.logs().slice(-2000));
  assert.equal(existsSync(socket), false, 'the socket is removed at stop');
  const after = asUser([process.execPath, probe, db, jsonl]);
  assert.deepEqual(Object.values(JSON.parse(after.stdout) as Record<string, string>), ['EACCES', 'EACCES'], 'still private once the agent has stopped');
});

test('vigil run refuses a status socket path that names a regular file, and leaves the file as it was', async (t) => {
  if (process.platform === 'win32') return t.skip('the status endpoint is a named pipe on Windows');
  const { dir, config } = agentFolder({ socketPath: 'precious.txt' });
  const precious = join(dir, 'precious.txt');
  writeFileSync(precious, 'an operator file\n');
  const agent = startAgent(dir, config, []);
  const guard = setTimeout(() => agent.child.kill('SIGKILL'), 20_000);
  const code = await exited(agent.child);
  clearTimeout(guard);
  assert.equal(code, 1, agent.logs());
  assert.match(agent.logs(), /VIGIL_ERR_STATUS_SOCKET_PATH: status\.socket_path .*precious\.txt is a regular file, not a socket; it was left as it is/);
  assert.equal(readFileSync(precious, 'utf8'), 'an operator file\n');
});
