import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ScanInfo } from '../../../../../core/index.js';
import { projectRoot } from '../../../../../testing/index.js';
import { PeSieveError } from '../errors.js';
import { hollowsHunterResult, peSieveResult } from '../report.js';
import { checkExtraArgs, perScanReportDir, runHollowsHunter, runPeSieve, scanArgs, type WindowsScanOptions } from '../runner.js';

const SOURCE = join(projectRoot(), 'plugins', 'responders', 'scanner', 'windows', 'test', 'fixtures');
const work = mkdtempSync(join(tmpdir(), 'vigil-pesieve-'));
after(() => rmSync(work, { recursive: true, force: true }));

// The stand-in and its fixtures, copied so that it can be made executable (the shebang runs node).
const fixtures = join(work, 'fixtures');
cpSync(SOURCE, fixtures, { recursive: true });
const fake = join(fixtures, 'fake-tool.mjs');
chmodSync(fake, 0o755);
const index = (JSON.parse(readFileSync(join(fixtures, 'index.json'), 'utf8')) as { fixtures: Record<string, { tool: string; stdout: string | null; stderr?: string; exit: number; args?: string[] }> }).fixtures;

/** The stand-in is started through its #! line and its children are checked through /proc. */
const standIn = { skip: process.platform === 'linux' ? false : 'the stand-in runs through its #! line and is checked through /proc (Linux)' };

const PID = 4242;
let n = 0;
/** A fresh log file and report folder, and the env the stand-in reads. */
function scanSetup(env: Record<string, string>) {
  const id = ++n;
  const log = join(work, `log-${id}.jsonl`);
  const reportDir = join(work, 'scans', `${PID}-${id}`);
  Object.assign(process.env, { FAKE_TOOL_LOG: log, FAKE_TOOL_MODE: 'fixture', FAKE_TOOL_FIXTURE: '' }, env);
  // Complete lines only: the stand-in may be writing one while the test reads.
  const starts = (): Array<{ argv: string[]; pid: number; children?: number[]; fixture?: string }> =>
    existsSync(log)
      ? readFileSync(log, 'utf8')
          .split('\n')
          .slice(0, -1)
          .map((l) => JSON.parse(l) as { argv: string[]; pid: number })
      : [];
  return { log, reportDir, starts };
}
const options = (reportDir: string, over: Partial<WindowsScanOptions> = {}): WindowsScanOptions => ({ binary: fake, pid: PID, reportDir, timeoutMs: 60_000, ...over });
const withoutDuration = ({ duration_ms: _d, ...rest }: ScanInfo): ScanInfo => rest;

