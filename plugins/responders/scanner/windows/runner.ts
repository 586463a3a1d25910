/**
 * Runs PE-sieve (one process) or HollowsHunter against a pid and returns the normalized
 * ScanInfo. The binary is started without a shell, with a fixed argument shape, its stdout
 * bounded, and its process tree killed on timeout or abort. Every failure to run the tool
 * (missing binary, no permission, timeout, unreadable report) is a ScanInfo with verdict
 * `error` and a reason: the scan never throws onto the bus.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { ScanInfo, ScanRegion } from '../../../../core/index.js';
import { PeSieveError } from './errors.js';
import { MAX_REGIONS, hollowsHunterResult, normalizeExitCode, peSieveResult, scanReportParts } from './report.js';
import { field, isObject, parseToolJson } from './tool-json.js';

export type WindowsScanner = 'pe-sieve' | 'hollows-hunter';

export interface WindowsScanOptions {
  /** Path of pe-sieve64.exe / hollows_hunter64.exe (a test passes a stand-in here). */
  readonly binary: string;
  readonly pid: number;
  /** This scan's own folder (see `perScanReportDir`): created here, and must be new or empty. */
  readonly reportDir: string;
  /** Further flags (`/shellc A`, `/threads`, `/jlvl 1` …); checked with `checkExtraArgs`. */
  readonly extraArgs?: readonly string[];
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
  /** Cap on the stdout kept (default 16 MiB); beyond it the output is dropped and the scan is an error. */
  readonly maxOutputBytes?: number;
}

export const DEFAULT_MAX_OUTPUT_BYTES = 16 * 1024 * 1024;
const MAX_STDERR_BYTES = 64 * 1024;
const MAX_EXTRA_ARGS = 64;
const MAX_ARG_LENGTH = 1024;
/** After a kill, how long to wait for the pipes to close before giving up on them. */
const CLOSE_GRACE_MS = 5000;

const TOOL_NAME: Readonly<Record<WindowsScanner, string>> = { 'pe-sieve': 'PE-sieve', 'hollows-hunter': 'HollowsHunter' };
const CONFIG_KEY: Readonly<Record<WindowsScanner, string>> = { 'pe-sieve': 'scanner.pe_sieve', 'hollows-hunter': 'scanner.hollows_hunter' };

/** Flags Vigil passes itself: a second copy would change where the report goes or what it looks like. */
const OWN_FLAGS = ['pid', 'quiet', 'json', 'dir'];
/**
 * HollowsHunter flags that widen or repeat the scan (/pname, /loop: summary.json stops being
 * JSON), move the reports out of the scan's folder (/uniqd: the folder is already unique) or act
 * on processes (/kill, /suspend: it opens the pid after the scan without checking that it is
 * still the same process; Vigil does its own, checked, actions).
 */
const HH_REFUSED = ['pname', 'loop', 'kill', 'suspend', 'uniqd'];

/** The flag an argument names (`/PID`, `-pid`, `--pid` → `pid`), or undefined for a value. */
function flagName(arg: string): string | undefined {
  const m = /^(?:\/|--?)([A-Za-z?][A-Za-z0-9_?]*)$/.exec(arg);
  return m ? m[1]!.toLowerCase() : undefined;
}

/**
 * The configured extra arguments, checked: strings without NUL or line breaks, none of the
 * flags Vigil passes itself, none of HollowsHunter's acting flags. Throws VIGIL_ERR_PESIEVE_ARGS.
 */
