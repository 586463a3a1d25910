/**
 * B3: EVTX parsing of the shared corpus (performance.md).
 *
 * Vigil's parser (streaming reader, one thread) against libevtx's `evtxexport -f xml`, run
 * in the same process run over the same files, one child process at a time writing to
 * /dev/null. Reported: records/s for both and their ratio, Vigil with XML rendering too,
 * record counts (Vigil vs `evtxinfo`), peak RSS of this process, and the peak RSS of a
 * child parsing logs of growing size (built from the corpus's own chunks) to show memory
 * stays flat with file size.
 *
 * Child mode: `b3-evtx.ts --rss-child FILE` parses FILE and prints {records, max_rss_mb}.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { datasetsDir } from '../core/paths.js';
import { readEvtxRecords } from '../lib/evtx/index.js';
import { crc32 } from '../lib/evtx/crc32.js';
import { listFiles } from '../lib/files/index.js';

const CHUNK = 0x10000;
const HEADER = 4096;

async function parseFile(file: string, renderXml: boolean): Promise<number> {
  let n = 0;
  for await (const _r of readEvtxRecords(file, { renderXml })) n++;
  return n;
}

function maxRssMb(): number {
  return Math.round((process.resourceUsage().maxRSS / 1024) * 10) / 10;
}

if (process.argv[2] === '--rss-child') {
  const file = process.argv[3] as string;
  const t0 = performance.now();
  const records = await parseFile(file, false);
  const s = (performance.now() - t0) / 1000;
  process.stdout.write(JSON.stringify({ records, seconds: s, max_rss_mb: maxRssMb() }) + '\n');
  process.exit(0);
}

// The corpus is listed here rather than through common.ts so that the RSS child loads only the parser.
async function corpusFiles(): Promise<string[]> {
  const root = join(datasetsDir(), 'evtx-attack-samples');
  if (!existsSync(root)) return [];
  return (await listFiles([root], '.evtx')).sort();
}

function toolPresent(name: string): boolean {
  return spawnSync(name, ['-V'], { stdio: 'ignore' }).status === 0;
}

/**
 * Run evtxexport over files one at a time with stdout to /dev/null, from one shell whose
 * `times` reports the children's CPU seconds: the machine is shared, so CPU time is the
 * steadier figure; wall time is reported too.
 */
function timeTool(args: string[], files: string[]): { wall: number; cpu: number } {
  const script = 'for f in "$@"; do evtxexport ' + args.join(' ') + ' "$f" >/dev/null 2>&1; done; times';
  const t0 = performance.now();
  const r = spawnSync('bash', ['-c', script, 'b3', ...files], { encoding: 'utf8' });
  const wall = (performance.now() - t0) / 1000;
  // `times` prints two lines (shell, children): "0m1.234s 0m0.567s".
  const lines = r.stdout.trim().split('\n');
  const kids = (lines[lines.length - 1] ?? '').match(/(\d+)m([\d.]+)s/g) ?? [];
  const cpu = kids.reduce((sum, t) => {
    const m = /(\d+)m([\d.]+)s/.exec(t);
    return sum + (m ? Number(m[1]) * 60 + Number(m[2]) : 0);
  }, 0);
  return { wall, cpu };
}

