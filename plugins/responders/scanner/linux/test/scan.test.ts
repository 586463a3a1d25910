/**
 * The Linux memory scanner against real processes: C test programs (built here with the C
 * compiler) that map anonymous executable memory, patch their own text, execute from a memfd
 * and from a deleted file; an ordinary `sleep`; this Node process (a JIT runtime); a pid that
 * exited; a wrong start time; and a reader without ptrace access. YARA runs through YARA-X
 * itself (a real engine) behind the YaraRules interface.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { ScanInfo } from '../../../../../core/index.js';
import type { YaraRuleMatch, YaraRules } from '../../../../../lib/yara/types.js';
import { scanLinuxProcess, type LinuxScanOptions } from '../scan.js';
import { MemscanError } from '../errors.js';
import { buildFixture, fixturesUnavailable } from './fixtures.js';
import { createSecondUser, secondUserUnavailable } from '../../../../../test/support/second-user.js';

const skip = fixturesUnavailable();
const MARKER = 'VIGIL-MEMSCAN-MARKER-5b1f0c2e';
const BASE: LinuxScanOptions = { maxRegionBytes: 1 << 20, maxTotalBytes: 16 << 20, jitAllow: ['node'], compareElf: true };

interface YaraXMatch {
  ruleIdentifier: string;
  namespace: string;
  meta: Record<string, string | number | boolean>;
  tags: string[];
  matches: { offset: number; length: number; identifier: string }[];
}
/** YARA-X behind the YaraRules interface: offsets and lengths only (its `data` is lossy). */
function yaraX(src: string): YaraRules {
  const require = createRequire(import.meta.url);
  const rules = (require('@litko/yara-x') as { compile(s: string): { scan(b: Buffer): YaraXMatch[] } }).compile(src);
  return {
    engine: 'yara-x',
    scan(data: Uint8Array): YaraRuleMatch[] {
      return rules.scan(Buffer.from(data.buffer, data.byteOffset, data.byteLength)).map((m) => ({
        rule: m.ruleIdentifier,
        namespace: m.namespace,
        tags: m.tags,
        meta: m.meta,
        strings: m.matches.map((s) => ({ identifier: s.identifier, offset: s.offset, length: s.length })),
      }));
    },
  };
}
const markerRule = () => yaraX(`rule memscan_marker : test { meta: purpose = "memscan test" strings: $m = "${MARKER}" condition: $m }`);

const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

interface Running {
  child: ChildProcess & { pid: number };
  /** The `NAME 0x…` lines it printed. */
  lines: Map<string, bigint>;
  stop(): Promise<void>;
}

/** Start a fixture and wait for its ADDR line (60 s only as a failure guard). */
async function start(bin: string, args: string[], wantLines = ['ADDR']): Promise<Running> {
  const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(child);
  const lines = new Map<string, bigint>();
  await new Promise<void>((resolve, reject) => {
    const guard = setTimeout(() => reject(new Error(`${bin} printed no ${wantLines.join('/')} line`)), 60_000);
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`${bin} exited early (${code})`)));
    createInterface({ input: child.stdout! }).on('line', (l) => {
      const m = /^([A-Z]+) (0x[0-9a-f]+)$/.exec(l);
      if (m) lines.set(m[1]!, BigInt(m[2]!));
      if (wantLines.every((w) => lines.has(w))) {
        clearTimeout(guard);
        resolve();
      }
    });
  });
  child.removeAllListeners('exit');
  return {
    child: child as ChildProcess & { pid: number },
    lines,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.stdin!.end();
      }),
  };
}

function statTicks(pid: number): number {
  const t = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(t.slice(t.lastIndexOf(')') + 2).split(' ')[19]);
}
/** start_time as the procfs sensor stamps it: boot time + field 22 ticks, in ms. */
function startTimeMs(pid: number): number {
  const clk = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());
  const btime = Number(/^btime\s+(\d+)/m.exec(readFileSync('/proc/stat', 'utf8'))![1]);
  return btime * 1000 + Math.round((statTicks(pid) * 1000) / clk);
}