export function checkExtraArgs(tool: WindowsScanner, args: readonly unknown[]): string[] {
  const name = TOOL_NAME[tool];
  if (!Array.isArray(args)) throw new PeSieveError('VIGIL_ERR_PESIEVE_ARGS', `${name}: extra arguments must be a list of strings`);
  if (args.length > MAX_EXTRA_ARGS) throw new PeSieveError('VIGIL_ERR_PESIEVE_ARGS', `${name}: at most ${MAX_EXTRA_ARGS} extra arguments, ${args.length} given`);
  const out: string[] = [];
  for (const [i, a] of args.entries()) {
    if (typeof a !== 'string' || a === '' || a.length > MAX_ARG_LENGTH || /[\0\r\n]/.test(a)) {
      throw new PeSieveError('VIGIL_ERR_PESIEVE_ARGS', `${name}: extra argument ${i + 1} must be a non-empty string of at most ${MAX_ARG_LENGTH} characters without NUL or line breaks`);
    }
    const f = flagName(a);
    if (f !== undefined && OWN_FLAGS.includes(f)) {
      throw new PeSieveError('VIGIL_ERR_PESIEVE_ARGS', `${name}: extra argument "${a}" is refused: Vigil passes /pid, /quiet, /json and /dir itself`);
    }
    if (f !== undefined && tool === 'hollows-hunter' && HH_REFUSED.includes(f)) {
      throw new PeSieveError('VIGIL_ERR_PESIEVE_ARGS', `${name}: extra argument "${a}" is refused: Vigil scans one pid per run into its own folder and takes its own, identity-checked, actions`);
    }
    out.push(a);
  }
  return out;
}

/**
 * The command line, always with arguments (PE-sieve started without any waits for a key press):
 * `/pid N /quiet /json /dir DIR` then the extra arguments. HollowsHunter takes the same shape;
 * its /pid is a list, one pid here (no quotes: there is no shell to strip them).
 */
export function scanArgs(pid: number, reportDir: string, extraArgs: readonly string[] = []): string[] {
  return ['/pid', String(pid), '/quiet', '/json', '/dir', reportDir, ...extraArgs];
}

/** A new folder name for one scan under `base`: `<pid>-<UTC time>-<random>`. */
export function perScanReportDir(base: string, pid: number, now: Date = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return join(base, `${pid}-${stamp}-${randomBytes(3).toString('hex')}`);
}

function errorInfo(tool: WindowsScanner, reportDir: string | undefined, reason: string, started?: number): ScanInfo {
  return {
    scanner: tool,
    verdict: 'error',
    reason,
    ...(reportDir !== undefined ? { report_dir: reportDir } : {}),
    ...(started !== undefined ? { duration_ms: Date.now() - started } : {}),
  };
}

/**
 * Kill the tool and whatever it started: its process group on POSIX, `taskkill /T /F` on
 * Windows. A kill that only reached the tool itself is reported through `problem`.
 */
function killTree(child: ChildProcess, problem: (why: string) => void): void {
  const pid = child.pid;
  if (pid === undefined) return;
  if (process.platform === 'win32') {
    const taskkill = join(process.env['SystemRoot'] ?? 'C:\\Windows', 'System32', 'taskkill.exe');
    execFile(taskkill, ['/PID', String(pid), '/T', '/F'], { windowsHide: true }, (err) => {
      if (!err) return;
      // taskkill missing or refused: at least the tool itself goes.
      problem(`taskkill /T failed (${err.message.split('\n')[0] ?? ''}); only the tool itself was killed`);
      child.kill();
    });
    return;
  }
  try {
    process.kill(-pid, 'SIGKILL');
  } catch (e) {
    // ESRCH: the group is gone already; anything else: it is not ours to signal. The tool alone, then.
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') problem(`its process group could not be killed (${(e as NodeJS.ErrnoException).code ?? 'error'}); only the tool itself was killed`);
    child.kill('SIGKILL');
  }
}

interface Ran {
  readonly stdout: string;
  readonly stdoutBytes: number;
  readonly droppedBytes: number;
  readonly stderr: string;
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly spawnError?: NodeJS.ErrnoException;
  readonly timedOut: boolean;
  readonly aborted: boolean;
  /** What went wrong with a kill (a partial kill, pipes left open after it). */
  readonly killProblems: readonly string[];
}

