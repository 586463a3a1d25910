/**
 * B6: YARA throughput (MB/s) over one buffer of B6_MIB MiB (default 100) with sparse planted
 * markers, for a small rule set (10 rules) and a generated 1,000-rule set (text strings, hex
 * strings with wildcards and jumps, a regex in every 20th rule), with YARA-X and libyara-wasm
 * through lib/yara, against the `yara` command (YARA 4.2.3) in the same run.
 *
 * Peers, over the same bytes written to a temporary file (read from the page cache):
 * * `yara -w rules.yar file`: the plain command, its own compile included;
 * * `yarac` once, then `yara -w -C rules.yarc file`: precompiled, load and scan only.
 * Vigil's engines are timed both ways too: compile + scan (YARA-X compiles once, libyara-wasm
 * compiles inside every scan) and scan only.
 *
 * Gate (issue 14): YARA-X ≥ 0.8× the plain command, compile included, for both rule sets.
 * Each figure is the median of B6_ROUNDS rounds (default 3; libyara-wasm 1 round per set:
 * it is the slow fallback, and each 100 MiB call leaks that much module memory, so the module
 * is reloaded between calls, untimed). Every engine must report the same number of matching
 * rules, or the bench fails.
 *
 * Environment: B6_MIB (size, e.g. 8 for a quick run), B6_ROUNDS.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { compileRules, engineAvailable, reloadWasmEngine, type YaraSource } from '../lib/yara/index.js';
import { printJson, round, skip } from './common.js';

const BENCH = 'b6-yara';
const MIB = Number(process.env.B6_MIB ?? 100);
const ROUNDS = Math.max(1, Number(process.env.B6_ROUNDS ?? 3));
const FLOOR = 0.8;
const YARA = '/usr/bin/yara';
const YARAC = '/usr/bin/yarac';

if (spawnSync(YARA, ['--version']).status !== 0) skip(BENCH, `the yara command is not installed at ${YARA} (Debian package yara)`);
const xMissing = engineAvailable('yara-x');
if (xMissing !== undefined) skip(BENCH, `YARA-X does not load here: ${xMissing}`);

/** xorshift32 bytes: incompressible, the same on every run. */
function fill(b: Buffer, seed: number): void {
  const words = new Uint32Array(b.buffer, b.byteOffset, b.length >>> 2);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    words[i] = x;
  }
}

function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

function word(next: () => number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += ALNUM[next() % ALNUM.length];
  return s;
}

function hexBytes(next: () => number, n: number): number[] {
  return Array.from({ length: n }, () => next() & 0xff);
}

const h2 = (b: number): string => b.toString(16).padStart(2, '0').toUpperCase();

const SMALL = String.raw`
rule b6_plain : marker { meta: score = 50 strings: $a = "VIGIL-B6-MARKER" condition: $a }
rule b6_hex { strings: $h = { 4D 5A 90 00 ?? 00 [4-8] 50 45 00 00 } condition: $h }
rule b6_hex_alt { strings: $h = { E8 ?? ?? ?? ?? ( 5D | 58 ) 48 8B } condition: $h }
rule b6_regex { strings: $r = /cmd\.exe \/c [a-z]{4,12}/ condition: $r }
rule b6_nocase { strings: $a = "InvokeShellcode" nocase condition: $a }
rule b6_wide { strings: $w = "ReflectiveLoader" wide ascii condition: $w }
rule b6_count { strings: $a = "B6-REPEAT" condition: #a >= 2 }
rule b6_two { strings: $a = "B6-FIRST" $b = "B6-SECOND" condition: $a and $b }
rule b6_magic { condition: uint32(0) == 0x36424956 }
rule b6_xor { strings: $x = "b6-xor-marker" xor(1-2) condition: $x }
`;

