import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ScanInfo } from '../../../../../core/index.js';
import { projectRoot } from '../../../../../testing/index.js';
import { MAX_REGIONS, hollowsHunterResult, normalizeExitCode, peSieveResult } from '../report.js';
import { parseToolJson, protectionName } from '../tool-json.js';

const FIXTURES = join(projectRoot(), 'plugins', 'responders', 'scanner', 'windows', 'test', 'fixtures');
interface Fixture {
  readonly tool: 'pe-sieve' | 'hollows-hunter';
  readonly stdout: string | null;
  readonly stderr?: string;
  readonly exit: number;
}
const index = (JSON.parse(readFileSync(join(FIXTURES, 'index.json'), 'utf8')) as { fixtures: Record<string, Fixture> }).fixtures;
const read = (rel: string) => readFileSync(join(FIXTURES, rel), 'utf8');
const DIR = 'C:\\ProgramData\\Vigil\\scans\\4242-20261208T054500Z-a1b2c3';

function run(name: string, exit?: number): ScanInfo {
  const fx = index[name];
  assert.ok(fx, `fixture ${name}`);
  const stdout = fx.stdout ? read(fx.stdout) : '';
  const ctx = { pid: 4242, ...(fx.stderr ? { stderr: read(fx.stderr) } : {}) };
  return fx.tool === 'pe-sieve' ? peSieveResult(stdout, exit ?? fx.exit, DIR, ctx) : hollowsHunterResult(stdout, exit ?? fx.exit, DIR, ctx);
}

/** The result without its reason, which is checked by pattern. */
function check(info: ScanInfo, expected: Omit<ScanInfo, 'reason'>, reason: RegExp): void {
  const { reason: got, ...rest } = info;
  assert.deepEqual(rest, expected);
  assert.match(got ?? '', reason);
}

const ZERO = { implanted_pe: 0, implanted_shc: 0, replaced: 0, hdr_modified: 0, patched: 0, iat_hooked: 0, unreachable_file: 0, other: 0 };
const pe = (over: Omit<ScanInfo, 'scanner' | 'report_dir'>): Omit<ScanInfo, 'reason'> => ({ scanner: 'pe-sieve', report_dir: DIR, ...over });
const hh = (over: Omit<ScanInfo, 'scanner' | 'report_dir'>): Omit<ScanInfo, 'reason'> => ({ scanner: 'hollows-hunter', report_dir: DIR, ...over });

test('every fixture in the index is mapped by a test below', () => {
  const tested = new Set([...PE_CASES.keys(), ...HH_CASES.keys(), 'pe-sieve/error-file', 'pe-sieve/no-report']);
  assert.deepEqual(Object.keys(index).filter((n) => !tested.has(n)), []);
});

