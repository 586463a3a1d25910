/**
 * B4: end-to-end replay. `vigil replay` over the EVTX-ATTACK-SAMPLES corpus with the SigmaHQ
 * rules (plus the native rules and correlation of the default config), detections written
 * to JSONL and to the SQLite alert store, run as a child process exactly as an operator runs
 * it. Against the parse-only peer: Vigil's EVTX parser alone over the same files, in this
 * process, in the same run.
 *
 * The corpus is small (about 8k records) next to the fixed start-up cost (Sigma import,
 * rule compile), so the replay input is the corpus repeated B4_COPIES times (symbolic links
 * to the same files), and a second replay over the smallest file alone measures start-up;
 * the steady rate is (events(full) - events(small)) / (wall(full) - wall(small)).
 *
 * Reported: wall seconds, events/s from the replay's own JSON summary (start-up included),
 * the steady events/s, peak RSS of the replay process (`/usr/bin/time -v`, else VmHWM polled
 * from /proc), detections, and ratios against the parser alone. Needs the compiled build
 * (dist/, `npm run build`; the bench runner builds first).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { readEvtxRecords } from '../lib/evtx/index.js';
import { evtxCorpusDir, evtxFiles, maxRssMb, printJson, projectRoot, round, sigmaRulesDir, skip } from './common.js';

const BENCH = 'b4-replay';
const COPIES = Math.max(1, Number(process.env['B4_COPIES'] ?? 5));

const corpusDir = evtxCorpusDir();
const sigmaDir = sigmaRulesDir();
if (corpusDir === undefined || sigmaDir === undefined) {
  skip(BENCH, 'datasets not found: need ../shared/datasets/evtx-attack-samples and ../shared/datasets/sigma/rules (or set VIGIL_DATASETS)');
}
const root = projectRoot();
const cli = join(root, 'bin', 'vigil.js');
if (!existsSync(join(root, 'dist', 'cli', 'main.js'))) skip(BENCH, 'dist/ is not built: run `npm run build` (npm run bench does it)');

type Rec = Record<string, unknown>;
const isRec = (v: unknown): v is Rec => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The default config with live outputs and sensors off and every path inside `dir`. */
function benchConfig(dir: string): string {
  const base: unknown = parseYaml(readFileSync(join(root, 'config', 'default.yaml'), 'utf8'));
  if (!isRec(base) || !isRec(base['agent']) || !isRec(base['plugins'])) throw new Error('config/default.yaml: unexpected layout (agent / plugins missing)');
  const agent = base['agent'];
  const plugins = base['plugins'];
  agent['data_dir'] = join(dir, 'var');
  const plugin = (id: string): Rec => {
    const p = plugins[id];
    if (!isRec(p)) throw new Error(`config/default.yaml: plugin "${id}" missing`);
    if (!isRec(p['config'])) p['config'] = {};
    return p;
  };
  plugin('procfs')['enabled'] = false;
  plugin('console')['enabled'] = false;
  // Relative paths resolve against the config's folder: name the project's rules absolutely.
  (plugin('rule-engine')['config'] as Rec)['rule_paths'] = [join(root, 'rules')];
  (plugin('correlation')['config'] as Rec)['rule_paths'] = [join(root, 'rules', 'correlation')];
  (plugin('jsonl')['config'] as Rec)['path'] = join(dir, 'var', 'detections.jsonl');
  (plugin('alert-store')['config'] as Rec)['path'] = join(dir, 'var', 'alerts.db');
  return toYaml(base);
}

/** `copies` folders of symbolic links to the corpus files (the replay dedupes by path only). */
function corpusCopies(dir: string, files: readonly string[], copies: number): string {
  const top = join(dir, 'corpus');
  for (let c = 0; c < copies; c++) {
    for (const f of files) {
      const link = join(top, `copy-${c}`, relative(corpusDir as string, f));
      mkdirSync(dirname(link), { recursive: true });
      symlinkSync(f, link);
    }
  }
  return top;
}

interface ReplayRun {
  wall_s: number;
  peak_rss_mb: number | null;
  rss_source: string;
  exit_code: number | null;
  summary: Rec;
}

function hasGnuTime(): boolean {
  return existsSync('/usr/bin/time');
}

