/**
 * The Linux memory-region scanner: reads /proc/<pid>/maps, flags the regions where injected
 * code lives (anonymous executable memory, writable+executable memory, executable mappings of
 * deleted files and memfds, executable file segments whose bytes differ from the file), reads
 * the flagged regions from /proc/<pid>/mem and runs YARA over them. The answer is a ScanInfo;
 * a problem of the target (it exited, it may not be read, the pid names another process) is
 * `verdict: 'error'` with a reason, never an exception.
 */
import { open, readFile, readlink, type FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { ScanInfo, ScanMatch, ScanRegion } from '../../../../core/index.js';
import { DEFAULT_CLOCK_TICKS, parseBootTime, parseStat, PF_KTHREAD, readClockTicks, ticksToEpochMs, type ProcStat } from '../../../../lib/procfs/index.js';
import type { YaraRules } from '../../../../lib/yara/types.js';
import { compareRanges, dynamicSegment, hasTextRel, MAX_DYNAMIC_BYTES, parseElfHeader, parseLoads, programHeadersSize, type ElfLoad } from './elf.js';
import { MemscanError } from './errors.js';
import { regionMatches } from './matches.js';
import { errnoOf, readRegion } from './memory.js';
import { comparable, hexAddress, lineKinds, livePath, mapFilesName, parseMaps, type MapsRegion, type RegionKind } from './maps.js';

export const SCANNER_NAME = 'linux-memory';

/**
 * Programs that generate code at run time (their anonymous executable and W+X regions are
 * their JIT, not an injection), matched against the basename of /proc/<pid>/exe. A trailing
 * `*` matches a prefix.
 */
export const DEFAULT_JIT_ALLOW: readonly string[] = [
  'node',
  'nodejs',
  'deno',
  'bun',
  'electron',
  'code',
  'java',
  'dotnet',
  'mono',
  'mono-sgen',
  'luajit',
  'pypy',
  'pypy3',
  'julia',
  'beam.smp',
  'chrome',
  'chromium',
  'chromium-browser',
  'firefox',
  'firefox-esr',
  'firefox-bin',
  'thunderbird',
  'WebKitWebProcess',
  'gjs',
  'qemu-*',
];

export interface LinuxScanOptions {
  /** Where procfs is mounted (default /proc). */
  readonly procRoot?: string;
  /** Rules run over each flagged region's bytes; without them only the regions are judged. */
  readonly yara?: YaraRules;
  /** Bytes read from one region at most (the rest is counted as truncated). */
  readonly maxRegionBytes: number;
  /** Bytes read from all flagged regions of one scan at most. */
  readonly maxTotalBytes: number;
  /** Basenames of /proc/<pid>/exe whose anon_exec / wx regions are their JIT (see DEFAULT_JIT_ALLOW). */
  readonly jitAllow: readonly string[];
  /** Compare executable file-backed regions with their file (`patched_code`). */
  readonly compareElf: boolean;
  /** Bytes compared with files in one scan at most (default maxTotalBytes). */
  readonly maxCompareBytes?: number;
  /** The target's start, ms since the epoch, as Vigil's `start_time` (boot time + start ticks). */
  readonly expectStartTime?: number;
  /** The target's start in clock ticks since boot (/proc/<pid>/stat field 22). */
  readonly expectStartTicks?: number;
  /** Regions listed in the result at most (default 256); the rest are counted. */
  readonly maxReportedRegions?: number;
  /** YARA rule matches listed at most (default 256), strings per match (default 16). */
  readonly maxMatches?: number;
  readonly maxStringsPerMatch?: number;
  readonly signal?: AbortSignal;
}

export const REASON_EXITED = 'process exited';
export const REASON_IDENTITY = 'identity mismatch';

const COMPARE_CHUNK = 256 * 1024;
/** Kinds a JIT runtime's own code regions have: allowed, not findings, unless YARA matches. */
const JIT_KINDS: ReadonlySet<RegionKind> = new Set(['anon_exec', 'wx']);
const KIND_ORDER: readonly RegionKind[] = ['anon_exec', 'wx', 'deleted_exec', 'memfd_exec', 'patched_code'];

type Counts = Record<string, number>;

function newCounts(): Counts {
  return {
    regions_total: 0,
    regions_flagged: 0,
    regions_scanned: 0,
    bytes_scanned: 0,
    bytes_unreadable: 0,
    regions_partial: 0,
    truncated_regions: 0,
    truncated_by_region_limit: 0,
    truncated_by_total_limit: 0,
    jit_regions_allowed: 0,
    elf_segments_compared: 0,
    elf_bytes_compared: 0,
    elf_bytes_differing: 0,
    elf_bytes_differing_int3: 0,
    elf_textrel_segments: 0,
    uprobes_area: 0,
    elf_compare_truncated: 0,
    elf_compare_unavailable: 0,
    regions_unreported: 0,
    matches_unreported: 0,
    strings_unreported: 0,
  };
}

function positiveInt(name: string, v: number | undefined, optional: boolean): void {
  if (v === undefined && optional) return;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) {
    throw new MemscanError('VIGIL_ERR_MEMSCAN_OPTIONS', `${name} must be a positive integer, got ${String(v)}`);
  }
}

