/**
 * PE-sieve's and HollowsHunter's reports, normalized into the `scan` group of a `scan.result`
 * event. Pure functions of (stdout, exit code, report folder): the runner and the tests feed
 * them, and so can anyone holding a saved report.
 */
import type { ScanInfo, ScanRegion } from '../../../../core/index.js';
import { address, count, field, flag, hex, isObject, parseToolJson, protectionName } from './tool-json.js';

/** PE-sieve's finding kinds, in the order findings are listed (its `scanned.modified` counters). */
export const PESIEVE_KINDS = ['implanted_pe', 'implanted_shc', 'replaced', 'hdr_modified', 'patched', 'iat_hooked', 'unreachable_file', 'other'] as const;
export type PeSieveKind = (typeof PESIEVE_KINDS)[number];

/**
 * At most this many regions per result (the rest are counted in `counts.regions_dropped`): a
 * result is an event on the bus, and a report of 16 MiB could list a hundred thousand entries.
 */
export const MAX_REGIONS = 1024;
/** At most this many distinct thread indicators (PE-sieve 0.4.1.5 knows six). */
const MAX_INDICATORS = 32;

/** What the caller knows beside stdout: the asked pid, the tool's stderr, a report file it wrote. */
export interface ReportContext {
  readonly pid?: number;
  readonly stderr?: string;
  /** The text of `process_<pid>/error_report.json`, when the tool wrote one. */
  readonly errorReport?: string;
}

/**
 * A process exit code as the tools mean it. Windows hands Node -1 as 4294967295 (`code | 0`
 * undoes that); a POSIX wait status (e.g. the tool under Wine) keeps 8 bits, so 255 is -1 too:
 * neither tool has another use for 255. Undefined when there was no exit code (a signal).
 */
export function normalizeExitCode(code: number | null | undefined): number | undefined {
  if (code === null || code === undefined || !Number.isFinite(code)) return undefined;
  const c = code | 0;
  return c === 255 ? -1 : c;
}

/** At most `max` characters of one line of tool output, for a reason. */
function excerpt(text: string, max = 200): string {
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length > max ? one.slice(0, max - 1) + '…' : one;
}

/** The first non-empty line of a text. */
function firstLine(text: string | undefined): string {
  return excerpt(text?.split(/\r?\n/).find((l) => l.trim() !== '') ?? '');
}

function unreadable(tool: string, code: number, meaning: string, stdout: string): string {
  if (stdout.trim() === '') return `${tool} exited ${code} (${meaning}) but printed no report`;
  const parsed = parseToolJson(stdout);
  const where = parsed.ok ? '' : `: ${parsed.message} at line ${parsed.line} column ${parsed.column} (offset ${parsed.position})`;
  return `${tool} exited ${code} (${meaning}) but its report cannot be read${where}; the raw output is kept in raw_report.json`;
}

const PESIEVE_MEANING: Readonly<Record<number, string>> = { [-1]: 'error', 0: 'help or bad arguments', 1: 'nothing suspicious', 2: 'suspicious' };

/** Regions, findings and counts read from one `scan_report` object. */
export interface PeSieveReportParts {
  readonly regions: ScanRegion[];
  readonly findings: string[];
  readonly counts: Record<string, number>;
  /** Entries with a suspicious status. */
  readonly suspiciousEntries: number;
  /** Modules whose file could not be read (PE-sieve gives them an error status, not a suspicious one). */
  readonly unreachableEntries: number;
  readonly pid: number | undefined;
}

function region(kind: string, entry: Record<string, unknown>, extra: { perms?: string | undefined; path?: string | undefined } = {}): ScanRegion | undefined {
  const base = hex(entry['module']);
  if (base === undefined) return undefined;
  const size = hex(entry['module_size']) ?? 0n;
  return {
    start: address(base),
    end: address(base + size),
    kind,
    ...(extra.perms !== undefined ? { perms: extra.perms } : {}),
    ...(extra.path !== undefined && extra.path !== '' ? { path: extra.path } : {}),
  };
}