const kindsAt = (info: ScanInfo, start: bigint) => (info.regions ?? []).filter((r) => r.start === `0x${start.toString(16)}`).map((r) => r.kind);

test('anonymous RX and RWX regions: flagged, scanned, the marker matched at its absolute addresses', { skip }, async () => {
  const bin = await buildFixture('anon-exec');
  assert.ok(bin);
  const p = await start(bin, [MARKER], ['ADDR', 'RWX']);
  try {
    const rx = p.lines.get('ADDR')!;
    const rwx = p.lines.get('RWX')!;
    const info = await scanLinuxProcess(p.child.pid, { ...BASE, yara: markerRule(), expectStartTime: startTimeMs(p.child.pid) });
    assert.equal(info.verdict, 'malicious', JSON.stringify(info));
    assert.equal(info.scanner, 'linux-memory');
    assert.equal(info.engine, 'yara-x');
    assert.deepEqual(info.findings, ['anon_exec', 'wx', 'yara']);
    assert.deepEqual(info.rules, ['memscan_marker']);
    assert.deepEqual(kindsAt(info, rx), ['anon_exec']);
    assert.deepEqual(kindsAt(info, rwx), ['anon_exec', 'wx']);
    const rxRegion = info.regions!.find((r) => r.start === `0x${rx.toString(16)}`)!;
    assert.deepEqual(rxRegion, { start: `0x${rx.toString(16)}`, end: `0x${(rx + 16384n).toString(16)}`, perms: 'r-xp', kind: 'anon_exec', path: '[anon]' });
    assert.equal(info.regions!.filter((r) => r.kind === 'patched_code').length, 0, 'its own text is as on disk');
    const hits = info.matches!.flatMap((m) => m.strings.map((s) => ({ region: m.region, offset: s.offset, hex: s.data_hex, tags: m.tags, meta: m.meta })));
    const hex = Buffer.from(MARKER).toString('hex');
    assert.deepEqual(
      hits.sort((a, b) => a.offset - b.offset),
      [rwx, rx]
        .sort((a, b) => (a < b ? -1 : 1))
        .map((base) => ({ region: `0x${base.toString(16)}`, offset: Number(base + 64n), hex, tags: ['test'], meta: { purpose: 'memscan test' } })),
    );
    const c = info.counts!;
    assert.equal(c['regions_flagged'], 2);
    assert.equal(c['regions_scanned'], 2);
    assert.equal(c['bytes_scanned'], 2 * 16384);
    assert.equal(c['bytes_unreadable'], 0);
    assert.equal(c['jit_regions_allowed'], 0);
    assert.ok(c['elf_segments_compared']! >= 2, 'its own text and libc were compared');
    assert.equal(c['elf_bytes_differing'], 0);
    assert.ok(c['regions_total']! > 10);
    assert.equal(typeof info.duration_ms, 'number');

    // Without rules the same regions make the process suspicious; nothing is read.
    const plain = await scanLinuxProcess(p.child.pid, { ...BASE, compareElf: false, expectStartTicks: statTicks(p.child.pid) });
    assert.equal(plain.verdict, 'suspicious');
    assert.deepEqual(plain.findings, ['anon_exec', 'wx']);
    assert.equal(plain.counts!['bytes_scanned'], 0);
    assert.equal(plain.engine, undefined);
  } finally {
    await p.stop();
  }
});

test('limits: per-region and total byte bounds truncate and count, never fail', { skip }, async () => {
  const bin = await buildFixture('anon-exec');
  assert.ok(bin);
  const p = await start(bin, [MARKER], ['ADDR', 'RWX']);
  try {
    const info = await scanLinuxProcess(p.child.pid, { ...BASE, compareElf: false, yara: markerRule(), maxRegionBytes: 4096, maxTotalBytes: 6000 });
    const c = info.counts!;
    // First region: 4096 of 16384 bytes (region limit); second: 6000 - 4096 = 1904 bytes (both limits).
    assert.equal(c['bytes_scanned'], 6000);
    assert.equal(c['truncated_regions'], 2);
    assert.equal(c['truncated_by_region_limit'], 2);
    assert.equal(c['truncated_by_total_limit'], 1);
    assert.equal(info.verdict, 'malicious', 'the markers sit at offset 64, inside the bound');
  } finally {
    await p.stop();
  }
});