const PE_CASES = new Map<string, [Omit<ScanInfo, 'reason'>, RegExp]>([
  ['pe-sieve/clean', [pe({ verdict: 'clean', findings: [], regions: [], counts: { scanned: 42, skipped: 0, errors: 0, suspicious: 0, ...ZERO } }), /^PE-sieve: 42 modules scanned, nothing suspicious$/]],
  [
    'pe-sieve/replaced',
    [
      pe({
        verdict: 'suspicious',
        findings: ['replaced', 'hdr_modified'],
        regions: [
          { start: '0x7ff6a1b20000', end: '0x7ff6a1b4c000', kind: 'replaced', path: 'C:\\Users\\victim\\AppData\\Local\\Temp\\svchost.exe' },
          { start: '0x7ffb3c410000', end: '0x7ffb3c42f000', kind: 'hdr_modified', path: 'C:\\Windows\\System32\\version.dll' },
        ],
        counts: { scanned: 37, skipped: 0, errors: 0, suspicious: 2, ...ZERO, replaced: 1, hdr_modified: 1, dumped: 2 },
      }),
      /2 suspicious of 37 modules scanned \(replaced 1, hdr_modified 1\)/,
    ],
  ],
  [
    'pe-sieve/patched',
    [
      pe({
        verdict: 'suspicious',
        findings: ['patched'],
        regions: [
          { start: '0x7ffb3e9d0000', end: '0x7ffb3ebc8000', kind: 'patched', path: 'C:\\Windows\\System32\\ntdll.dll' },
          { start: '0x7ffb3d1a0000', end: '0x7ffb3d25d000', kind: 'patched', path: 'C:\\Windows\\System32\\kernel32.dll' },
        ],
        counts: { scanned: 88, skipped: 1, errors: 0, suspicious: 2, ...ZERO, patched: 2 },
      }),
      /patched 2/,
    ],
  ],
  [
    'pe-sieve/iat-hooked',
    [
      pe({
        verdict: 'suspicious',
        findings: ['iat_hooked'],
        regions: [{ start: '0x400000', end: '0x45a000', kind: 'iat_hooked', path: 'C:\\Program Files (x86)\\Tool\\tool.exe' }],
        counts: { scanned: 21, skipped: 0, errors: 0, suspicious: 1, ...ZERO, iat_hooked: 1 },
      }),
      /iat_hooked 1/,
    ],
  ],
  [
    'pe-sieve/implanted',
    [
      pe({
        verdict: 'suspicious',
        findings: ['implanted_pe', 'implanted_shc'],
        regions: [
          { start: '0x1f0a2b40000', end: '0x1f0a2b43000', kind: 'implanted_shc', perms: 'PAGE_EXECUTE_READWRITE', path: '[MEM_PRIVATE]' },
          { start: '0x1f0a2c10000', end: '0x1f0a2c11000', kind: 'implanted_shc', perms: 'PAGE_EXECUTE_READ', path: '\\Device\\HarddiskVolume3\\Users\\victim\\Downloads\\update.bin' },
          // An artefact (PE) hit: PE-sieve writes protection 0 (unknown), so no perms.
          { start: '0x1f0a2d00000', end: '0x1f0a2d1b000', kind: 'implanted_pe', path: '[MEM_PRIVATE]' },
        ],
        counts: { scanned: 30, skipped: 0, errors: 0, suspicious: 3, ...ZERO, implanted_pe: 1, implanted_shc: 2, dumped: 3 },
      }),
      /implanted_pe 1, implanted_shc 2/,
    ],
  ],
  [
    'pe-sieve/threads',
    [
      pe({
        verdict: 'suspicious',
        findings: ['implanted_shc', 'thread:SUS_START', 'thread:SUS_IP', 'thread:SUS_RET', 'thread:SUS_CALLSTACK_SHC'],
        regions: [
          { start: '0x2a7c3b10000', end: '0x2a7c3b12000', kind: 'implanted_shc', perms: 'PAGE_EXECUTE_READWRITE', path: '[thread 7316]' },
          // alloc_protection differs from curr_protection: the current one is the region's.
          { start: '0x2a7c3c20000', end: '0x2a7c3c21000', kind: 'implanted_shc', perms: 'PAGE_EXECUTE_READ', path: '[thread 8120]' },
        ],
        counts: { scanned: 44, skipped: 0, errors: 0, suspicious: 2, ...ZERO, implanted_shc: 2 },
      }),
      /implanted_shc 2/,
    ],
  ],
  [
    'pe-sieve/unreachable',
    [
      // PE-sieve gives unreachable modules an error status: exit 1, yet the finding is kept.
      pe({
        verdict: 'clean',
        findings: ['unreachable_file'],
        regions: [{ start: '0x7ffb20a10000', end: '0x7ffb20a34000', kind: 'unreachable_file', path: 'C:\\Users\\victim\\AppData\\Roaming\\deleted_payload.dll' }],
        counts: { scanned: 25, skipped: 0, errors: 1, suspicious: 0, ...ZERO, unreachable_file: 1 },
      }),
      /nothing suspicious; 1 module file could not be read \(unreachable_file\)$/,
    ],
  ],
  [
    'pe-sieve/malformed-header',
    [
      pe({
        verdict: 'suspicious',
        findings: ['other'],
        regions: [{ start: '0x7ffb11e00000', end: '0x7ffb11e09000', kind: 'other', path: 'C:\\Windows\\System32\\shellext.dll' }],
        counts: { scanned: 120, skipped: 0, errors: 0, suspicious: 1, ...ZERO, other: 1 },
      }),
      /other 1/,
    ],
  ],
  ['pe-sieve/error-report', [pe({ verdict: 'error' }), /^PE-sieve could not scan the process: Could not open the process: Access Denied$/]],
  ['pe-sieve/help', [pe({ verdict: 'error' }), /refused the arguments \(exit 0: it printed its help\); this is not a clean scan/]],
  [
    'pe-sieve/unescaped-path',
    [
      pe({
        verdict: 'suspicious',
        findings: ['patched'],
        // `C:\Windows\System32\ntdll.dll` written raw: `\n` is part of the path, not a newline.
        regions: [{ start: '0x7ffb3e9d0000', end: '0x7ffb3ebc8000', kind: 'patched', path: 'C:\\Windows\\System32\\ntdll.dll' }],
        counts: { scanned: 19, skipped: 0, errors: 0, suspicious: 1, ...ZERO, patched: 1 },
      }),
      /unescaped strings \(repaired\)/,
    ],
  ],
  ['pe-sieve/truncated', [pe({ verdict: 'error' }), /exited 2 \(suspicious\) but its report cannot be read: .* at line 50 column 12 \(offset 1100\); the raw output is kept in raw_report\.json$/]],
]);