/** 1,000 rules as a rule pack looks: two or three strings each, text and hex, some regexes. */
function largeSet(): { text: string; planted: { offset: number; bytes: Buffer }[] } {
  const next = rng(0xb6);
  const rules: string[] = [];
  const planted: { offset: number; bytes: Buffer }[] = [];
  for (let i = 0; i < 1000; i++) {
    const s1 = `${word(next, 6)}_${word(next, 6)}`;
    const hb = hexBytes(next, 8);
    const hex = `${h2(hb[0] ?? 0)} ${h2(hb[1] ?? 0)} ?? ${h2(hb[3] ?? 0)} [1-4] ${h2(hb[5] ?? 0)} ${h2(hb[6] ?? 0)} ${h2(hb[7] ?? 0)}`;
    const lines = [`rule gen_${i} : generated {`, '  meta:', `    id = ${i}`, '  strings:', `    $s = "${s1}"`, `    $h = { ${hex} }`];
    if (i % 20 === 0) lines.push(`    $r = /${word(next, 5)}[0-9]{2,6}\\.(dll|exe)/`);
    if (i % 3 === 0) lines.push(`    $w = "${word(next, 10)}" wide`);
    lines.push('  condition:', '    any of them', '}');
    rules.push(lines.join('\n'));
    // Every 50th rule gets its text string planted once: sparse hits, as in real memory.
    if (i % 50 === 0) planted.push({ offset: 0, bytes: Buffer.from(s1, 'latin1') });
  }
  return { text: rules.join('\n\n') + '\n', planted };
}

