/**
 * `vigil scan` as an operator runs it: the CLI in a child process, on the memory scanner's
 * anon-exec program and on files, with a YARA rule given on the command line.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { projectRoot } from '../../../../testing/index.js';
import { buildFixture, fixturesUnavailable } from '../linux/test/fixtures.js';

const bin = join(projectRoot(), 'bin', 'vigil.js');
const MARKER = `VIGIL-SCAN-CLI-${randomUUID().slice(0, 8)}`;
const dir = mkdtempSync(join(tmpdir(), 'vigil-scan-cli-'));
const rules = join(dir, 'marker.yar');
writeFileSync(rules, `rule Vigil_Cli_Marker\n{\n  strings:\n    $m = "${MARKER}"\n  condition:\n    $m\n}\n`);

const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

function vigil(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, VIGIL_CONFIG: '' }, timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('vigil scan --pid on a process with an anonymous executable region names the region and the rule given with --yara; exit 3', { skip: fixturesUnavailable() ?? false }, async () => {
  const exe = await buildFixture('anon-exec');
  assert.ok(exe);
  const child = spawn(exe, [MARKER], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(child);
  let out = '';
  const [rx, rwx] = await new Promise<[string, string]>((resolve) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /ADDR (0x[0-9a-f]+)\nRWX (0x[0-9a-f]+)\n/.exec(out);
      if (m?.[1] && m[2]) resolve([m[1], m[2]]);
    });
  });
  const human = vigil('scan', '--pid', String(child.pid), '--yara', rules);
  assert.equal(human.code, 3, human.stderr + human.stdout);
  assert.match(human.stdout, new RegExp(`^pid ${child.pid} \\(anon-exec\\): (suspicious|malicious)`, 'm'));
  assert.match(human.stdout, new RegExp(`^  ${rx}-0x[0-9a-f]+  r-xp  anon_exec  .*YARA: Vigil_Cli_Marker$`, 'm'));
  assert.match(human.stdout, new RegExp(`^  ${rwx}-0x[0-9a-f]+  rwxp  .*YARA: Vigil_Cli_Marker$`, 'm'));
  assert.match(human.stdout, new RegExp(`marker:Vigil_Cli_Marker in region ${rx} at 0x${(BigInt(rx) + 64n).toString(16)}`));

  const json = vigil('scan', '--pid', String(child.pid), '--yara', rules, '--json', '--engine', 'libyara-wasm');
  assert.equal(json.code, 3, json.stderr);
  const scan = JSON.parse(json.stdout) as { verdict: string; engine: string; rules: string[]; regions: { start: string; kind: string }[] };
  assert.equal(scan.engine, 'libyara-wasm');
  assert.deepEqual(scan.rules, ['Vigil_Cli_Marker']);
  assert.ok(scan.regions.some((r) => r.start === rx && r.kind === 'anon_exec'));
  child.stdin!.end();
});

test('vigil scan --file: a clean file exits 0, a file with the marker exits 3; usage and missing targets are errors', () => {
  const clean = join(dir, 'clean.txt');
  writeFileSync(clean, 'nothing to see\n');
  const dirty = join(dir, 'dirty.bin');
  writeFileSync(dirty, `padding ${MARKER} more`);
  const c = vigil('scan', '--file', clean, '--yara', rules);
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.stdout, /: clean \(yara-file/);
  const d = vigil('scan', '--file', dirty, '--yara', rules, '--json');
  assert.equal(d.code, 3, d.stderr);
  const scan = JSON.parse(d.stdout) as { matches: { strings: { offset: number }[] }[] };
  assert.equal(scan.matches[0]?.strings[0]?.offset, 8);
  assert.equal(vigil('scan').code, 2, 'neither --pid nor --file');
  assert.equal(vigil('scan', '--pid', '1', '--file', clean).code, 2, 'both');
  assert.equal(vigil('scan', '--pid', 'abc').code, 2);
  const gone = vigil('scan', '--pid', String(2 ** 22 + 17), '--yara', rules);
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /VIGIL_ERR_SCANNER_TARGET/);
  const missing = vigil('scan', '--file', join(dir, 'nope'), '--yara', rules);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /VIGIL_ERR_SCANNER_TARGET/);
});