for (const [name, [expected, reason]] of PE_CASES) {
  test(`PE-sieve fixture ${name} maps to its scan.result`, () => check(run(name), expected, reason));
}

const HH_CASES = new Map<string, [Omit<ScanInfo, 'reason'>, RegExp]>([
  [
    'hollows-hunter/clean',
    [hh({ verdict: 'clean', findings: [], regions: [], counts: { scanned: 1, failed: 0, suspicious: 0, scan_time_ms: 1375, ...ZERO } }), /^HollowsHunter: 1 process scanned, nothing suspicious$/],
  ],
  [
    'hollows-hunter/suspicious',
    [
      hh({
        verdict: 'suspicious',
        findings: ['implanted_pe', 'implanted_shc', 'replaced', 'hdr_modified'],
        regions: [],
        // Sums over the three processes; patched/iat_hooked are absent without /hooks and /iat.
        counts: { scanned: 3, failed: 1, suspicious: 3, scan_time_ms: 9012, ...ZERO, implanted_pe: 1, implanted_shc: 3, replaced: 1, hdr_modified: 1 },
      }),
      /^HollowsHunter: 3 suspicious of 3 processes scanned: 4412 rundll32\.exe \(implanted_pe 1, implanted_shc 2\); 5120 powershell\.exe \(implanted_shc 1\); 6004 svchost\.exe \(replaced 1, hdr_modified 1\); 1 could not be scanned$/,
    ],
  ],
  ['hollows-hunter/etw-failure', [hh({ verdict: 'error' }), /^HollowsHunter failed \(exit -1: .*\): Cannot start ETW: the profile \("HH_ETWProfile\.ini"\) is empty$/]],
]);

for (const [name, [expected, reason]] of HH_CASES) {
  test(`HollowsHunter fixture ${name} maps to its scan.result`, () => check(run(name), expected, reason));
}

test('exit codes: -1 arrives as 4294967295 (Windows) or 255 (POSIX wait status); 0 is never clean', () => {
  assert.equal(normalizeExitCode(4294967295), -1);
  assert.equal(normalizeExitCode(255), -1);
  assert.equal(normalizeExitCode(-1), -1);
  assert.equal(normalizeExitCode(2), 2);
  assert.equal(normalizeExitCode(null), undefined);
  for (const exit of [-1, 255, 4294967295]) assert.equal(run('pe-sieve/error-report', exit).verdict, 'error');
  // Exit 0 with a perfectly clean report is still an error: 0 means help / bad arguments.
  check(run('pe-sieve/clean', 0), pe({ verdict: 'error' }), /refused the arguments/);
  check(run('hollows-hunter/clean', 0), hh({ verdict: 'error' }), /refused the arguments/);
  check(run('pe-sieve/clean', 3221225477), pe({ verdict: 'error' }), /exited with code -1073741819, which it does not document/);
  check(run('hollows-hunter/suspicious', 7), hh({ verdict: 'error' }), /exited with code 7/);
  assert.match(peSieveResult('', null, DIR).reason ?? '', /without an exit code/);
});