test('patched text: one changed byte of a function is patched_code with diff_bytes 1', { skip }, async () => {
  const bin = await buildFixture('patch-text');
  assert.ok(bin);
  const p = await start(bin, []);
  try {
    const at = p.lines.get('ADDR')!;
    const info = await scanLinuxProcess(p.child.pid, BASE);
    assert.equal(info.verdict, 'suspicious', JSON.stringify(info));
    assert.deepEqual(info.findings, ['patched_code']);
    const patched = info.regions!.filter((r) => r.kind === 'patched_code');
    assert.equal(patched.length, 1);
    const r = patched[0]!;
    assert.ok(BigInt(r.start) <= at && at < BigInt(r.end), `${r.start}-${r.end} holds ${at.toString(16)}`);
    assert.equal(r.path, bin);
    assert.equal(r.perms, 'r-xp');
    assert.equal(r.diff_bytes, 1);
    assert.equal(info.counts!['elf_bytes_differing'], 1);
    assert.equal(info.counts!['elf_bytes_differing_int3'], 0);
    assert.equal(info.counts!['elf_textrel_segments'], 0, 'PIE code has no text relocations');
    // Without the comparison there is nothing to see.
    assert.equal((await scanLinuxProcess(p.child.pid, { ...BASE, compareElf: false })).verdict, 'clean');
  } finally {
    await p.stop();
  }
  // A breakpoint written into the text is counted apart (debuggers and uprobes do this).
  const q = await start(bin, ['int3']);
  try {
    const info = await scanLinuxProcess(q.child.pid, BASE);
    assert.deepEqual(info.findings, ['patched_code']);
    assert.equal(info.counts!['elf_bytes_differing'], 1);
    assert.equal(info.counts!['elf_bytes_differing_int3'], 1);
  } finally {
    await q.stop();
  }
});

test('memfd: an executable memfd mapping is memfd_exec, and YARA runs over it', { skip }, async () => {
  const bin = await buildFixture('memfd-exec');
  assert.ok(bin);
  const p = await start(bin, [MARKER]);
  try {
    const at = p.lines.get('ADDR')!;
    const info = await scanLinuxProcess(p.child.pid, { ...BASE, yara: markerRule() });
    assert.equal(info.verdict, 'malicious', JSON.stringify(info));
    assert.deepEqual(info.findings, ['memfd_exec', 'yara']);
    const r = info.regions!.find((x) => x.kind === 'memfd_exec')!;
    assert.equal(r.start, `0x${at.toString(16)}`);
    assert.match(r.path ?? '', /^\/?memfd:vigil-memfd-test \(deleted\)$/);
    assert.deepEqual(info.matches!.map((m) => m.strings.map((s) => s.offset)), [[Number(at + 64n)]]);
  } finally {
    await p.stop();
  }
});