/** Gone, or a zombie waiting for a parent that is not us (killed either way). */
function gone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}
async function until(cond: () => boolean, what: string, deadlineMs = 20_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

for (const [name, fx] of Object.entries(index)) {
  test(`runner: ${name} through the stand-in gives the parser's result, keeps the raw report and the tool's files`, standIn, async () => {
    const { reportDir, starts } = scanSetup({ FAKE_TOOL_FIXTURE: name });
    const run = fx.tool === 'pe-sieve' ? runPeSieve : runHollowsHunter;
    const info = await run(options(reportDir, fx.args ? { extraArgs: fx.args } : {}));
    const stdout = fx.stdout ? readFileSync(join(fixtures, fx.stdout), 'utf8') : '';
    // Exactly this command line, never without arguments.
    assert.deepEqual(
      starts().map((s) => s.argv),
      [['/pid', String(PID), '/quiet', '/json', '/dir', reportDir, ...(fx.args ?? [])]],
    );
    assert.equal(readFileSync(join(reportDir, 'raw_report.json'), 'utf8'), stdout);
    assert.equal(typeof info.duration_ms, 'number');
    const stderr = fx.stderr ? readFileSync(join(fixtures, fx.stderr), 'utf8') : '';
    // The stand-in exits -1 as 255 (a POSIX wait status): the same result as Windows' 4294967295.
    const expected = fx.tool === 'pe-sieve' ? peSieveResult(stdout, fx.exit, reportDir, { pid: PID, stderr }) : hollowsHunterResult(stdout, fx.exit, reportDir, { pid: PID, stderr });
    if (name === 'pe-sieve/error-file') {
      // Nothing on stdout: the details come from the error_report.json the tool wrote.
      assert.equal(info.verdict, 'error');
      assert.equal(info.reason, 'PE-sieve could not scan the process: Could not open the process: Invalid Parameter');
    } else if (name === 'hollows-hunter/suspicious') {
      const { regions, findings, reason, ...rest } = withoutDuration(info);
      const { regions: _r, findings: _f, reason: baseReason, ...expectedRest } = expected;
      assert.deepEqual(rest, expectedRest);
      // Addresses from the per-process reports HollowsHunter wrote; 5120 has none.
      assert.deepEqual(
        regions?.map((r) => `${r.kind}@${r.start}`),
        ['implanted_shc@0x1f0a2b40000', 'implanted_shc@0x1f0a2c10000', 'implanted_pe@0x1f0a2d00000', 'replaced@0x7ff6a1b20000', 'hdr_modified@0x7ffb3c410000'],
      );
      assert.deepEqual(findings, ['implanted_pe', 'implanted_shc', 'replaced', 'hdr_modified']);
      assert.equal(reason, `${baseReason}; no readable process report for pid 5120`);
      assert.ok(existsSync(join(reportDir, 'summary.json')));
    } else {
      assert.deepEqual(withoutDuration(info), expected);
    }
    if (name === 'pe-sieve/implanted') {
      for (const f of ['scan_report.json', 'dump_report.json', '1f0a2b40000.shc', '1f0a2d00000.dll']) assert.ok(existsSync(join(reportDir, `process_${PID}`, f)), f);
    }
  });
}

test('runner: a missing binary is a clear result, not an exception', standIn, async () => {
  const { reportDir } = scanSetup({});
  const missing = join(work, 'no', 'pe-sieve64.exe');
  const info = await runPeSieve(options(reportDir, { binary: missing }));
  assert.equal(info.verdict, 'error');
  assert.equal(info.reason, `PE-sieve not found at ${missing}: set scanner.pe_sieve.binary`);
  const hh = await runHollowsHunter(options(join(reportDir, 'hh'), { binary: missing }));
  assert.equal(hh.reason, `HollowsHunter not found at ${missing}: set scanner.hollows_hunter.binary`);
});

test('runner: a binary that cannot be executed (EACCES)', standIn, async () => {
  const { reportDir, starts } = scanSetup({ FAKE_TOOL_FIXTURE: 'pe-sieve/clean' });
  const plain = join(work, 'not-executable.mjs');
  cpSync(fake, plain);
  chmodSync(plain, 0o644);
  const info = await runPeSieve(options(reportDir, { binary: plain }));
  assert.equal(info.verdict, 'error');
  assert.match(info.reason ?? '', new RegExp(`^PE-sieve at ${plain.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} cannot be run \\(EACCES`));
  assert.deepEqual(starts(), []);
});

test('runner: a timeout kills the tool and what it started, and says so', standIn, async () => {
  const { reportDir, starts } = scanSetup({ FAKE_TOOL_MODE: 'hang' });
  const pending = runPeSieve(options(reportDir, { timeoutMs: 1500 }));
  await until(() => (starts()[0]?.children?.length ?? 0) > 0, 'the stand-in and its child to start');
  const [start] = starts();
  assert.ok(start && !gone(start.pid) && !gone(start.children![0]!), 'both run before the timeout');
  const info = await pending;
  assert.equal(info.verdict, 'error');
  assert.equal(info.reason, 'PE-sieve timed out after 1500 ms; its process tree was killed');
  await until(() => gone(start.pid) && gone(start.children![0]!), 'the tool and its child to be gone');
  // What it printed before it hung is kept.
  assert.match(readFileSync(join(reportDir, 'raw_report.json'), 'utf8'), /"scan_report"/);
});

test('runner: a child that escapes the kill and holds stdout open does not hold the scan', standIn, async () => {
  const { reportDir, starts } = scanSetup({ FAKE_TOOL_MODE: 'escape' });
  const pending = runPeSieve(options(reportDir, { timeoutMs: 1000 }));
  await until(() => (starts()[0]?.children?.length ?? 0) > 0, 'the stand-in and its child to start');
  const escaped = starts()[0]!.children![0]!;
  try {
    const info = await pending;
    assert.equal(info.verdict, 'error');
    assert.equal(info.reason, 'PE-sieve timed out after 1000 ms; killed, but its output was still open 5000 ms after the kill (a process it started may survive)');
    assert.ok(gone(starts()[0]!.pid), 'the tool itself is gone');
  } finally {
    process.kill(escaped, 'SIGKILL');
  }
});

test('runner: an abort kills the tool; an aborted signal never starts it', standIn, async () => {
  const { reportDir, starts } = scanSetup({ FAKE_TOOL_MODE: 'hang' });
  const ac = new AbortController();
  const pending = runHollowsHunter(options(reportDir, { signal: ac.signal }));
  await until(() => (starts()[0]?.children?.length ?? 0) > 0, 'the stand-in to start');
  ac.abort();
  const info = await pending;
  assert.equal(info.verdict, 'error');
  assert.equal(info.reason, 'HollowsHunter scan cancelled; its process tree was killed');
  const [start] = starts();
  await until(() => gone(start!.pid) && gone(start!.children![0]!), 'the tool and its child to be gone');

  const second = scanSetup({ FAKE_TOOL_FIXTURE: 'pe-sieve/clean' });
  const done = new AbortController();
  done.abort();
  const early = await runPeSieve(options(second.reportDir, { signal: done.signal }));
  assert.equal(early.verdict, 'error');
  assert.match(early.reason ?? '', /cancelled before it started/);
  assert.deepEqual(second.starts(), []);
});

test('runner: garbage output is an error naming the place; the raw output is kept', standIn, async () => {
  const { reportDir } = scanSetup({ FAKE_TOOL_MODE: 'garbage' });
  const info = await runPeSieve(options(reportDir));
  assert.equal(info.verdict, 'error');
  assert.match(info.reason ?? '', /exited 2 \(suspicious\) but its report cannot be read: .* at line \d+ column \d+ \(offset \d+\)/);
  assert.match(readFileSync(join(reportDir, 'raw_report.json'), 'utf8'), /not a report/);
});

test('runner: stdout is bounded; past the cap the scan is an error', standIn, async () => {
  const { reportDir } = scanSetup({ FAKE_TOOL_MODE: 'flood', FAKE_TOOL_FLOOD_BYTES: String(1 << 20) });
  const info = await runPeSieve(options(reportDir, { maxOutputBytes: 65536 }));
  assert.equal(info.verdict, 'error');
  assert.match(info.reason ?? '', /^PE-sieve's output exceeded maxOutputBytes \(65536 bytes; \d+ more dropped\)/);
  assert.equal(statSync(join(reportDir, 'raw_report.json')).size, 65536);
});

test('extra arguments: Vigil\'s own flags and HollowsHunter\'s acting flags are refused before anything runs', async () => {
  assert.deepEqual(checkExtraArgs('pe-sieve', ['/shellc', 'A', '/threads', '/jlvl', '1']), ['/shellc', 'A', '/threads', '/jlvl', '1']);
  for (const bad of ['/pid', '/PID', '-dir', '--json', '/quiet']) {
    assert.throws(() => checkExtraArgs('pe-sieve', [bad, '1']), (e: unknown) => e instanceof PeSieveError && e.code === 'VIGIL_ERR_PESIEVE_ARGS' && e.message.includes(bad));
  }
  for (const bad of ['/kill', '/suspend', '/loop', '/pname', '/uniqd']) {
    assert.throws(() => checkExtraArgs('hollows-hunter', [bad]), /VIGIL_ERR_PESIEVE_ARGS|refused/);
    assert.doesNotThrow(() => checkExtraArgs('pe-sieve', [bad]), 'PE-sieve has no such flags to fear');
  }
  assert.throws(() => checkExtraArgs('pe-sieve', ['']), PeSieveError);
  assert.throws(() => checkExtraArgs('pe-sieve', ['a\nb']), PeSieveError);
  assert.throws(() => checkExtraArgs('pe-sieve', [3]), PeSieveError);
  assert.throws(() => checkExtraArgs('pe-sieve', '/threads' as unknown as string[]), /must be a list of strings/);
  const { reportDir, starts } = scanSetup({ FAKE_TOOL_FIXTURE: 'pe-sieve/clean' });
  const info = await runPeSieve(options(reportDir, { extraArgs: ['/dir', 'C:\\elsewhere'] }));
  assert.equal(info.verdict, 'error');
  assert.match(info.reason ?? '', /^VIGIL_ERR_PESIEVE_ARGS: PE-sieve: extra argument "\/dir" is refused/);
  const hh = await runHollowsHunter(options(reportDir, { extraArgs: ['/kill'] }));
  assert.match(hh.reason ?? '', /^VIGIL_ERR_PESIEVE_ARGS: HollowsHunter: extra argument "\/kill" is refused/);
  assert.deepEqual(starts(), []);
});

test('runner: a bad pid or timeout never starts the tool (it must never run without /pid)', standIn, async () => {
  const { reportDir, starts } = scanSetup({ FAKE_TOOL_FIXTURE: 'pe-sieve/clean' });
  for (const pid of [0, -1, 1.5, Number.NaN, 2 ** 33]) {
    const info = await runPeSieve(options(reportDir, { pid }));
    assert.equal(info.verdict, 'error');
    assert.match(info.reason ?? '', /pid must be a positive integer/);
  }
  assert.match((await runPeSieve(options(reportDir, { timeoutMs: 0 }))).reason ?? '', /timeoutMs must be a positive number/);
  assert.match((await runPeSieve(options(reportDir, { timeoutMs: 2 ** 31 }))).reason ?? '', /timeoutMs must be a positive number of at most 2147483647 ms/);
  assert.match((await runPeSieve(options(reportDir, { binary: '' }))).reason ?? '', /no binary configured: set scanner\.pe_sieve\.binary/);
  assert.match((await runPeSieve(options(reportDir, { maxOutputBytes: 0 }))).reason ?? '', /maxOutputBytes must be a positive integer/);
  assert.deepEqual(starts(), []);
  const broken = await runPeSieve(null as unknown as WindowsScanOptions);
  assert.equal(broken.verdict, 'error');
  assert.match(broken.reason ?? '', /^PE-sieve runner failed: /);
  assert.deepEqual(scanArgs(7, 'D'), ['/pid', '7', '/quiet', '/json', '/dir', 'D']);
});

test('runner: a report folder holding another scan\'s files is refused', async () => {
  const { reportDir, starts } = scanSetup({ FAKE_TOOL_FIXTURE: 'pe-sieve/clean' });
  mkdirSync(join(reportDir, `process_${PID}`), { recursive: true });
  writeFileSync(join(reportDir, `process_${PID}`, 'error_report.json'), '{}');
  const info = await runPeSieve(options(reportDir));
  assert.equal(info.verdict, 'error');
  assert.match(info.reason ?? '', /^VIGIL_ERR_PESIEVE_REPORT_DIR: report folder .* already holds 1 entries/);
  const blocked = join(work, 'a-file');
  writeFileSync(blocked, 'x');
  assert.match((await runPeSieve(options(join(blocked, 'sub')))).reason ?? '', /^VIGIL_ERR_PESIEVE_REPORT_DIR: report folder .* cannot be created/);
  assert.deepEqual(starts(), []);
});

test('per-scan report folders: <pid>-<UTC time>-<random>, new each time', () => {
  const at = new Date('2026-12-08T05:45:00.123Z');
  const a = perScanReportDir('/base', 4242, at);
  assert.match(a, /^\/base\/4242-20261208T054500Z-[0-9a-f]{6}$/);
  assert.notEqual(perScanReportDir('/base', 4242, at), a);
});

test('the stand-in behaves like PE-sieve without arguments: help, then it waits for a key', standIn, async () => {
  const { starts } = scanSetup({});
  const child = spawn(fake, [], { stdio: ['pipe', 'pipe', 'ignore'], env: process.env });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  await until(() => out.includes('Press any key'), 'the help and the key prompt');
  assert.equal(child.exitCode, null, 'still waiting for a key');
  assert.equal(starts()[0]?.argv.length, 0);
  child.stdin.write('x');
  assert.equal(await exited, 0);
});