function checkOptions(pid: number, o: LinuxScanOptions): void {
  positiveInt('pid', pid, false);
  positiveInt('maxRegionBytes', o.maxRegionBytes, false);
  positiveInt('maxTotalBytes', o.maxTotalBytes, false);
  positiveInt('maxCompareBytes', o.maxCompareBytes, true);
  positiveInt('maxReportedRegions', o.maxReportedRegions, true);
  positiveInt('maxMatches', o.maxMatches, true);
  positiveInt('maxStringsPerMatch', o.maxStringsPerMatch, true);
  if (!Array.isArray(o.jitAllow) || o.jitAllow.some((n) => typeof n !== 'string' || n === '')) {
    throw new MemscanError('VIGIL_ERR_MEMSCAN_OPTIONS', 'jitAllow must be a list of non-empty program names');
  }
  for (const k of ['expectStartTime', 'expectStartTicks'] as const) {
    const v = o[k];
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < 0)) {
      throw new MemscanError('VIGIL_ERR_MEMSCAN_OPTIONS', `${k} must be a non-negative number, got ${String(v)}`);
    }
  }
}

/** Whether a program name is on the JIT allow-list (exact, or a `prefix*` entry). */
export function jitAllowed(name: string | undefined, allow: readonly string[]): boolean {
  if (name === undefined || name === '') return false;
  return allow.some((a) => (a.endsWith('*') ? name.startsWith(a.slice(0, -1)) : name === a));
}

/** A target problem, as the ScanInfo reason says it; undefined when the error is not one. */
async function targetReason(err: unknown, pid: number, what: string, root: string): Promise<string | undefined> {
  const code = errnoOf(err);
  if (code === 'ENOENT' || code === 'ESRCH') return REASON_EXITED;
  if (code === 'EACCES' || code === 'EPERM') {
    let yama: string;
    try {
      yama = `kernel.yama.ptrace_scope is ${(await readFile(`${root}/sys/kernel/yama/ptrace_scope`, 'utf8')).trim()} (1: only descendants without CAP_SYS_PTRACE, 2: only with CAP_SYS_PTRACE, 3: never)`;
    } catch (e) {
      // No Yama LSM in this kernel: the ordinary ptrace rules alone apply, and the reason says so.
      yama = errnoOf(e) === 'ENOENT' ? 'Yama is not active here (no kernel.yama.ptrace_scope)' : `kernel.yama.ptrace_scope unreadable (${errnoOf(e) ?? String(e)})`;
    }
    return (
      `permission denied (${code}) opening /proc/${pid}/${what}: reading another process's memory needs ptrace access ` +
      `(PTRACE_MODE_ATTACH_FSCREDS: the same uid and a dumpable target, or CAP_SYS_PTRACE); ${yama}`
    );
  }
  return undefined;
}