test('deleted file: an executable mapping of an unlinked file (a path with spaces) is deleted_exec', { skip }, async () => {
  const bin = await buildFixture('deleted-exec');
  assert.ok(bin);
  const dir = mkdtempSync(join(tmpdir(), 'vigil memscan '));
  const file = join(dir, 'payload blob.bin');
  const p = await start(bin, [MARKER, file]);
  try {
    const at = p.lines.get('ADDR')!;
    const info = await scanLinuxProcess(p.child.pid, BASE);
    assert.equal(info.verdict, 'suspicious', JSON.stringify(info));
    assert.deepEqual(info.findings, ['deleted_exec']);
    assert.deepEqual(info.regions, [{ start: `0x${at.toString(16)}`, end: `0x${(at + 16384n).toString(16)}`, perms: 'r-xp', kind: 'deleted_exec', path: `${file} (deleted)` }]);
    // The deleted file is still compared, through /proc/<pid>/map_files: the 8192 bytes it holds are unchanged.
    assert.equal(info.counts!['elf_bytes_differing'], 0);
    assert.ok(info.counts!['elf_bytes_compared']! >= 8192);

    // The two pages mapped past the end of the file answer EIO: a counted partial read, the rest still scanned.
    const scanned = await scanLinuxProcess(p.child.pid, { ...BASE, compareElf: false, yara: markerRule() });
    assert.equal(scanned.verdict, 'malicious', JSON.stringify(scanned));
    assert.equal(scanned.counts!['bytes_unreadable'], 8192);
    assert.equal(scanned.counts!['regions_partial'], 1);
    assert.equal(scanned.counts!['bytes_scanned'], 8192);
    assert.deepEqual(scanned.matches!.map((m) => m.strings.map((s) => s.offset)), [[Number(at + 64n)]]);
  } finally {
    await p.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an ordinary process (sleep) is clean, its text equal to the files on disk', { skip: process.platform !== 'linux' }, async () => {
  const c = spawn('sleep', ['300'], { stdio: 'ignore' });
  children.push(c);
  await new Promise((resolve, reject) => c.once('spawn', resolve).once('error', reject));
  const pid = c.pid!;
  // Until exec has happened the pid still runs node's fork: wait for the sleep image.
  for (let i = 0; i < 2000 && !readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('sleep'); i++) await new Promise((r) => setTimeout(r, 5));
  try {
    const info = await scanLinuxProcess(pid, { ...BASE, yara: markerRule(), maxCompareBytes: 64 << 20 });
    assert.equal(info.verdict, 'clean', JSON.stringify(info));
    assert.deepEqual(info.findings, []);
    assert.deepEqual(info.regions, []);
    assert.deepEqual(info.matches, []);
    assert.ok(info.counts!['elf_segments_compared']! >= 2, 'sleep, libc and ld.so text compared');
    assert.ok(info.counts!['elf_bytes_compared']! > 100_000);
    assert.equal(info.counts!['elf_bytes_differing'], 0);
    assert.equal(info.counts!['elf_compare_unavailable'], 0);
  } finally {
    c.kill('SIGKILL');
  }
});

test('JIT allow-list: node\'s own code regions are counted, not findings, unless YARA matches there', { skip: process.platform !== 'linux' }, async () => {
  const allowed = await scanLinuxProcess(process.pid, { ...BASE, compareElf: false });
  assert.ok(allowed.counts!['jit_regions_allowed']! > 0, JSON.stringify(allowed.counts));
  assert.equal(allowed.regions!.filter((r) => r.kind === 'anon_exec' || r.kind === 'wx').length, 0);
  assert.equal(allowed.verdict, 'clean', JSON.stringify(allowed));

  const notAllowed = await scanLinuxProcess(process.pid, { ...BASE, compareElf: false, jitAllow: [] });
  assert.equal(notAllowed.verdict, 'suspicious');
  assert.ok(notAllowed.findings!.some((k) => k === 'anon_exec' || k === 'wx'), JSON.stringify(notAllowed.findings));
  assert.equal(notAllowed.counts!['jit_regions_allowed'], 0);

  // A rule that matches any bytes: every JIT region it ran over is reported after all.
  const anything = yaraX('rule any_bytes { condition: filesize > 0 }');
  const matched = await scanLinuxProcess(process.pid, { ...BASE, compareElf: false, yara: anything, maxTotalBytes: 4 << 20 });
  assert.equal(matched.verdict, 'malicious');
  const reported = new Set(matched.matches!.map((m) => m.region));
  assert.ok(reported.size > 0);
  for (const r of matched.regions!) assert.ok(reported.has(r.start), `${r.start} (${r.kind}) is reported because YARA matched there`);
  assert.ok(matched.regions!.some((r) => r.kind === 'anon_exec' || r.kind === 'wx'));
});

test('a pid that exited: verdict error, reason "process exited"', { skip: process.platform !== 'linux' }, async () => {
  const c = spawn('true', [], { stdio: 'ignore' });
  await new Promise((resolve) => c.once('exit', resolve));
  const info = await scanLinuxProcess(c.pid!, BASE);
  assert.equal(info.verdict, 'error');
  assert.equal(info.reason, 'process exited');
  assert.equal(info.scanner, 'linux-memory');
});

test('identity: a wrong start time (ms or ticks) is refused as "identity mismatch"; the right one scans', { skip: process.platform !== 'linux' }, async () => {
  const c = spawn('sleep', ['300'], { stdio: 'ignore' });
  children.push(c);
  await new Promise((resolve, reject) => c.once('spawn', resolve).once('error', reject));
  const pid = c.pid!;
  try {
    const ms = startTimeMs(pid);
    const wrongMs = await scanLinuxProcess(pid, { ...BASE, expectStartTime: ms - 10_000 });
    assert.deepEqual([wrongMs.verdict, wrongMs.reason], ['error', 'identity mismatch']);
    const wrongTicks = await scanLinuxProcess(pid, { ...BASE, expectStartTicks: statTicks(pid) + 1 });
    assert.deepEqual([wrongTicks.verdict, wrongTicks.reason], ['error', 'identity mismatch']);
    const right = await scanLinuxProcess(pid, { ...BASE, compareElf: false, expectStartTime: ms, expectStartTicks: statTicks(pid) });
    assert.notEqual(right.verdict, 'error', JSON.stringify(right));
  } finally {
    c.kill('SIGKILL');
  }
});

/**
 * A procfs root whose <pid>/stat is a copy the test can change, the rest the real files of
 * `pid` (mem, maps and map_files by symlink): lets a YARA callback, which runs between the two
 * identity checks, make the pid name another process or vanish.
 */
function procCopy(pid: number): { root: string; stat: string } {
  const root = mkdtempSync(join(tmpdir(), 'vigil-memscan-proc-'));
  mkdirSync(join(root, String(pid)));
  writeFileSync(join(root, 'stat'), readFileSync('/proc/stat'));
  const stat = join(root, String(pid), 'stat');
  writeFileSync(stat, readFileSync(`/proc/${pid}/stat`));
  for (const f of ['maps', 'mem', 'exe', 'map_files', 'root']) symlinkSync(`/proc/${pid}/${f}`, join(root, String(pid), f));
  return { root, stat };
}

/** The marker rule, running `during` before it scans each region. */
function markerRuleWith(during: () => void): YaraRules {
  const inner = markerRule();
  return { engine: inner.engine, scan: (d) => (during(), inner.scan(d)) };
}

test('identity after the reads: a pid that names another process, or none, by then reports nothing read', { skip }, async () => {
  const bin = await buildFixture('anon-exec');
  assert.ok(bin);
  const p = await start(bin, [MARKER], ['ADDR', 'RWX']);
  const { root, stat } = procCopy(p.child.pid);
  try {
    const real = readFileSync(stat, 'utf8');
    const control = await scanLinuxProcess(p.child.pid, { ...BASE, procRoot: root, compareElf: false, yara: markerRule() });
    assert.equal(control.verdict, 'malicious', 'the copied root scans like the real one');

    const ticks = statTicks(p.child.pid);
    const reused = real.replace(/^(.*\) (?:\S+ ){19})(\d+)/, (_all, head: string) => `${head}${ticks + 500}`);
    assert.notEqual(reused, real);
    const swapped = await scanLinuxProcess(p.child.pid, { ...BASE, procRoot: root, compareElf: false, yara: markerRuleWith(() => writeFileSync(stat, reused)) });
    assert.equal(swapped.verdict, 'error');
    assert.equal(swapped.reason, 'identity mismatch');
    assert.equal(swapped.regions, undefined, 'regions of a process that may not be the target are not reported');
    assert.equal(swapped.matches, undefined);
    assert.equal(swapped.counts!['regions_scanned'], 2, 'the reads did happen');

    writeFileSync(stat, real);
    const gone = await scanLinuxProcess(p.child.pid, { ...BASE, procRoot: root, compareElf: false, yara: markerRuleWith(() => rmSync(stat, { force: true })) });
    assert.deepEqual([gone.verdict, gone.reason], ['error', 'process exited']);
  } finally {
    await p.stop();
    rmSync(root, { recursive: true, force: true });
  }
});