function buildBuffer(large: { offset: number; bytes: Buffer }[]): Buffer {
  const b = Buffer.allocUnsafe(MIB * 1024 * 1024);
  fill(b, 0x6b6);
  b.write('VIB6', 0, 'latin1');
  const markers: Buffer[] = [
    Buffer.from('VIGIL-B6-MARKER'),
    Buffer.from([0x4d, 0x5a, 0x90, 0x00, 0x03, 0x00, 1, 2, 3, 4, 5, 0x50, 0x45, 0x00, 0x00]),
    Buffer.from('cmd.exe /c whoami'),
    Buffer.from('INVOKESHELLCODE'),
    Buffer.from('ReflectiveLoader', 'utf16le'),
    Buffer.from('B6-REPEAT'),
    Buffer.from('B6-FIRST'),
    Buffer.from('B6-SECOND'),
    Buffer.from([...'b6-xor-marker'].map((c) => c.charCodeAt(0) ^ 1)),
    ...large.map((p) => p.bytes),
  ];
  // Sparse: one marker per MiB or so, cycling through them.
  const step = Math.max(4096, Math.floor(b.length / Math.max(markers.length * 2, MIB)));
  let k = 0;
  for (let off = 8192; off + 64 < b.length; off += step) {
    const m = markers[k++ % markers.length] as Buffer;
    m.copy(b, off);
  }
  return b;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

interface Timing {
  seconds: number;
  mb_s: number;
  rules_matched: number;
}

function timing(seconds: number[], matched: number, bytes: number): Timing {
  const s = median(seconds);
  return { seconds: round(s, 3), mb_s: round(bytes / 1e6 / s, 1), rules_matched: matched };
}

function runCli(args: string[]): { seconds: number; matched: number } {
  const t0 = performance.now();
  const r = spawnSync(YARA, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`yara ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return { seconds, matched: r.stdout.split('\n').filter((l) => l.trim() !== '').length };
}

const dir = mkdtempSync(join(tmpdir(), 'vigil-b6-'));
try {
  const large = largeSet();
  const t0 = performance.now();
  const data = buildBuffer(large.planted);
  const buildS = (performance.now() - t0) / 1000;
  const file = join(dir, 'data.bin');
  writeFileSync(file, data);
  const bytes = data.length;

  const sets: { name: string; text: string }[] = [
    { name: 'small', text: SMALL },
    { name: 'rules_1000', text: large.text },
  ];
  const results: Record<string, unknown> = {};
  const ratios: Record<string, number> = {};
  const gates: Record<string, { ratio: number; floor: number; pass: boolean }> = {};
  let hitsAgree = true;

  for (const set of sets) {
    const sources: YaraSource[] = [{ namespace: set.name, text: set.text, path: `${set.name}.yar` }];
    const rulesFile = join(dir, `${set.name}.yar`);
    const compiledFile = join(dir, `${set.name}.yarc`);
    writeFileSync(rulesFile, set.text);

    // The plain command and the precompiled one, warmed once (page cache, binary).
    runCli(['-w', rulesFile, file]);
    const yc0 = performance.now();
    const yc = spawnSync(YARAC, ['-w', rulesFile, compiledFile], { encoding: 'utf8' });
    const yaracS = (performance.now() - yc0) / 1000;
    if (yc.status !== 0) throw new Error(`yarac failed: ${yc.stderr}`);
    const cliPlain: number[] = [];
    const cliPre: number[] = [];
    let cliMatched = 0;
    for (let r = 0; r < ROUNDS; r++) {
      const a = runCli(['-w', rulesFile, file]);
      const b = runCli(['-w', '-C', compiledFile, file]);
      cliPlain.push(a.seconds);
      cliPre.push(b.seconds);
      cliMatched = a.matched;
      if (b.matched !== a.matched) hitsAgree = false;
    }

    // YARA-X: compile once per round (as a worker does), then scan.
    const xTotal: number[] = [];
    const xScan: number[] = [];
    const xCompile: number[] = [];
    let xMatched = 0;
    for (let r = 0; r < ROUNDS; r++) {
      const c0 = performance.now();
      const rules = await compileRules('yara-x', sources);
      const c1 = performance.now();
      xMatched = rules.scan(data).length;
      const c2 = performance.now();
      xCompile.push((c1 - c0) / 1000);
      xScan.push((c2 - c1) / 1000);
      xTotal.push((c2 - c0) / 1000);
    }

    // libyara-wasm: the compile check once, then one scan (which compiles again inside).
    await reloadWasmEngine();
    const w0 = performance.now();
    const wRules = await compileRules('libyara-wasm', sources);
    const w1 = performance.now();
    const wMatched = wRules.scan(data).length;
    const w2 = performance.now();
    await reloadWasmEngine();

    if (xMatched !== cliMatched || wMatched !== cliMatched) hitsAgree = false;
    const plain = timing(cliPlain, cliMatched, bytes);
    const pre = timing(cliPre, cliMatched, bytes);
    const xt = timing(xTotal, xMatched, bytes);
    const xs = timing(xScan, xMatched, bytes);
    const wt = timing([(w2 - w0) / 1000], wMatched, bytes);
    const ws = timing([(w2 - w1) / 1000], wMatched, bytes);
    results[set.name] = {
      rules: set.name === 'small' ? 10 : 1000,
      yara_cli: plain,
      yara_cli_precompiled: { ...pre, yarac_seconds: round(yaracS, 3) },
      yara_x: { ...xt, compile_seconds: round(median(xCompile), 3), scan_only: xs },
      libyara_wasm: { ...wt, compile_check_seconds: round((w1 - w0) / 1000, 3), scan_only_including_its_compile: ws },
    };
    const gate = round(plain.seconds / xt.seconds, 2);
    ratios[`${set.name}.yara_x_vs_cli`] = gate;
    ratios[`${set.name}.yara_x_scan_vs_cli_precompiled`] = round(pre.seconds / xs.seconds, 2);
    ratios[`${set.name}.libyara_wasm_vs_cli`] = round(plain.seconds / wt.seconds, 2);
    gates[`${set.name}.yara_x_vs_cli`] = { ratio: gate, floor: FLOOR, pass: gate >= FLOOR };
  }

  const pass = hitsAgree && Object.values(gates).every((g) => g.pass);
  for (const [k, g] of Object.entries(gates)) process.stderr.write(`${BENCH}: ${k} ${g.ratio}x (floor ${g.floor}x) ${g.pass ? 'PASS' : 'FAIL'}\n`);
  if (!hitsAgree) process.stderr.write(`${BENCH}: FAIL: the engines do not report the same number of matching rules\n`);
  printJson({
    bench: BENCH,
    mib: MIB,
    rounds: ROUNDS,
    buffer_build_seconds: round(buildS, 2),
    ratio: ratios,
    floors: { 'small.yara_x_vs_cli': FLOOR, 'rules_1000.yara_x_vs_cli': FLOOR },
    gates,
    hits_agree: hitsAgree,
    pass,
    results,
    note: 'ratios are peer seconds / engine seconds (> 1: the engine is faster); libyara-wasm compiles its rules inside every scan',
  });
  process.exitCode = pass ? 0 : 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