function errorInfo(reason: string, counts: Counts, t0: number): ScanInfo {
  return { scanner: SCANNER_NAME, verdict: 'error', reason, findings: [], counts, duration_ms: Math.round(performance.now() - t0) };
}

let clockTicks: Promise<number> | undefined;
/** CLK_TCK once per process (getconf), 100 when it cannot be run. */
function clockTicksOnce(): Promise<number> {
  clockTicks ??= readClockTicks(new AbortController().signal).then((v) => v ?? DEFAULT_CLOCK_TICKS);
  return clockTicks;
}

/** The identity check: undefined when the process is the expected one, else the reason. */
async function identityProblem(stat: ProcStat, o: LinuxScanOptions, root: string): Promise<string | undefined> {
  if (o.expectStartTicks !== undefined && stat.startTicks !== o.expectStartTicks) return REASON_IDENTITY;
  if (o.expectStartTime !== undefined) {
    const btime = parseBootTime(await readFile(`${root}/stat`, 'utf8'));
    if (btime === undefined) throw new MemscanError('VIGIL_ERR_MEMSCAN_READ', `${root}/stat has no btime line: the start time cannot be dated`);
    // The same formula every Linux source uses for start_time (lib/procfs), so equality is exact.
    if (ticksToEpochMs(stat.startTicks, btime, await clockTicksOnce()) !== o.expectStartTime) return REASON_IDENTITY;
  }
  return undefined;
}

async function readStat(pid: number, root: string): Promise<ProcStat> {
  return parseStat(await readFile(`${root}/${pid}/stat`, 'utf8'), `${root}/${pid}/stat`);
}

const exitedStates = new Set(['Z', 'X', 'x']);

interface Flagged {
  readonly region: MapsRegion;
  readonly kinds: RegionKind[];
  /** The region's anon_exec / wx kinds are the JIT of an allowed runtime. */
  readonly jit: boolean;
  diff?: number;
  matched: boolean;
}

interface FileLayout {
  /** undefined: not ELF, compare the whole mapped range. */
  readonly loads: ElfLoad[] | undefined;
  readonly textrel: boolean;
}

/** The ELF loads of a mapped file and whether it asks for text relocations. */
async function fileLayout(fh: FileHandle): Promise<FileLayout> {
  const head = Buffer.alloc(64);
  const { bytesRead } = await fh.read(head, 0, 64, 0);
  const h = parseElfHeader(head.subarray(0, bytesRead));
  if (!h) return { loads: undefined, textrel: false };
  const size = programHeadersSize(h);
  if (size === undefined) return { loads: undefined, textrel: false };
  const table = Buffer.alloc(size);
  const got = await fh.read(table, 0, size, Number(h.phoff));
  const phdrs = table.subarray(0, got.bytesRead);
  const dyn = dynamicSegment(h, phdrs);
  let textrel = false;
  if (dyn && dyn.to > dyn.from) {
    const len = Math.min(Number(dyn.to - dyn.from), MAX_DYNAMIC_BYTES);
    const buf = Buffer.alloc(len);
    const d = await fh.read(buf, 0, len, Number(dyn.from));
    textrel = hasTextRel(h, buf.subarray(0, d.bytesRead));
  }
  return { loads: parseLoads(h, phdrs), textrel };
}

/**
 * Open the exact file a region maps: /proc/<pid>/map_files/<range> (the mapped inode itself,
 * even deleted or replaced on disk since), else the path under /proc/<pid>/root when the inode
 * there is still the mapped one. Undefined when neither can be had.
 */