function execute(binary: string, args: readonly string[], cwd: string, timeoutMs: number, maxOut: number, signal: AbortSignal | undefined): Promise<Ran> {
  return new Promise((done) => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let dropped = 0;
    let errBytes = 0;
    let timedOut = false;
    let aborted = false;
    let finished = false;
    let exitCode: number | null = null;
    let exitSignal: NodeJS.Signals | null = null;
    const killProblems: string[] = [];
    let child: ChildProcess;
    try {
      child = spawn(binary, args, {
        shell: false,
        windowsHide: true,
        cwd,
        stdio: ['ignore', 'pipe', 'pipe'],
        // Its own process group on POSIX, so a kill reaches everything it started.
        detached: process.platform !== 'win32',
      });
    } catch (e) {
      // spawn throws synchronously for arguments it refuses (e.g. a NUL in the path).
      done({ stdout: '', stdoutBytes: 0, droppedBytes: 0, stderr: '', exitCode: null, signal: null, spawnError: e as NodeJS.ErrnoException, timedOut, aborted, killProblems });
      return;
    }
    let graceTimer: NodeJS.Timeout | undefined;
    const finish = (spawnError?: NodeJS.ErrnoException) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      if (graceTimer) clearTimeout(graceTimer);
      signal?.removeEventListener('abort', onAbort);
      const stdout = Buffer.concat(out).toString('utf8');
      done({
        stdout,
        stdoutBytes: outBytes,
        droppedBytes: dropped,
        stderr: Buffer.concat(err).toString('utf8'),
        exitCode,
        signal: exitSignal,
        ...(spawnError ? { spawnError } : {}),
        timedOut,
        aborted,
        killProblems,
      });
    };
    const stop = () => {
      if (graceTimer) return; // killed already (a timeout and an abort)
      killTree(child, (why) => killProblems.push(why));
      // A survivor holding the pipes open must not hold the scan: give up on them after a grace.
      graceTimer = setTimeout(() => {
        killProblems.push(`its output was still open ${CLOSE_GRACE_MS} ms after the kill (a process it started may survive)`);
        child.stdout?.destroy();
        child.stderr?.destroy();
        finish();
      }, CLOSE_GRACE_MS);
    };
    const timer = setTimeout(() => {
      timedOut = true;
      stop();
    }, timeoutMs);
    const onAbort = () => {
      aborted = true;
      stop();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout?.on('data', (b: Buffer) => {
      const room = maxOut - outBytes;
      if (room <= 0) {
        dropped += b.length;
        return;
      }
      const kept = b.length > room ? b.subarray(0, room) : b;
      out.push(kept);
      outBytes += kept.length;
      dropped += b.length - kept.length;
    });
    child.stderr?.on('data', (b: Buffer) => {
      if (errBytes >= MAX_STDERR_BYTES) return;
      const kept = b.subarray(0, MAX_STDERR_BYTES - errBytes);
      err.push(kept);
      errBytes += kept.length;
    });
    child.once('error', (e: NodeJS.ErrnoException) => finish(e));
    child.once('exit', (code, sig) => {
      exitCode = code;
      exitSignal = sig;
    });
    child.once('close', (code, sig) => {
      exitCode = code ?? exitCode;
      exitSignal = sig ?? exitSignal;
      finish();
    });
  });
}

/** Create the scan's folder; it must be new or empty, so that no earlier report is read as this one's. */
async function prepareDir(dir: string): Promise<string | undefined> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const present = await readdir(dir);
    if (present.length > 0) {
      return `VIGIL_ERR_PESIEVE_REPORT_DIR: report folder ${dir} already holds ${present.length} entries from another scan; each scan needs a new folder`;
    }
    return undefined;
  } catch (e) {
    return `VIGIL_ERR_PESIEVE_REPORT_DIR: report folder ${dir} cannot be created: ${(e as Error).message}`;
  }
}

