#!/usr/bin/env node
// Runs the compiled benchmarks (dist/bench/*.js), one child process each, in name order.
// `npm run bench` builds first; `npm run bench -- bus b1` runs only benches whose name
// contains one of the arguments. Each bench prints one JSON object on stdout; the runner
// collects them into bench/results/<date-time>.json and prints a table of ratios and floors.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { basename, join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { clearTimeout } from 'node:timers';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const distBench = join(root, 'dist', 'bench');
// Compiled helper modules that are not benchmarks themselves.
const HELPERS = new Set(['common']);
const TIMEOUT_S = Number(process.env['BENCH_TIMEOUT_S'] ?? 900);
const filters = process.argv.slice(2);

if (!existsSync(distBench)) {
  console.error('run-bench: dist/bench not found: build first (npm run build; npm run bench does it)');
  process.exit(1);
}
const benches = readdirSync(distBench)
  .filter((f) => f.endsWith('.js') && !f.endsWith('.test.js'))
  .map((f) => basename(f, '.js'))
  .filter((name) => !HELPERS.has(name))
  .filter((name) => filters.length === 0 || filters.some((p) => name.includes(p)))
  .sort();
if (benches.length === 0) {
  console.error(`run-bench: no benchmark matches ${filters.join(' ')} (have: ${readdirSync(distBench).filter((f) => f.endsWith('.js')).join(', ')})`);
  process.exit(1);
}

/** The JSON object a bench printed: the whole stdout, else the last top-level `{` block. */
function parseOutput(stdout) {
  const text = stdout.trim();
  try {
    return JSON.parse(text);
  } catch {
    const at = text.lastIndexOf('\n{');
    if (at >= 0) return JSON.parse(text.slice(at + 1));
    throw new Error('no JSON object on stdout');
  }
}

function runOne(name) {
  const file = join(distBench, `${name}.js`);
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [file], {
      cwd: root,
      env: { ...process.env, VIGIL_PROJECT_ROOT: root },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d.toString('utf8')));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
    }, TIMEOUT_S * 1000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const seconds = Math.round((performance.now() - t0) / 100) / 10;
      if (timedOut) return resolve({ seconds, error: `timed out after ${TIMEOUT_S} s (BENCH_TIMEOUT_S)` });
      try {
        const result = parseOutput(out);
        // A bench that exits 1 with its verdict `pass: false` failed a gate: BELOW FLOOR, not an error.
        if (code !== 0 && !(code === 1 && result.pass === false)) return resolve({ seconds, error: `exited ${code ?? signal}`, result });
        resolve({ seconds, result });
      } catch (err) {
        resolve({ seconds, error: `exited ${code ?? signal}: ${err.message}`, stdout_tail: out.slice(-2000) });
      }
    });
  });
}

/** `a=1, b=2` for an object of numbers, the number itself, or '' when absent. */
function flat(v) {
  if (v === undefined || v === null) return '';
  if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return v.map(flat).join(' | ');
  return Object.entries(v)
    .map(([k, x]) => (typeof x === 'object' && x !== null ? `${k}: {${flat(x)}}` : `${k}=${x}`))
    .join(', ');
}

function status(run) {
  if (run.error) return 'ERROR';
  const r = run.result ?? {};
  if (typeof r.skipped === 'string') return 'skipped';
  const verdict = typeof r.ok === 'boolean' ? r.ok : typeof r.pass === 'boolean' ? r.pass : undefined;
  if (verdict !== undefined) return verdict ? 'ok' : 'BELOW FLOOR';
  if (typeof r.floor === 'number' && typeof r.ratio === 'number') return r.ratio >= r.floor ? 'ok' : 'BELOW FLOOR';
  return 'measured';
}

const results = {};
const started = new Date();
for (const name of benches) {
  process.stderr.write(`bench ${name} ...\n`);
  const run = await runOne(name);
  results[name] = run;
  process.stderr.write(`bench ${name}: ${status(run)} in ${run.seconds} s\n`);
}

const machine = {
  cpus: cpus().length,
  cpu_model: cpus()[0]?.model ?? 'unknown',
  total_mem_gb: Math.round(totalmem() / 2 ** 30),
  loadavg_at_end: loadavg().map((x) => Math.round(x * 100) / 100),
  node: process.version,
  platform: `${process.platform}-${process.arch}`,
};
const dir = join(root, 'bench', 'results');
mkdirSync(dir, { recursive: true });
const stamp = started.toISOString().replace(/:/g, '-').replace(/\..*$/, '');
const outFile = join(dir, `${stamp}.json`);
writeFileSync(outFile, `${JSON.stringify({ started: started.toISOString(), machine, filters, results }, null, 2)}\n`);

const rows = benches.map((name) => {
  const run = results[name];
  const r = run.result ?? {};
  const note = run.error ?? (typeof r.skipped === 'string' ? r.skipped : '');
  return [name, status(run), flat(r.ratio), flat(r.floors ?? r.floor), `${run.seconds}`, note];
});
const head = ['bench', 'status', 'ratio (vs peer)', 'floor', 'seconds', 'note'];
const widths = head.map((h, i) => Math.min(70, Math.max(h.length, ...rows.map((row) => row[i].length))));
const line = (cells) => cells.map((c, i) => (c.length > widths[i] ? `${c.slice(0, widths[i] - 1)}…` : c.padEnd(widths[i]))).join('  ');
console.log(line(head));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const row of rows) console.log(line(row));
console.log(`\nresults: ${relative(root, outFile)} (machine: ${machine.cpus} cpus, load ${machine.loadavg_at_end.join(' ')})`);
process.exitCode = Object.values(results).some((r) => r.error) ? 1 : 0;