async function openMapped(pid: number, r: MapsRegion, root: string): Promise<FileHandle | undefined> {
  try {
    return await open(`${root}/${pid}/map_files/${mapFilesName(r)}`, 'r');
  } catch (err) {
    const code = errnoOf(err);
    if (code !== 'ENOENT' && code !== 'EACCES' && code !== 'EPERM') throw err;
  }
  if (r.deleted) return undefined;
  let fh: FileHandle;
  try {
    fh = await open(`${root}/${pid}/root${livePath(r.path)}`, 'r');
  } catch (err) {
    const code = errnoOf(err);
    if (code === 'ENOENT' || code === 'EACCES' || code === 'EPERM' || code === 'ENOTDIR') return undefined;
    throw err;
  }
  const st = await fh.stat({ bigint: true });
  if (st.ino === r.inode) return fh;
  // Another file holds the path now: comparing would report its differences as patches.
  await fh.close();
  return undefined;
}

/** Count the bytes of an executable file-backed region that differ from its file. */
async function compareRegion(
  pid: number,
  r: MapsRegion,
  mem: FileHandle,
  root: string,
  counts: Counts,
  budget: { left: number },
  layouts: Map<string, FileLayout>,
  signal: AbortSignal | undefined,
): Promise<number | undefined> {
  const fh = await openMapped(pid, r, root);
  if (!fh) {
    counts['elf_compare_unavailable']!++;
    return undefined;
  }
  try {
    // Only a regular file has bytes to compare; reading a mapped device could block or have effects.
    if (!(await fh.stat()).isFile()) {
      counts['elf_compare_unavailable']!++;
      return undefined;
    }
    const key = `${r.dev}:${r.inode}`;
    let layout = layouts.get(key);
    if (!layout) {
      layout = await fileLayout(fh);
      layouts.set(key, layout);
    }
    const size = (await fh.stat({ bigint: true })).size;
    const ranges = compareRanges(r.offset, r.end - r.start, size, layout.loads);
    counts['elf_segments_compared']!++;
    if (layout.textrel) counts['elf_textrel_segments']!++;
    let diff = 0;
    const fileBuf = Buffer.alloc(COMPARE_CHUNK);
    for (const range of ranges) {
      for (let x = range.from; x < range.to; ) {
        signal?.throwIfAborted();
        if (budget.left <= 0) {
          counts['elf_compare_truncated']!++;
          return diff;
        }
        const len = Math.min(COMPARE_CHUNK, Number(range.to - x), budget.left);
        const { bytesRead } = await fh.read(fileBuf, 0, len, Number(x));
        if (bytesRead === 0) break;
        const mine = await readRegion(mem, r.start + (x - r.offset), bytesRead, signal);
        counts['bytes_unreadable']! += mine.unreadable;
        if (mine.gone) return diff;
        const a = fileBuf.subarray(0, bytesRead);
        if (!a.equals(mine.data)) {
          for (let i = 0; i < bytesRead; i++) {
            if (a[i] === mine.data[i]) continue;
            diff++;
            // int3 where the file has other code: a breakpoint (debugger, uprobe) more likely than a hook.
            if (mine.data[i] === 0xcc) counts['elf_bytes_differing_int3']!++;
          }
        }
        budget.left -= bytesRead;
        counts['elf_bytes_compared']! += bytesRead;
        x += BigInt(bytesRead);
      }
    }
    counts['elf_bytes_differing']! += diff;
    return diff;
  } finally {
    await fh.close();
  }
}

/**
 * Scan one process's memory regions. Never rejects for a problem of the target (see the
 * module comment); rejects with VIGIL_ERR_MEMSCAN_OPTIONS for bad options and with the
 * signal's reason when aborted.
 */