/** Run `vigil replay` once; peak RSS from GNU time -v, else from /proc/<pid>/status VmHWM. */
async function replay(input: string, dir: string, config: string, tag: string): Promise<ReplayRun> {
  const args = [cli, 'replay', input, '--sigma', sigmaDir as string, '--out', join(dir, `d-${tag}.jsonl`), '--no-progress', '--json', '--config', config];
  const gnu = hasGnuTime();
  const t0 = performance.now();
  const child = gnu ? spawn('/usr/bin/time', ['-v', process.execPath, ...args], { cwd: root }) : spawn(process.execPath, args, { cwd: root });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
  let hwmKb = 0;
  const poll = gnu
    ? undefined
    : setInterval(() => {
        try {
          const m = /VmHWM:\s*(\d+)\s*kB/.exec(readFileSync(`/proc/${child.pid ?? 0}/status`, 'utf8'));
          if (m) hwmKb = Math.max(hwmKb, Number(m[1]));
        } catch {
          // The process has exited between two polls: the last reading stands.
        }
      }, 20);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  const wall = (performance.now() - t0) / 1000;
  if (poll) clearInterval(poll);
  let summary: Rec;
  try {
    const v: unknown = JSON.parse(out);
    if (!isRec(v)) throw new Error('not an object');
    summary = v;
  } catch (e) {
    throw new Error(`vigil replay (${tag}) exited ${String(code)} without a JSON summary (${e instanceof Error ? e.message : String(e)}); stderr:\n${err.slice(-2000)}`);
  }
  let rss: number | null = hwmKb > 0 ? round(hwmKb / 1024, 1) : null;
  if (gnu) {
    const m = /Maximum resident set size \(kbytes\):\s*(\d+)/.exec(err);
    rss = m ? round(Number(m[1]) / 1024, 1) : null;
  }
  return { wall_s: round(wall, 3), peak_rss_mb: rss, rss_source: gnu ? '/usr/bin/time -v' : '/proc VmHWM polled every 20 ms', exit_code: code, summary };
}

/** The parse-only peer: every record of every file decoded, nothing else. */
async function parseOnly(files: readonly string[], copies: number): Promise<{ records: number; seconds: number }> {
  let records = 0;
  const t0 = performance.now();
  for (let c = 0; c < copies; c++) {
    for (const f of files) for await (const _r of readEvtxRecords(f)) records++;
  }
  return { records, seconds: (performance.now() - t0) / 1000 };
}

const num = (v: unknown): number => (typeof v === 'number' ? v : 0);

const files = await evtxFiles(corpusDir);
const tmp = mkdtempSync(join(tmpdir(), 'vigil-b4-'));
try {
  const config = join(tmp, 'vigil.yaml');
  writeFileSync(config, benchConfig(tmp));
  const input = corpusCopies(tmp, files, COPIES);
  const smallest = files.reduce((a, b) => (statSync(b).size < statSync(a).size ? b : a));
  const smallDir = join(tmp, 'small');
  mkdirSync(smallDir);
  symlinkSync(smallest, join(smallDir, basename(smallest)));

  // Parser alone first (also warms the page cache for the replay), then the replays.
  await parseOnly(files, 1);
  const parse = await parseOnly(files, COPIES);
  const small = await replay(smallDir, tmp, config, 'small');
  const full = await replay(input, tmp, config, 'full');

  const fullEvents = num(full.summary['events']);
  const smallEvents = num(small.summary['events']);
  const steadySeconds = full.wall_s - small.wall_s;
  const steady = steadySeconds > 0 ? (fullEvents - smallEvents) / steadySeconds : 0;
  const parseRate = parse.records / parse.seconds;
  const summaryRate = num(full.summary['events_per_second']);
  const detectionsFile = join(tmp, 'd-full.jsonl');
  const detectionLines = existsSync(detectionsFile) ? readFileSync(detectionsFile, 'utf8').split('\n').filter((l) => l.length > 0).length : 0;
  const skipped = isRec(full.summary['skipped']) ? full.summary['skipped'] : {};
  const errors = isRec(full.summary['errors']) ? full.summary['errors'] : {};

  printJson({
    bench: BENCH,
    node: process.version,
    corpus: { evtx_files: files.length, copies: COPIES, records: num(full.summary['records']), events: fullEvents },
    replay: {
      wall_s: full.wall_s,
      summary_seconds: num(full.summary['seconds']),
      events_per_s_summary: summaryRate,
      events_per_s_wall: Math.round(fullEvents / full.wall_s),
      startup_wall_s: small.wall_s,
      events_per_s_steady: Math.round(steady),
      peak_rss_mb: full.peak_rss_mb,
      startup_peak_rss_mb: small.peak_rss_mb,
      rss_source: full.rss_source,
      detections: num(full.summary['detections']),
      detections_jsonl_lines: detectionLines,
      rules_that_fired: Array.isArray(full.summary['detections_by_rule']) ? full.summary['detections_by_rule'].length : 0,
      skipped,
      errors,
      exit_code: full.exit_code,
    },
    parse_only: {
      records: parse.records,
      seconds: round(parse.seconds, 3),
      records_per_s: Math.round(parseRate),
      bench_process_peak_rss_mb: maxRssMb(),
    },
    checks: {
      every_record_replayed: num(full.summary['records']) === parse.records,
      detections_written: detectionLines === num(full.summary['detections']),
      exit_code_zero: full.exit_code === 0 && small.exit_code === 0,
    },
    // No floor is set for B4: the ratios place the whole pipeline against its own parser.
    ratio: {
      steady_vs_parse_only: round(steady / parseRate, 3),
      summary_vs_parse_only: round(summaryRate / parseRate, 3),
    },
  });
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