test('exit code and report disagreeing: the exit code decides, the reason says so', () => {
  const a = run('pe-sieve/clean', 2);
  assert.equal(a.verdict, 'suspicious');
  assert.match(a.reason ?? '', /exit code 2 \(suspicious\) but the report lists nothing suspicious: the verdict follows the exit code/);
  const b = run('pe-sieve/replaced', 1);
  assert.equal(b.verdict, 'clean');
  assert.deepEqual(b.findings, ['replaced', 'hdr_modified'], 'the findings stay as the report gives them');
  assert.match(b.reason ?? '', /but the report lists 2 suspicious entries \(replaced 1, hdr_modified 1\): the verdict follows the exit code \(1, clean\)/);
  const c = run('hollows-hunter/clean', 2);
  assert.equal(c.verdict, 'suspicious');
  assert.match(c.reason ?? '', /exit code 2 \(suspicious\) but the summary lists nothing suspicious/);
  const d = run('hollows-hunter/suspicious', 1);
  assert.equal(d.verdict, 'clean');
  assert.match(d.reason ?? '', /but the summary lists 3 suspicious processes .*: the verdict follows the exit code \(1, clean\)/);
});

test('PE-sieve exit -1: the error report file, a report that scanned nothing, nothing at all', () => {
  const fromFile = peSieveResult('', 4294967295, DIR, { errorReport: read('pe-sieve/error_report.file.json') });
  check(fromFile, pe({ verdict: 'error' }), /^PE-sieve could not scan the process: Could not open the process: Invalid Parameter$/);
  const none = peSieveResult('', 4294967295, DIR, { stderr: '\n[-] Failed to create the process reflection\n' });
  check(none, pe({ verdict: 'error' }), /without an error report: \[-\] Failed to create the process reflection; \/report SE makes it write one$/);
  // PE-sieve prints a scan_report and exits -1 when no module could be scanned.
  const empty = read('pe-sieve/clean.txt').replace('"total" : 42', '"total" : 0');
  const r = peSieveResult(empty, -1, DIR);
  assert.equal(r.verdict, 'error');
  assert.match(r.reason ?? '', /scanned no module \(exit -1\)/);
  assert.equal(r.counts?.['scanned'], 0);
});

test('a report for another pid than the one asked is named in the reason', () => {
  const r = peSieveResult(read('pe-sieve/patched.txt'), 2, DIR, { pid: 4240 });
  assert.match(r.reason ?? '', /the report is for pid 4242, pid 4240 was asked/);
});

test('exit 1/2 with output that is no report: error, never clean', () => {
  check(peSieveResult('', 1, DIR), pe({ verdict: 'error' }), /exited 1 \(nothing suspicious\) but printed no report/);
  check(peSieveResult('{"something": 1}', 1, DIR), pe({ verdict: 'error' }), /has no scan_report/);
  check(peSieveResult('garbage', 2, DIR), pe({ verdict: 'error' }), /cannot be read: no JSON object in the output at line 1 column 1/);
  check(hollowsHunterResult(read('hollows-hunter/etw-failure.txt'), 1, DIR), hh({ verdict: 'error' }), /cannot be read: no JSON object/);
  check(hollowsHunterResult('{"x": 1}', 2, DIR), hh({ verdict: 'error' }), /has no scan summary/);
});

