/**
 * The scanner responder through the kit's recording context and a real worker pool: memory
 * scans of a real process holding an anonymous executable region (the memory scanner's C
 * fixture), file scans across chunk boundaries, the cache, identity checks, a refused rule
 * set, and a timed-out task answered as a result, never thrown. The pool's limits (a full
 * queue, worker recycling) are tested in test/response/scanner-pool.test.ts.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { ActionRequest, ProcessInfo, ScanInfo } from '../../../../core/index.js';
import { checkConformance, instantiate, projectRoot, recordingContext, sampleDetection } from '../../../../testing/index.js';
import { buildFixture, fixturesUnavailable } from '../linux/test/fixtures.js';
import { ScanCache, plugin, scannerPlugin } from '../index.js';
import { startScanner } from './harness.js';

const MARKER = `VIGIL-SCANNER-TEST-${randomUUID().slice(0, 8)}`;
const dir = mkdtempSync(join(tmpdir(), 'vigil-scanner-test-'));
const rulesFile = join(dir, 'marker.yar');
writeFileSync(rulesFile, `rule Vigil_Test_Marker : test\n{\n  meta:\n    verdict = "malicious"\n  strings:\n    $m = "${MARKER}"\n  condition:\n    $m\n}\n`);
const shipped = join(projectRoot(), 'rules', 'yara');

const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

const linux = process.platform === 'linux';
const clockTicks = linux ? Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) : 100;
const bootSec = linux ? Number(/^btime\s+(\d+)/m.exec(readFileSync('/proc/stat', 'utf8'))![1]) : 0;
function startTime(pid: number): number {
  const t = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return bootSec * 1000 + Math.round((Number(t.slice(t.lastIndexOf(')') + 2).split(' ')[19]) * 1000) / clockTicks);
}

/** The anon-exec fixture running with MARKER; its RX region's address. */
async function anonExec(): Promise<{ child: ChildProcess & { pid: number }; rx: string; target: ProcessInfo }> {
  const exe = await buildFixture('anon-exec');
  assert.ok(exe, 'the fixture builds');
  const child = spawn(exe, [MARKER], { stdio: ['pipe', 'pipe', 'inherit'] }) as ChildProcess & { pid: number };
  children.push(child);
  let out = '';
  const rx = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /ADDR (0x[0-9a-f]+)\nRWX/.exec(out);
      if (m?.[1]) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`anon-exec exited (${code}): ${out}`)));
  });
  return { child, rx, target: { pid: child.pid, start_time: startTime(child.pid), image: exe, name: 'anon-exec' } };
}

function request(action: string, target: ProcessInfo | undefined, params: Record<string, unknown> = {}): ActionRequest {
  const detection = sampleDetection({ pid: target?.pid ?? 0, image: target?.image ?? '/bin/true', time: Date.now() });
  return { id: randomUUID(), action, params, detection, ...(target ? { target } : {}), dry_run: false };
}

function responder(config: Record<string, unknown> = {}) {
  return startScanner({ config: { yara: { rule_paths: [rulesFile] }, ...config }, logLevel: 'warn' });
}

const noFixtures = fixturesUnavailable() ?? false;

test('conformance: the scanner passes the plugin suite', async () => {
  await checkConformance(plugin, { yara: { rule_paths: [shipped] } });
});

test('memscan of a real process: the anonymous executable region is flagged and the YARA rule matched in it; the second scan comes from the cache', { skip: noFixtures }, async () => {
  const { child, rx, target } = await anonExec();
  const r = await responder();
  try {
    const first = await r.ask(request('memscan', target));
    assert.equal(first.result.status, 'done', first.result.reason);
    assert.equal(first.scan.scanner, 'linux-memory');
    assert.equal(first.scan.verdict, 'malicious');
    assert.ok(first.scan.findings?.includes('anon_exec'), JSON.stringify(first.scan.findings));
    const region = first.scan.regions?.find((g) => g.start === rx);
    assert.ok(region, `region ${rx} is listed: ${JSON.stringify(first.scan.regions)}`);
    assert.equal(region.kind, 'anon_exec');
    const m = first.scan.matches?.find((x) => x.rule === 'Vigil_Test_Marker' && x.region === rx);
    assert.ok(m, 'the marker rule matched in that region');
    assert.equal(m.strings[0]?.offset, Number(BigInt(rx) + 64n), 'the match is at the absolute address of the marker');
    assert.deepEqual(first.result.details?.['rules'], ['Vigil_Test_Marker']);
    assert.equal(first.result.details?.['verdict'], 'malicious');
    assert.equal(first.event.target?.pid, child.pid);
    assert.equal(first.event.proc?.pid, child.pid, 'the scanned process is the actor of the scan.result');
    assert.notEqual(first.scan.cached, true);

    const second = await r.ask(request('memscan', target));
    assert.equal(second.scan.cached, true);
    assert.equal(second.result.details?.['cached'], true);
    assert.deepEqual(second.scan.rules, first.scan.rules);
    const snap = r.rec.counters.snapshot();
    assert.equal(snap.custom['cache_hits'], 1);
  } finally {
    await r.inst.stop();
    await r.rec.dispose();
  }
});