/** A file the tool wrote, or why not: absent (undefined text, no problem), too large, unreadable. */
async function readSmall(path: string, max: number): Promise<{ text?: string; problem?: string }> {
  try {
    const st = await stat(path);
    if (!st.isFile()) return { problem: `${path} is not a file` };
    if (st.size > max) return { problem: `${path} is larger than ${max} bytes` };
    return { text: await readFile(path, 'utf8') };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    return { problem: `${path} cannot be read: ${(e as Error).message}` };
  }
}

function spawnReason(tool: WindowsScanner, binary: string, e: NodeJS.ErrnoException): string {
  const name = TOOL_NAME[tool];
  if (e.code === 'ENOENT') return `${name} not found at ${binary}: set ${CONFIG_KEY[tool]}.binary`;
  if (e.code === 'EACCES' || e.code === 'EPERM') return `${name} at ${binary} cannot be run (${e.code}: not executable, or no permission): check the file and ${CONFIG_KEY[tool]}.binary`;
  return `${name} at ${binary} could not be started (${e.code ?? 'error'}): ${e.message}`;
}

async function runTool(tool: WindowsScanner, options: WindowsScanOptions): Promise<ScanInfo> {
  try {
    return await runToolOnce(tool, options);
  } catch (e) {
    // A scan never throws onto the bus: whatever went wrong is the result's reason.
    return errorInfo(tool, undefined, `${TOOL_NAME[tool]} runner failed: ${e instanceof Error ? e.message : String(e)}`);
  }
}

async function runToolOnce(tool: WindowsScanner, options: WindowsScanOptions): Promise<ScanInfo> {
  const started = Date.now();
  const name = TOOL_NAME[tool];
  const pid = options.pid;
  if (!Number.isSafeInteger(pid) || pid <= 0 || pid > 0xffffffff) return errorInfo(tool, undefined, `${name}: pid must be a positive integer, got ${String(pid)}`);
  // Node's timers hold at most 2^31-1 ms; a larger value would fire at once.
  if (!Number.isFinite(options.timeoutMs) || options.timeoutMs <= 0 || options.timeoutMs > 2 ** 31 - 1) {
    return errorInfo(tool, undefined, `${name}: timeoutMs must be a positive number of at most ${2 ** 31 - 1} ms, got ${String(options.timeoutMs)}`);
  }
  const maxOut = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  if (!Number.isSafeInteger(maxOut) || maxOut <= 0) return errorInfo(tool, undefined, `${name}: maxOutputBytes must be a positive integer, got ${String(options.maxOutputBytes)}`);
  let extra: string[];
  try {
    extra = checkExtraArgs(tool, options.extraArgs ?? []);
  } catch (e) {
    if (e instanceof PeSieveError) return errorInfo(tool, undefined, `${e.code}: ${e.message}`);
    throw e;
  }
  if (typeof options.binary !== 'string' || options.binary.trim() === '') return errorInfo(tool, undefined, `${name}: no binary configured: set ${CONFIG_KEY[tool]}.binary`);
  const dir = resolve(options.reportDir);
  const dirProblem = await prepareDir(dir);
  if (dirProblem) return errorInfo(tool, undefined, dirProblem);
  if (options.signal?.aborted) return errorInfo(tool, dir, `${name} scan cancelled before it started`, started);

  const ran = await execute(options.binary, scanArgs(pid, dir, extra), dir, options.timeoutMs, maxOut, options.signal);
  if (ran.spawnError) return errorInfo(tool, dir, spawnReason(tool, options.binary, ran.spawnError), started);

  // The raw stdout stays beside the tool's own files, whatever it holds.
  let keepProblem = '';
  try {
    await writeFile(join(dir, 'raw_report.json'), ran.stdout, { mode: 0o600 });
  } catch (e) {
    keepProblem = `; raw_report.json could not be written: ${(e as Error).message}`;
  }
  const withTail = (info: ScanInfo): ScanInfo => ({ ...info, duration_ms: Date.now() - started, ...(keepProblem ? { reason: (info.reason ?? '') + keepProblem } : {}) });

  const killed = ran.killProblems.length ? `killed, but ${ran.killProblems.join('; ')}` : 'its process tree was killed';
  if (ran.timedOut) return withTail(errorInfo(tool, dir, `${name} timed out after ${options.timeoutMs} ms; ${killed}`));
  if (ran.aborted) return withTail(errorInfo(tool, dir, `${name} scan cancelled; ${killed}`));

  const procDir = join(dir, `process_${pid}`);
  const code = normalizeExitCode(ran.exitCode);
  let info: ScanInfo;
  if (tool === 'pe-sieve') {
    // With an empty stdout (no scan_report to print) the details may only be in error_report.json.
    const file = code === -1 && ran.stdout.trim() === '' ? await readSmall(join(procDir, 'error_report.json'), maxOut) : {};
    info = peSieveResult(ran.stdout, ran.exitCode, dir, { pid, stderr: ran.stderr, ...(file.text !== undefined ? { errorReport: file.text } : {}) });
    if (file.problem) info = { ...info, reason: `${info.reason ?? ''}; ${file.problem}` };
  } else {
    info = hollowsHunterResult(ran.stdout, ran.exitCode, dir, { pid, stderr: ran.stderr });
    if (info.verdict === 'suspicious') info = await withProcessRegions(info, ran.stdout, dir, maxOut);
  }
  if (ran.droppedBytes > 0) {
    info = { ...info, verdict: 'error', reason: `${name}'s output exceeded maxOutputBytes (${maxOut} bytes; ${ran.droppedBytes} more dropped): ${info.reason ?? ''}` };
  }
  return withTail(info);
}