export async function scanLinuxProcess(pid: number, options: LinuxScanOptions): Promise<ScanInfo> {
  checkOptions(pid, options);
  const t0 = performance.now();
  const root = options.procRoot ?? '/proc';
  const signal = options.signal;
  const counts = newCounts();
  signal?.throwIfAborted();

  const failure = async (err: unknown, what: string): Promise<ScanInfo> => {
    if (signal?.aborted) throw signal.reason;
    const reason = await targetReason(err, pid, what, root);
    if (reason !== undefined) return errorInfo(reason, counts, t0);
    if (err instanceof MemscanError) return errorInfo(`${err.code}: ${err.message}`, counts, t0);
    const e = new MemscanError('VIGIL_ERR_MEMSCAN_READ', `reading /proc/${pid}/${what} failed: ${errnoOf(err) ?? String(err)}`, { cause: err });
    return errorInfo(`${e.code}: ${e.message}`, counts, t0);
  };

  // Identity before anything is read.
  let before: ProcStat;
  try {
    before = await readStat(pid, root);
    if (exitedStates.has(before.state)) return errorInfo(REASON_EXITED, counts, t0);
    if ((before.flags & PF_KTHREAD) !== 0) {
      return { scanner: SCANNER_NAME, verdict: 'skipped', reason: 'kernel thread: no user memory to scan', findings: [], counts, duration_ms: Math.round(performance.now() - t0) };
    }
    const problem = await identityProblem(before, options, root);
    if (problem) return errorInfo(problem, counts, t0);
  } catch (err) {
    return await failure(err, 'stat');
  }

  let exe: string | undefined;
  try {
    exe = basename(livePath(await readlink(`${root}/${pid}/exe`)));
  } catch (err) {
    const code = errnoOf(err);
    if (code === 'ENOENT' || code === 'ESRCH') return errorInfo(REASON_EXITED, counts, t0);
    if (code !== 'EACCES' && code !== 'EPERM') return await failure(err, 'exe');
    // Not allowed to resolve the image: the kernel's comm names the program for the allow-list.
    exe = before.comm;
  }
  const jit = jitAllowed(exe, options.jitAllow);

  let regions: MapsRegion[];
  let mem: FileHandle;
  try {
    regions = parseMaps(await readFile(`${root}/${pid}/maps`, 'utf8'));
  } catch (err) {
    return await failure(err, 'maps');
  }
  try {
    mem = await open(`${root}/${pid}/mem`, 'r');
  } catch (err) {
    return await failure(err, 'mem');
  }

  const flagged: Flagged[] = [];
  const matches: ScanMatch[] = [];
  let memGone = false;
  try {
    counts['regions_total'] = regions.length;
    // The kernel maps [uprobes] once a uprobe fired in the process: its text holds breakpoints.
    counts['uprobes_area'] = regions.some((r) => r.path === '[uprobes]') ? 1 : 0;
    const compareBudget = { left: options.maxCompareBytes ?? options.maxTotalBytes };
    const layouts = new Map<string, FileLayout>();
    for (const r of regions) {
      signal?.throwIfAborted();
      const kinds = lineKinds(r);
      let diff: number | undefined;
      if (options.compareElf && comparable(r) && !memGone) {
        diff = await compareRegion(pid, r, mem, root, counts, compareBudget, layouts, signal);
        if (diff !== undefined && diff > 0) kinds.push('patched_code');
      }
      if (kinds.length === 0) continue;
      const f: Flagged = { region: r, kinds, jit: jit && kinds.some((k) => JIT_KINDS.has(k)), matched: false };
      if (diff !== undefined) f.diff = diff;
      flagged.push(f);
    }
    counts['regions_flagged'] = flagged.length;

    if (options.yara) {
      // Regions with findings first, the JIT's own regions last: the byte budget goes where it matters.
      const order = [...flagged].sort((a, b) => Number(a.jit && a.kinds.every((k) => JIT_KINDS.has(k))) - Number(b.jit && b.kinds.every((k) => JIT_KINDS.has(k))));
      let totalLeft = options.maxTotalBytes;
      const maxMatches = options.maxMatches ?? 256;
      const maxStrings = options.maxStringsPerMatch ?? 16;
      for (const f of order) {
        signal?.throwIfAborted();
        const size = f.region.end - f.region.start;
        if (totalLeft <= 0 || memGone) {
          counts['truncated_regions']!++;
          counts['truncated_by_total_limit']!++;
          continue;
        }
        let len = size > BigInt(options.maxRegionBytes) ? options.maxRegionBytes : Number(size);
        if (len < size) counts['truncated_by_region_limit']!++;
        if (len > totalLeft) {
          len = totalLeft;
          counts['truncated_by_total_limit']!++;
        }
        if (BigInt(len) < size) counts['truncated_regions']!++;
        const got = await readRegion(mem, f.region.start, len, signal);
        totalLeft -= len;
        if (got.gone) memGone = true;
        counts['bytes_unreadable']! += got.unreadable;
        if (got.unreadable > 0) counts['regions_partial']!++;
        if (got.unreadable >= len) continue;
        counts['regions_scanned']!++;
        counts['bytes_scanned']! += len - got.unreadable;
        let found;
        try {
          found = options.yara.scan(got.data);
        } catch (err) {
          const e = new MemscanError('VIGIL_ERR_MEMSCAN_YARA', `engine ${options.yara.engine} failed on region ${hexAddress(f.region.start)}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
          return { ...errorInfo(`${e.code}: ${e.message}`, counts, t0), regions: toRegions(flagged, counts, options), engine: options.yara.engine };
        }
        if (found.length === 0) continue;
        f.matched = true;
        const m = regionMatches(found, got.data, f.region.start, options.yara.engine, maxStrings);
        counts['strings_unreported']! += m.stringsDropped;
        for (const one of m.matches) {
          if (matches.length < maxMatches) matches.push(one);
          else counts['matches_unreported']!++;
        }
      }
    }
  } catch (err) {
    return await failure(err, 'mem');
  } finally {
    await mem.close();
  }

  signal?.throwIfAborted();
  // Identity after reading: the bytes were the expected process's only if it still holds the pid.
  try {
    const after = await readStat(pid, root);
    if (exitedStates.has(after.state) || memGone) return errorInfo(REASON_EXITED, counts, t0);
    if (after.startTicks !== before.startTicks) return errorInfo(REASON_IDENTITY, counts, t0);
  } catch (err) {
    return await failure(err, 'stat');
  }

  const reported = toRegions(flagged, counts, options);
  const findings = KIND_ORDER.filter((k) => reported.some((r) => r.kind === k)) as string[];
  if (matches.length > 0) findings.push('yara');
  const rules = [...new Set(matches.map((m) => m.rule))];
  const info: ScanInfo = {
    scanner: SCANNER_NAME,
    verdict: matches.length > 0 ? 'malicious' : reported.length > 0 ? 'suspicious' : 'clean',
    findings,
    rules,
    regions: reported,
    matches,
    counts,
    duration_ms: Math.round(performance.now() - t0),
  };
  if (options.yara) info.engine = options.yara.engine;
  return info;
}

/** The reported regions: one entry per (region, kind), the JIT's own kinds left out unless YARA matched there. */
function toRegions(flagged: readonly Flagged[], counts: Counts, o: LinuxScanOptions): ScanRegion[] {
  const max = o.maxReportedRegions ?? 256;
  const out: ScanRegion[] = [];
  let allowed = 0;
  for (const f of flagged) {
    const kinds = f.jit && !f.matched ? f.kinds.filter((k) => !JIT_KINDS.has(k)) : f.kinds;
    if (f.jit && !f.matched) allowed++;
    for (const kind of kinds) {
      if (out.length >= max) {
        counts['regions_unreported']!++;
        continue;
      }
      const r: ScanRegion = {
        start: hexAddress(f.region.start),
        end: hexAddress(f.region.end),
        perms: f.region.perms,
        kind,
        path: f.region.path === '' ? '[anon]' : f.region.path,
        ...(kind === 'patched_code' && f.diff !== undefined ? { diff_bytes: f.diff } : {}),
      };
      out.push(r);
    }
  }
  counts['jit_regions_allowed'] = allowed;
  return out;
}