test('memscan with params.of = target scans the process the evidence acted on (a ptrace tracee), and the scan.result names it', { skip: noFixtures }, async () => {
  const { child, rx, target } = await anonExec();
  const r = await responder();
  try {
    const base = request('memscan', { pid: process.pid, start_time: startTime(process.pid), image: process.execPath }, { of: 'target' });
    const ev0 = base.detection.evidence[0]!;
    const detection = { ...base.detection, evidence: [{ ...ev0, type: 'process.ptrace', target: { ...target, guid: `${target.pid}@${target.start_time}` } }] };
    const { result, scan, event } = await r.ask({ ...base, detection });
    assert.equal(result.status, 'done', result.reason);
    assert.ok(scan.regions?.some((g) => g.start === rx), 'the tracee was scanned, not the tracer');
    assert.equal(event.target?.pid, child.pid);
    assert.equal(event.target?.guid, `${target.pid}@${target.start_time}`, 'keyed as the sequence joins it');
    const bad = await r.ask(request('memscan', target, { of: 'parent' }));
    assert.equal(bad.result.status, 'failed');
    assert.match(bad.result.reason ?? '', /params\.of/);
  } finally {
    await r.inst.stop();
    await r.rec.dispose();
  }
});

test('memscan refuses a pid that names another process now (identity mismatch), and a pid that does not exist', { skip: !linux }, async () => {
  const r = await responder();
  try {
    const me = { pid: process.pid, start_time: startTime(process.pid) - 60_000, image: process.execPath };
    const wrong = await r.ask(request('memscan', me));
    assert.deepEqual([wrong.result.status, wrong.result.outcome, wrong.scan.verdict], ['skipped', 'identity_mismatch', 'skipped']);
    const gone = await r.ask(request('memscan', { pid: 2 ** 22 + 17, start_time: 1 }));
    assert.deepEqual([gone.result.outcome, gone.scan.verdict], ['not_found', 'skipped']);
    const none = await r.ask(request('memscan', { image: '/bin/true' }));
    assert.deepEqual([none.result.outcome, none.scan.verdict], ['no_identity', 'skipped']);
  } finally {
    await r.inst.stop();
    await r.rec.dispose();
  }
});

test('filescan reads in chunks with overlap: a marker across a chunk boundary matches once, at its file offset', async () => {
  const file = join(dir, 'big.bin');
  const data = Buffer.alloc(3 * 4096, 0x41);
  const at = 4096 - 10; // straddles the first boundary
  data.write(MARKER, at, 'latin1');
  data.write(MARKER, 2 * 4096 + 100, 'latin1');
  writeFileSync(file, data);
  const r = await responder({ file: { chunk_bytes: 4096, overlap_bytes: 256 } });
  try {
    const { result, scan } = await r.ask(request('filescan', undefined, { path: file }));
    assert.equal(result.status, 'done', result.reason);
    assert.equal(scan.scanner, 'yara-file');
    assert.equal(scan.verdict, 'malicious');
    assert.deepEqual(scan.matches?.[0]?.strings.map((s) => s.offset), [at, 2 * 4096 + 100]);
    assert.equal(scan.matches?.[0]?.strings[0]?.data_hex, Buffer.from(MARKER, 'latin1').toString('hex'));
    assert.ok((scan.counts?.['chunks'] ?? 0) >= 3);
    const clean = join(dir, 'clean.bin');
    writeFileSync(clean, Buffer.alloc(1000, 0x42));
    const c = await r.ask(request('filescan', undefined, { path: clean }));
    assert.deepEqual([c.result.status, c.scan.verdict, c.result.details?.['rules']], ['done', 'clean', []]);
    // A task that throws in the worker (the file is gone) is a failed result, not an exception.
    const gone = await r.ask(request('filescan', undefined, { path: join(dir, 'no-such-file') }));
    assert.deepEqual([gone.result.status, gone.scan.verdict], ['failed', 'error']);
    assert.match(gone.result.reason ?? '', /VIGIL_ERR_WORKER_FAILED.*ENOENT/);
  } finally {
    await r.inst.stop();
    await r.rec.dispose();
  }
});

test('a scan past its timeout is a failed result and a scan.result with verdict error, not an exception', async () => {
  const file = join(dir, 'timeout.bin');
  writeFileSync(file, Buffer.alloc(64, 0x41));
  const r = await responder({ timeout_seconds: 0.001, cache: { max_entries: 0 } });
  try {
    const { result, scan } = await r.ask(request('filescan', undefined, { path: file }));
    assert.equal(result.status, 'failed');
    assert.equal(scan.verdict, 'error');
    assert.match(result.reason ?? '', /VIGIL_ERR_WORKER_TIMEOUT/);
  } finally {
    await r.inst.stop();
    await r.rec.dispose();
  }
});