test('scanner problems are verdict error with their code: an unparsable maps line, a failing YARA engine', { skip }, async () => {
  const bin = await buildFixture('anon-exec');
  assert.ok(bin);
  const p = await start(bin, [MARKER], ['ADDR', 'RWX']);
  const { root } = procCopy(p.child.pid);
  try {
    const failing = await scanLinuxProcess(p.child.pid, {
      ...BASE,
      compareElf: false,
      yara: markerRuleWith(() => {
        throw new Error('engine out of memory');
      }),
    });
    assert.equal(failing.verdict, 'error');
    assert.match(failing.reason ?? '', /^VIGIL_ERR_MEMSCAN_YARA: engine yara-x failed on region 0x[0-9a-f]+: engine out of memory$/);
    assert.ok(failing.regions!.some((r) => r.kind === 'anon_exec'), 'the regions flagged so far are kept');

    const maps = join(root, String(p.child.pid), 'maps');
    rmSync(maps);
    writeFileSync(maps, `${readFileSync(`/proc/${p.child.pid}/maps`, 'utf8')}garbage line\n`);
    const broken = await scanLinuxProcess(p.child.pid, { ...BASE, procRoot: root });
    assert.equal(broken.verdict, 'error');
    assert.match(broken.reason ?? '', /^VIGIL_ERR_MEMSCAN_MAPS: maps line \d+ is not/);
  } finally {
    await p.stop();
    rmSync(root, { recursive: true, force: true });
  }
});