test('HollowsHunter exit 1 with nothing scanned is an error (the pid is gone or could not be opened)', () => {
  const text = read('hollows-hunter/clean.txt').replace('"scanned_count" : 1', '"scanned_count" : 0').replace('"failed_count" : 0', '"failed_count" : 1');
  const r = hollowsHunterResult(text, 1, DIR);
  assert.equal(r.verdict, 'error');
  assert.match(r.reason ?? '', /scanned no process \(exit 1 with scanned_count 0, failed_count 1\)/);
});

test('HollowsHunter lists at most ten processes in the reason', () => {
  const procs = Array.from({ length: 13 }, (_, i) => `{"pid": ${100 + i}, "name": "p${i}.exe", "implanted_shc": 1}`).join(',');
  const r = hollowsHunterResult(`banner\n{"scanned_count": 13, "failed_count": 0, "suspicious_count": 13, "suspicious": [${procs}]}`, 2, DIR);
  assert.equal(r.counts?.['implanted_shc'], 13);
  assert.match(r.reason ?? '', /109 p9\.exe \(implanted_shc 1\); … and 3 more$/);
});

test('tolerant JSON: raw backslashes, raw quotes and line breaks in strings; positions of failures in the input', () => {
  const raw = parseToolJson('{"a" : "C:\\new\\table\\x.dll", "b" : "C:\\\\ok\\\\x", "c" : "say "hi", now", "d" : "two\nlines"}');
  assert.ok(raw.ok);
  assert.deepEqual(raw.value, { a: 'C:\\new\\table\\x.dll', b: 'C:\\ok\\x', c: 'say "hi", now', d: 'two\nlines' });
  assert.equal(raw.repaired, true);
  const clean = parseToolJson('log line\n[*] more\n{"a": [1, 2]}\n');
  assert.ok(clean.ok);
  assert.deepEqual(clean.value, { a: [1, 2] });
  assert.equal(clean.repaired, false);
  // An appended second object (summary.json in /loop mode): the first is kept.
  const two = parseToolJson('{"a": 1}\n{"a": 2}\n');
  assert.ok(two.ok && two.trailing);
  assert.deepEqual(two.value, { a: 1 });
  // A failure after a repaired string still names the offset in the original text.
  const text = 'x\n{"p" : "C:\\dir\\file", "q" : tru}';
  const bad = parseToolJson(text);
  assert.ok(!bad.ok);
  assert.equal(text.slice(bad.position, bad.position + 3), 'tru', `position ${bad.position}: ${bad.message}`);
  assert.equal(bad.line, 2);
  const cut = parseToolJson('{"a" : "unterminated');
  assert.ok(!cut.ok);
  assert.equal(cut.position, 20);
});

test('regions are bounded: past MAX_REGIONS they are counted, not listed', () => {
  const entry = (i: number) => `{"code_scan" : {"status" : 1, "module" : "${(0x10000000 + i * 0x1000).toString(16)}", "module_size" : "1000", "patches" : 1}}`;
  const scans = Array.from({ length: MAX_REGIONS + 6 }, (_, i) => entry(i)).join(',\n');
  const text = `{"scan_report" : {"pid" : 1, "scanned" : {"total" : 1, "modified" : {"total" : ${MAX_REGIONS + 6}, "patched" : ${MAX_REGIONS + 6}}}, "scans" : [${scans}]}}`;
  const r = peSieveResult(text, 2, DIR);
  assert.equal(r.regions?.length, MAX_REGIONS);
  assert.equal(r.counts?.['regions_dropped'], 6);
  assert.match(r.reason ?? '', /6 regions beyond the first 1024 are not listed/);
});

test('Windows page protections by name', () => {
  assert.equal(protectionName('40'), 'PAGE_EXECUTE_READWRITE');
  assert.equal(protectionName('20'), 'PAGE_EXECUTE_READ');
  assert.equal(protectionName('104'), 'PAGE_READWRITE|PAGE_GUARD');
  assert.equal(protectionName('0'), undefined);
  assert.equal(protectionName('3'), '0x3');
  assert.equal(protectionName('not hex'), undefined);
});