function text(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** Read one PE-sieve `scan_report` (the object, as parsed). */
export function scanReportParts(report: Record<string, unknown>): PeSieveReportParts {
  const regions: ScanRegion[] = [];
  const kinds = new Set<string>();
  const indicators: string[] = [];
  let suspiciousEntries = 0;
  let unreachableEntries = 0;
  let regionsDropped = 0;
  const keep = (r: ScanRegion | undefined) => {
    if (!r) return;
    if (regions.length < MAX_REGIONS) regions.push(r);
    else regionsDropped++;
  };
  const scans = Array.isArray(report['scans']) ? report['scans'] : [];
  for (const item of scans) {
    if (!isObject(item)) continue;
    // Each entry is an object with exactly one key naming the scan.
    for (const [key, val] of Object.entries(item)) {
      if (!isObject(val)) continue;
      const status = typeof val['status'] === 'number' ? val['status'] : Number(val['status']);
      const file = text(val['module_file']);
      const add = (kind: string, r: ScanRegion | undefined) => {
        kinds.add(kind);
        keep(r);
      };
      if (key === 'unreachable_scan') {
        // An unreachable module is an error status (-1) by design: it counts as unreachable_file.
        if (status === -1 || status === 1) {
          unreachableEntries++;
          add('unreachable_file', region('unreachable_file', val, { path: file }));
        }
        continue;
      }
      if (status !== 1 || key === 'skipped_scan') continue;
      suspiciousEntries++;
      switch (key) {
        case 'headers_scan': {
          const kind = flag(val['is_pe_replaced']) ? 'replaced' : 'hdr_modified';
          add(kind, region(kind, val, { path: file }));
          break;
        }
        case 'code_scan':
          add('patched', region('patched', val, { path: file }));
          break;
        case 'iat_scan':
          add('iat_hooked', region('iat_hooked', val, { path: file }));
          break;
        case 'workingset_scan': {
          // PE-sieve counts a working-set hit holding a PE as implanted_pe, any other as implanted_shc.
          const kind = flag(val['has_pe']) ? 'implanted_pe' : 'implanted_shc';
          const mapping = text(val['mapping_type']);
          const path = text(val['mapped_name']) ?? file ?? (mapping ? `[${mapping}]` : undefined);
          add(kind, region(kind, val, { perms: protectionName(val['protection']), path }));
          break;
        }
        case 'thread_scan': {
          // A suspicious thread counts as implanted_shc; its indicators are findings of their own.
          for (const ind of Array.isArray(val['indicators']) ? val['indicators'] : []) {
            const name = typeof ind === 'string' ? `thread:${ind.slice(0, 64)}` : '';
            if (name !== '' && name !== 'thread:' && !indicators.includes(name) && indicators.length < MAX_INDICATORS) indicators.push(name);
          }
          const path = `[thread ${String(count(val['thread_id']) ?? '?')}]`;
          const areas = (Array.isArray(val['susp_areas']) ? val['susp_areas'] : []).filter(isObject);
          // PE-sieve 0.4.1.5 lists the suspicious areas; earlier versions put module/module_size on the entry.
          const sources = areas.length > 0 ? areas : [val];
          kinds.add('implanted_shc');
          for (const a of sources) {
            keep(region('implanted_shc', a, { perms: protectionName(a['protection'] ?? a['curr_protection']), path }));
          }
          break;
        }
        case 'mapping_scan':
          add('other', region('other', val, { path: text(val['mapped_file']) ?? file }));
          break;
        default:
          // malformed_header and any scan a newer PE-sieve adds: PE-sieve counts them as `other`.
          add('other', region('other', val, { path: file }));
      }
    }
  }
  const scanned = field(report, 'scanned');
  const modified = field(scanned, 'modified');
  const counts: Record<string, number> = {};
  const put = (name: string, v: unknown) => {
    const n = count(v);
    if (n !== undefined) counts[name] = n;
  };
  put('scanned', field(scanned, 'total'));
  put('skipped', field(scanned, 'skipped'));
  put('errors', field(scanned, 'errors'));
  put('suspicious', field(modified, 'total'));
  for (const k of PESIEVE_KINDS) {
    put(k, field(modified, k));
    if ((counts[k] ?? 0) > 0) kinds.add(k);
  }
  if (regionsDropped > 0) counts['regions_dropped'] = regionsDropped;
  const findings = [...PESIEVE_KINDS.filter((k) => kinds.has(k)), ...[...kinds].filter((k) => !(PESIEVE_KINDS as readonly string[]).includes(k)), ...indicators];
  return { regions, findings, counts, suspiciousEntries, unreachableEntries, pid: count(report['pid']) };
}

function summary(counts: Record<string, number>, what: string): string {
  const kinds = PESIEVE_KINDS.filter((k) => (counts[k] ?? 0) > 0).map((k) => `${k} ${counts[k]}`);
  return kinds.length ? ` (${kinds.join(', ')})` : what;
}

/**
 * PE-sieve's stdout and exit code as a ScanInfo. Exit codes: -1 error, 0 help or bad arguments
 * (an error here, never clean), 1 nothing suspicious, 2 suspicious. When the exit code and the
 * report disagree the exit code decides the verdict and the reason says so.
 */
export function peSieveResult(stdout: string, exitCode: number | null | undefined, reportDir: string, context: ReportContext = {}): ScanInfo {
  const base = { scanner: 'pe-sieve', report_dir: reportDir } as const;
  const code = normalizeExitCode(exitCode);
  const stderr = firstLine(context.stderr);
  if (code === undefined) return { ...base, verdict: 'error', reason: 'PE-sieve ended without an exit code (killed by a signal)' };
  if (code === 0) {
    return { ...base, verdict: 'error', reason: 'PE-sieve refused the arguments (exit 0: it printed its help); this is not a clean scan, check scanner.pe_sieve.extra_args' };
  }
  if (code !== -1 && code !== 1 && code !== 2) {
    return { ...base, verdict: 'error', reason: `PE-sieve exited with code ${code}, which it does not document (a crash?)${stderr ? `: ${stderr}` : ''}` };
  }
  const parsed = stdout.trim() === '' ? undefined : parseToolJson(stdout);
  const doc = parsed?.ok ? parsed.value : undefined;
  const scanReport = field(doc, 'scan_report');
  let errorReport = field(doc, 'error_report');
  if (errorReport === undefined && context.errorReport !== undefined) {
    const file = parseToolJson(context.errorReport);
    // The file holds the error_report object itself, or (as stdout does) wrapped in one.
    if (file.ok) errorReport = field(file.value, 'error_report') ?? file.value;
  }
  const errMessage = text(field(errorReport, 'err_message'));
  const parts = isObject(scanReport) ? scanReportParts(scanReport) : undefined;
  const dumped = count(field(field(field(doc, 'dump_report'), 'dumped'), 'dumped'));
  const withParts = (info: ScanInfo): ScanInfo => {
    if (!parts) return info;
    const counts = dumped !== undefined ? { ...parts.counts, dumped } : parts.counts;
    return { ...info, findings: parts.findings, regions: parts.regions, counts };
  };
  const pidNote = parts?.pid !== undefined && context.pid !== undefined && parts.pid !== context.pid ? `; the report is for pid ${parts.pid}, pid ${context.pid} was asked` : '';

  if (code === -1) {
    let reason: string;
    if (errMessage) reason = `PE-sieve could not scan the process: ${excerpt(errMessage)}`;
    else if (parts && (parts.counts['scanned'] ?? 0) === 0) reason = 'PE-sieve scanned no module (exit -1): the process is gone, protected, or could not be read';
    else reason = `PE-sieve failed (exit -1) without an error report${stderr ? `: ${stderr}` : ''}; /report SE makes it write one`;
    return withParts({ ...base, verdict: 'error', reason: reason + pidNote });
  }
  if (!parsed || !parsed.ok || (!isObject(scanReport) && errMessage === undefined)) {
    const reason = parsed?.ok ? `PE-sieve exited ${code} (${PESIEVE_MEANING[code]}) but its output has no scan_report; the raw output is kept in raw_report.json` : unreadable('PE-sieve', code, PESIEVE_MEANING[code]!, stdout);
    return { ...base, verdict: 'error', reason };
  }
  if (!parts) return { ...base, verdict: 'error', reason: `PE-sieve exited ${code} with an error report: ${excerpt(errMessage ?? '')}` };

  const flagged = parts.suspiciousEntries + (parts.counts['suspicious'] ?? 0);
  const scanned = parts.counts['scanned'] ?? 0;
  let reason: string;
  if (code === 2) {
    reason = `PE-sieve: ${parts.counts['suspicious'] ?? parts.suspiciousEntries} suspicious of ${scanned} modules scanned${summary(parts.counts, '')}`;
    if (flagged === 0) reason += '; exit code 2 (suspicious) but the report lists nothing suspicious: the verdict follows the exit code';
  } else {
    reason = `PE-sieve: ${scanned} modules scanned, nothing suspicious`;
    const unreachable = Math.max(parts.unreachableEntries, parts.counts['unreachable_file'] ?? 0);
    if (unreachable > 0) reason += `; ${unreachable} module file${unreachable === 1 ? '' : 's'} could not be read (unreachable_file)`;
    if (flagged > 0) reason += `; but the report lists ${Math.max(parts.suspiciousEntries, parts.counts['suspicious'] ?? 0)} suspicious entries${summary(parts.counts, '')}: the verdict follows the exit code (1, clean)`;
  }
  if (parsed.repaired) reason += '; the report held unescaped strings (repaired)';
  const dropped = parts.counts['regions_dropped'] ?? 0;
  if (dropped > 0) reason += `; ${dropped} regions beyond the first ${MAX_REGIONS} are not listed`;
  return withParts({ ...base, verdict: code === 2 ? 'suspicious' : 'clean', reason: reason + pidNote });
}

/** HollowsHunter's per-process counters, summed over the suspicious processes. */
const HH_KINDS = PESIEVE_KINDS;

/**
 * HollowsHunter's stdout (its version banner, then the summary JSON) and exit code as a
 * ScanInfo. Exit codes: 2 suspicious, 1 nothing suspicious, -1 failure (ETW), 0 bad arguments.
 * Exit 1 with no process scanned (the pid is gone or could not be opened) is an error, as
 * PE-sieve's own exit code says for the same case: nothing was looked at.
 */
export function hollowsHunterResult(stdout: string, exitCode: number | null | undefined, reportDir: string, context: ReportContext = {}): ScanInfo {
  const base = { scanner: 'hollows-hunter', report_dir: reportDir } as const;
  const code = normalizeExitCode(exitCode);
  const stderr = firstLine(context.stderr);
  if (code === undefined) return { ...base, verdict: 'error', reason: 'HollowsHunter ended without an exit code (killed by a signal)' };
  if (code === 0) {
    return { ...base, verdict: 'error', reason: 'HollowsHunter refused the arguments (exit 0: bad arguments or help); this is not a clean scan, check scanner.hollows_hunter.extra_args' };
  }
  if (code === -1) {
    const lastOut = stdout
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l !== '' && !/^(HollowsHunter v\.|Built on:|using: PE-sieve)/.test(l))
      .pop();
    const detail = stderr || excerpt(lastOut ?? '');
    return { ...base, verdict: 'error', reason: `HollowsHunter failed (exit -1: its ETW session could not start, or the scan could not run)${detail ? `: ${detail}` : ''}` };
  }
  if (code !== 1 && code !== 2) {
    return { ...base, verdict: 'error', reason: `HollowsHunter exited with code ${code}, which it does not document (a crash?)${stderr ? `: ${stderr}` : ''}` };
  }
  const meaning = code === 2 ? 'suspicious' : 'nothing suspicious';
  const parsed = parseToolJson(stdout);
  if (!parsed.ok || !isObject(parsed.value) || count(parsed.value['scanned_count']) === undefined) {
    const reason = parsed.ok ? `HollowsHunter exited ${code} (${meaning}) but its output has no scan summary; the raw output is kept in raw_report.json` : unreadable('HollowsHunter', code, meaning, stdout);
    return { ...base, verdict: 'error', reason };
  }
  const doc = parsed.value;
  const counts: Record<string, number> = {};
  counts['scanned'] = count(doc['scanned_count']) ?? 0;
  counts['failed'] = count(doc['failed_count']) ?? 0;
  counts['suspicious'] = count(doc['suspicious_count']) ?? 0;
  const ms = count(doc['scan_time_ms']);
  if (ms !== undefined) counts['scan_time_ms'] = ms;
  const procs = (Array.isArray(doc['suspicious']) ? doc['suspicious'] : []).filter(isObject);
  for (const k of HH_KINDS) counts[k] = 0;
  const described: string[] = [];
  for (const p of procs) {
    const mine: string[] = [];
    for (const k of HH_KINDS) {
      // Absent fields (`patched` without /hooks, `iat_hooked` without /iat) count 0.
      const n = count(p[k]) ?? 0;
      counts[k] = (counts[k] ?? 0) + n;
      if (n > 0) mine.push(`${k} ${n}`);
    }
    described.push(`${String(count(p['pid']) ?? '?')} ${excerpt(text(p['name']) ?? '?', 60)}${mine.length ? ` (${mine.join(', ')})` : ''}`);
  }
  const findings = HH_KINDS.filter((k) => (counts[k] ?? 0) > 0);
  const listed = described.length > 10 ? [...described.slice(0, 10), `… and ${described.length - 10} more`] : described;
  const info = { ...base, findings, regions: [], counts };
  if (code === 1 && counts['scanned'] === 0) {
    return { ...info, verdict: 'error', reason: `HollowsHunter scanned no process (exit 1 with scanned_count 0, failed_count ${counts['failed']}): the pid is gone or could not be opened` };
  }
  const flagged = Math.max(counts['suspicious'] ?? 0, procs.length);
  let reason: string;
  if (code === 2) {
    reason = `HollowsHunter: ${flagged} suspicious of ${counts['scanned']} processes scanned${listed.length ? `: ${listed.join('; ')}` : ''}`;
    if (flagged === 0) reason += '; exit code 2 (suspicious) but the summary lists nothing suspicious: the verdict follows the exit code';
  } else {
    reason = `HollowsHunter: ${counts['scanned']} process${counts['scanned'] === 1 ? '' : 'es'} scanned, nothing suspicious`;
    if (flagged > 0) reason += `; but the summary lists ${flagged} suspicious processes (${listed.join('; ')}): the verdict follows the exit code (1, clean)`;
  }
  if ((counts['failed'] ?? 0) > 0) reason += `; ${counts['failed']} could not be scanned`;
  if (parsed.repaired) reason += '; the summary held unescaped strings (repaired)';
  return { ...info, verdict: code === 2 ? 'suspicious' : 'clean', reason };
}