test('abort: a scan whose signal fires rejects with the signal\'s reason', { skip }, async () => {
  const bin = await buildFixture('anon-exec');
  assert.ok(bin);
  const p = await start(bin, [MARKER], ['ADDR', 'RWX']);
  try {
    const ac = new AbortController();
    const why = new Error('scan timed out');
    await assert.rejects(
      scanLinuxProcess(p.child.pid, { ...BASE, compareElf: false, yara: markerRuleWith(() => ac.abort(why)), signal: ac.signal }),
      (e: unknown) => e === why,
    );
  } finally {
    await p.stop();
  }
});

test('bad options are refused with VIGIL_ERR_MEMSCAN_OPTIONS', async () => {
  await assert.rejects(scanLinuxProcess(1, { ...BASE, maxRegionBytes: 0 }), (e: unknown) => e instanceof MemscanError && e.code === 'VIGIL_ERR_MEMSCAN_OPTIONS');
  await assert.rejects(scanLinuxProcess(-3, BASE), (e: unknown) => e instanceof MemscanError && e.code === 'VIGIL_ERR_MEMSCAN_OPTIONS');
});

const noUser = process.platform !== 'linux' ? 'Linux only' : secondUserUnavailable();
test('no ptrace access: another user scanning root\'s process gets verdict error naming ptrace access and CAP_SYS_PTRACE', { skip: noUser }, async (t) => {
  const user = createSecondUser(t);
  const c = spawn('sleep', ['300'], { stdio: 'ignore' });
  children.push(c);
  await new Promise((resolve, reject) => c.once('spawn', resolve).once('error', reject));
  const dir = mkdtempSync(join(tmpdir(), 'vigil-memscan-user-'));
  chmodSync(dir, 0o755);
  const script = join(dir, 'scan.mjs');
  const scanUrl = new URL('../scan.js', import.meta.url).href;
  writeFileSync(
    script,
    `import { scanLinuxProcess } from ${JSON.stringify(scanUrl)};\n` +
      `const info = await scanLinuxProcess(${c.pid}, { maxRegionBytes: 4096, maxTotalBytes: 4096, jitAllow: [], compareElf: true });\n` +
      'console.log(JSON.stringify(info));\n',
  );
  chmodSync(script, 0o644);
  try {
    const r = user.run([process.execPath, script]);
    assert.equal(r.status, 0, r.stderr);
    const info = JSON.parse(r.stdout) as ScanInfo;
    assert.equal(info.verdict, 'error');
    assert.match(info.reason ?? '', /^permission denied \(EACCES\) opening \/proc\/\d+\/(maps|mem|exe)/);
    assert.match(info.reason ?? '', /ptrace access/);
    assert.match(info.reason ?? '', /CAP_SYS_PTRACE/);
    assert.match(info.reason ?? '', /ptrace_scope|Yama/);
  } finally {
    c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