test('a rule set one configured engine refuses fails start with the engine and the reason; the engine alone accepts it', async () => {
  // A module only YARA-X has: YARA-X compiles the set, libyara (wasm) refuses it.
  const lnk = join(dir, 'lnk.yar');
  writeFileSync(lnk, 'import "lnk"\n\nrule is_shortcut {\n  condition:\n    lnk.is_lnk\n}\n');
  const alone = recordingContext(plugin, { config: { yara: { rule_paths: [lnk], engine: 'yara-x' } } });
  const ok = instantiate(plugin, alone);
  await ok.start();
  await ok.stop();
  await alone.dispose();
  const rec = recordingContext(plugin, { config: { yara: { rule_paths: [lnk], engine: 'yara-x', check_engines: ['libyara-wasm'] } } });
  const inst = instantiate(plugin, rec);
  await assert.rejects(inst.start(), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'VIGIL_ERR_SCANNER_RULES');
    assert.match(err.message, /refused by libyara-wasm: .*lnk\.yar:1: unknown module "lnk"/);
    return true;
  });
  await rec.dispose();
});

test('the shipped YARA set compiles in both engines', async () => {
  const rec = recordingContext(plugin, { config: { yara: { rule_paths: [shipped], check_engines: ['yara-x', 'libyara-wasm'] } } });
  const inst = instantiate(plugin, rec);
  await inst.start();
  assert.ok((rec.counters.snapshot().custom['yara_sources'] ?? 0) >= 2);
  await inst.stop();
  await rec.dispose();
});

test('the cache is an LRU bounded by max_entries, with a TTL; evictions and expirations are counted', () => {
  const c = new ScanCache(2, 1000);
  const info = (v: string): ScanInfo => ({ scanner: v, verdict: 'clean' });
  c.set('a', info('a'), 0);
  c.set('b', info('b'), 0);
  assert.equal(c.get('a', 10)?.scanner, 'a'); // a is now the youngest
  c.set('c', info('c'), 20);
  assert.equal(c.evictions, 1);
  assert.equal(c.get('b', 30), undefined, 'b, least recently used, was evicted');
  assert.equal(c.get('a', 999)?.scanner, 'a');
  assert.equal(c.get('a', 1000), undefined, 'expired at the TTL');
  assert.equal(c.expirations, 1);
  assert.equal(c.size, 1);
  const off = new ScanCache(0, 1000);
  off.set('a', info('a'), 0);
  assert.equal(off.size, 0, 'max_entries 0: no cache');
});

test('on Windows a memscan runs PE-sieve (here its stand-in, driven by a fixture) and maps its report; a missing binary is a failed result', { skip: linux ? false : 'the stand-in runs through its #! line' }, async () => {
  const fixtures = join(dir, 'pesieve-fixtures');
  cpSync(join(projectRoot(), 'plugins', 'responders', 'scanner', 'windows', 'test', 'fixtures'), fixtures, { recursive: true });
  const fake = join(fixtures, 'fake-tool.mjs');
  chmodSync(fake, 0o755);
  Object.assign(process.env, { FAKE_TOOL_MODE: 'fixture', FAKE_TOOL_FIXTURE: 'pe-sieve/implanted', FAKE_TOOL_LOG: join(dir, 'fake-tool.log') });
  const win = scannerPlugin({ platform: 'win32' });
  for (const [binary, expect] of [
    [fake, 'done'],
    [join(dir, 'no-such-pe-sieve.exe'), 'failed'],
  ] as const) {
    const rec = recordingContext(win, { config: { yara: { rule_paths: [rulesFile] }, windows: { pe_sieve_binary: binary, report_dir: join(dir, 'scans') } } });
    const inst = instantiate(win, rec);
    await inst.start();
    try {
      const req = request('memscan', { pid: 4242, guid: '{5770385f-c22a-43e0-bf4c-06f5698ffbd9}', image: 'C:\\Users\\x\\svc.exe' });
      await inst.onActions!([req]);
      const result = rec.results.find((r) => r.request_id === req.id)!;
      const scan = rec.emitted.find((e) => e.scan?.request_id === req.id)!.scan!;
      assert.equal(result.status, expect, result.reason);
      assert.equal(scan.scanner, 'pe-sieve');
      if (expect === 'done') {
        assert.equal(scan.verdict, 'suspicious');
        assert.ok(scan.findings?.includes('implanted_shc'), JSON.stringify(scan.findings));
        assert.ok(scan.report_dir?.startsWith(join(dir, 'scans')), scan.report_dir);
        assert.deepEqual(result.details?.['findings'], scan.findings);
      } else {
        assert.equal(scan.verdict, 'error');
        assert.ok((scan.reason ?? '').length > 0);
      }
    } finally {
      await inst.stop();
      await rec.dispose();
    }
  }
});