async function evtxinfoCount(file: string): Promise<number> {
  return new Promise((resolve) => {
    const c = spawn('evtxinfo', [file], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    c.on('error', () => resolve(-1));
    c.on('close', () => {
      const m = /Number of records\s*:\s*(\d+)/.exec(out);
      resolve(m ? Number(m[1]) : -1);
    });
  });
}

/** A log of `chunks` chunks made by cycling the corpus's non-empty chunks. */
function buildLargeLog(path: string, source: Buffer[], chunks: number): void {
  const pool: Buffer[] = [];
  for (const b of source) {
    for (let off = HEADER; off + CHUNK <= b.length; off += CHUNK) {
      if (b.toString('latin1', off, off + 7) === 'ElfChnk') pool.push(b.subarray(off, off + CHUNK));
    }
  }
  const head = Buffer.from((source[0] as Buffer).subarray(0, HEADER));
  head.writeBigUInt64LE(0n, 8);
  head.writeBigUInt64LE(BigInt(chunks - 1), 16);
  head.writeUInt16LE(Math.min(chunks, 0xffff), 42);
  head.writeUInt32LE(0, 120);
  head.writeUInt32LE(crc32(head, 0, 120), 124);
  const fd = openSync(path, 'w');
  try {
    writeFileSync(fd, head);
    for (let i = 0; i < chunks; i++) writeFileSync(fd, pool[i % pool.length] as Buffer);
  } finally {
    closeSync(fd);
  }
}

function rssChild(file: string): { records: number; seconds: number; max_rss_mb: number } {
  const r = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--rss-child', file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`rss child failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() as string) as { records: number; seconds: number; max_rss_mb: number };
}

const files = await corpusFiles();
if (files.length === 0) {
  process.stdout.write(JSON.stringify({ bench: 'b3-evtx', skipped: 'EVTX corpus not found (set VIGIL_DATASETS)' }) + '\n');
  process.exit(0);
}
const bytes = files.reduce((n, f) => n + statSync(f).size, 0);

// Vigil: one warm-up pass, then the median of timed passes, streaming from disk.
const perFile: number[] = [];
for (const f of files) perFile.push(await parseFile(f, false));
const records = perFile.reduce((a, b) => a + b, 0);
const passes: number[] = [];
const cpuPasses: number[] = [];
for (let k = 0; k < 5; k++) {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  let n = 0;
  for (const f of files) n += await parseFile(f, false);
  const c = process.cpuUsage(c0);
  passes.push((performance.now() - t0) / 1000);
  cpuPasses.push((c.user + c.system) / 1e6);
  if (n !== records) throw new Error('record count changed between passes');
}
passes.sort((a, b) => a - b);
cpuPasses.sort((a, b) => a - b);
const vigilS = passes[2] as number;
const vigilCpu = cpuPasses[2] as number;
const xmlPasses: number[] = [];
for (let k = 0; k < 3; k++) {
  const t0 = performance.now();
  for (const f of files) await parseFile(f, true);
  xmlPasses.push((performance.now() - t0) / 1000);
}
xmlPasses.sort((a, b) => a - b);
const vigilXmlS = xmlPasses[1] as number;
const peakRss = maxRssMb();

const result: Record<string, unknown> = {
  bench: 'b3-evtx',
  files: files.length,
  corpus_mb: Math.round((bytes / 1048576) * 10) / 10,
  records,
  vigil_seconds: Math.round(vigilS * 1000) / 1000,
  vigil_records_per_s: Math.round(records / vigilS),
  vigil_records_per_cpu_s: Math.round(records / vigilCpu),
  vigil_xml_records_per_s: Math.round(records / vigilXmlS),
  peak_rss_mb: peakRss,
};

const tmp = mkdtempSync(join(tmpdir(), 'vigil-b3-'));
try {
  const hasTool = toolPresent('evtxexport');
  if (hasTool) {
    const tool = timeTool(['-f', 'xml'], files);
    result['evtxexport_seconds'] = Math.round(tool.wall * 1000) / 1000;
    result['evtxexport_records_per_s'] = Math.round(records / tool.wall);
    result['evtxexport_records_per_cpu_s'] = tool.cpu > 0 ? Math.round(records / tool.cpu) : null;
    result['ratio'] = Math.round((tool.wall / vigilS) * 100) / 100;
    result['ratio_cpu'] = tool.cpu > 0 ? Math.round((tool.cpu / vigilCpu) * 100) / 100 : null;
    result['ratio_xml'] = Math.round((tool.wall / vigilXmlS) * 100) / 100;
    if (toolPresent('evtxinfo')) {
      // Untimed: record counts per file against libevtx, two processes at a time.
      const counts = new Array<number>(files.length).fill(-1);
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < files.length) {
          const i = next++;
          counts[i] = await evtxinfoCount(files[i] as string);
        }
      };
      await Promise.all([worker(), worker()]);
      result['evtxinfo_records'] = counts.reduce((a, b) => a + b, 0);
      result['files_with_count_mismatch'] = counts.filter((c, i) => c !== perFile[i]).length;
    }
  } else {
    result['evtxexport_records_per_s'] = null;
    result['ratio'] = null;
    result['note'] = 'evtxexport not installed (apt-get install libevtx-utils): no peer measured';
  }

  // Memory against file size: one child per size, each parsing a log built from corpus chunks.
  const source = files.map((f) => readFileSync(f));
  const sizes = (process.env['B3_CHUNKS'] ?? '64,256,1024').split(',').map(Number);
  const rss: Record<string, unknown>[] = [];
  for (const chunks of sizes) {
    const p = join(tmp, `large-${chunks}.evtx`);
    buildLargeLog(p, source, chunks);
    const child = rssChild(p);
    const row: Record<string, unknown> = {
      file_mb: Math.round((statSync(p).size / 1048576) * 10) / 10,
      records: child.records,
      vigil_records_per_s: Math.round(child.records / child.seconds),
      max_rss_mb: child.max_rss_mb,
    };
    if (hasTool && chunks === sizes[1]) {
      const t = timeTool(['-f', 'xml'], [p]);
      row['evtxexport_records_per_s'] = Math.round(child.records / t.wall);
      row['ratio'] = Math.round((t.wall / child.seconds) * 100) / 100;
    }
    rss.push(row);
    rmSync(p, { force: true });
  }
  result['rss_by_size'] = rss;
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

process.stdout.write(JSON.stringify(result, null, 2) + '\n');