/**
 * HollowsHunter's summary has no addresses; the PE-sieve report it writes for each suspicious
 * process (`process_<pid>/scan_report.json`) has them. Reports that are absent or unreadable
 * leave the summary as it is, and the reason says which.
 */
async function withProcessRegions(info: ScanInfo, stdout: string, dir: string, maxBytes: number): Promise<ScanInfo> {
  const parsed = parseToolJson(stdout);
  const procs = parsed.ok && Array.isArray(field(parsed.value, 'suspicious')) ? (field(parsed.value, 'suspicious') as unknown[]) : [];
  const regions: ScanRegion[] = [];
  let dropped = 0;
  const findings = new Set(info.findings ?? []);
  const missing: number[] = [];
  for (const p of procs.filter(isObject)) {
    const pid = p['pid'];
    if (typeof pid !== 'number' || !Number.isSafeInteger(pid)) continue;
    const file = await readSmall(join(dir, `process_${pid}`, 'scan_report.json'), maxBytes);
    const report = file.text === undefined ? undefined : parseToolJson(file.text);
    // The file holds the scan_report object itself.
    const obj = report?.ok ? (isObject(field(report.value, 'scan_report')) ? field(report.value, 'scan_report') : report.value) : undefined;
    if (!isObject(obj)) {
      missing.push(pid);
      continue;
    }
    const parts = scanReportParts(obj);
    const room = MAX_REGIONS - regions.length;
    regions.push(...parts.regions.slice(0, Math.max(0, room)));
    dropped += Math.max(0, parts.regions.length - Math.max(0, room)) + (parts.counts['regions_dropped'] ?? 0);
    for (const f of parts.findings) findings.add(f);
  }
  const note = missing.length ? `; no readable process report for pid ${missing.join(', ')}` : '';
  const counts = dropped > 0 ? { ...info.counts, regions_dropped: dropped } : info.counts;
  return { ...info, regions, findings: [...findings], ...(counts ? { counts } : {}), reason: (info.reason ?? '') + note };
}

/** Scan one process with PE-sieve: `/pid N /quiet /json /dir DIR` plus the extra arguments. */
export function runPeSieve(options: WindowsScanOptions): Promise<ScanInfo> {
  return runTool('pe-sieve', options);
}

/** Scan one process with HollowsHunter (same argument shape); its summary, plus the regions of its per-process reports. */
export function runHollowsHunter(options: WindowsScanOptions): Promise<ScanInfo> {
  return runTool('hollows-hunter', options);
}
