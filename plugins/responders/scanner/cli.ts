import { resolve } from 'node:path';
import type { CommandHandler, CommandHandlers, ScanInfo, ScanMatch } from '../../../core/index.js';
import { DEFAULT_CLOCK_TICKS, readClockTicks } from '../../../lib/procfs/index.js';
import type { ScannerConfig } from './config.js';
import { compileRules, type YaraRules } from './engines.js';
import { ScannerError } from './errors.js';
import { identityOf, liveProcess, readProcClock } from './identity.js';
import { loadRuleSet, type EngineSetting } from './ruleset.js';
import { scanFile, scanMemory, toolTimeoutMs } from './scans.js';

/** Exit codes of `vigil scan`: clean, findings, error. */
export const SCAN_EXIT = Object.freeze({ clean: 0, findings: 3, error: 1 });

/**
 * `vigil scan --pid N | --file PATH [--yara RULES] [--engine E] [--json]` (declared in
 * manifest.ts): the agent's scanners, run here in-process with the config's scanner block
 * (or its defaults). `--yara` names the rules instead of `yara.rule_paths`. Prints the
 * normalized scan result; exit 0 clean, 3 findings, 1 error (or a skipped scan).
 */
export const scanCommand: CommandHandler = async ({ options }, host) => {
  const pidOpt = options['pid'];
  const fileOpt = options['file'];
  if ((pidOpt === undefined) === (fileOpt === undefined)) throw host.usageError("give exactly one of '--pid N' or '--file PATH'");
  let pid: number | undefined;
  if (pidOpt !== undefined) {
    pid = Number(pidOpt);
    if (!Number.isSafeInteger(pid) || pid <= 0) throw host.usageError(`option '--pid' argument '${String(pidOpt)}' is invalid. A process id is a positive integer.`);
  }
  const { config: block, resolvePath } = host.pluginConfig();
  const config = block as unknown as ScannerConfig;
  const yaraOpt = options['yara'];
  const paths = typeof yaraOpt === 'string' ? [resolve(yaraOpt)] : config.yara.rule_paths.map((p) => resolvePath(p));
  const setting = (typeof options['engine'] === 'string' ? options['engine'] : config.yara.engine) as EngineSetting;
  const ruleSet = await loadRuleSet(paths, setting, typeof yaraOpt === 'string' ? [] : config.yara.check_engines);
  const rules: YaraRules | undefined = ruleSet.sources.length > 0 ? await compileRules(ruleSet.engine, [...ruleSet.sources]) : undefined;

  let scan: ScanInfo;
  let who = '';
  if (pid !== undefined) {
    let identity = String(pid);
    if (process.platform === 'linux') {
      const clock = await readProcClock('/proc', (await readClockTicks(AbortSignal.timeout(5000))) ?? DEFAULT_CLOCK_TICKS);
      const live = clock ? await liveProcess(pid, clock) : undefined;
      if (!live) throw new ScannerError('VIGIL_ERR_SCANNER_TARGET', `pid ${pid}: no such process`);
      identity = identityOf({ pid, start_time: live.startTime }) ?? identity;
      who = `pid ${pid} (${live.comm})`;
    } else {
      who = `pid ${pid}`;
    }
    scan = await scanMemory(
      {
        pid,
        identity,
        rules: ruleSet,
        platform: process.platform,
        linux: { maxRegionBytes: config.linux.max_region_bytes, maxTotalBytes: config.linux.max_total_bytes, jitAllow: config.linux.jit_allow, compareElf: config.linux.compare_elf },
        windows: {
          scanner: config.windows.scanner,
          binary: resolvePath(config.windows.scanner === 'hollows-hunter' ? config.windows.hollows_hunter_binary : config.windows.pe_sieve_binary),
          extraArgs: config.windows.extra_args,
          reportDir: resolvePath(config.windows.report_dir),
          timeoutMs: toolTimeoutMs(config.timeout_seconds),
        },
        recycleWasmAfter: 0,
      },
      rules,
      AbortSignal.timeout(config.timeout_seconds * 1000),
    );
  } else {
    const path = resolve(String(fileOpt));
    who = path;
    try {
      scan = await scanFile({ path, rules: ruleSet, maxBytes: config.file.max_bytes, chunkBytes: config.file.chunk_bytes, overlapBytes: config.file.overlap_bytes, recycleWasmAfter: 0 }, rules);
    } catch (err) {
      throw new ScannerError('VIGIL_ERR_SCANNER_TARGET', `cannot scan ${path}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }
  host.out(options['json'] === true ? `${JSON.stringify(scan, null, 2)}\n` : formatScan(scan, who));
  return exitCode(scan);
};

/** 0 clean, 3 suspicious or malicious, 1 error or skipped. */
export function exitCode(scan: ScanInfo): number {
  if (scan.verdict === 'clean') return SCAN_EXIT.clean;
  if (scan.verdict === 'suspicious' || scan.verdict === 'malicious') return SCAN_EXIT.findings;
  return SCAN_EXIT.error;
}

// Names and paths come from the scanned process; control characters would let them rewrite
// the operator's terminal.
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
const clean = (s: string): string => s.replace(UNSAFE, '?');

function rulesOfRegion(matches: readonly ScanMatch[], start: string): string[] {
  return [...new Set(matches.filter((m) => m.region === start).map((m) => m.rule))];
}

/** The human summary: verdict, then each flagged region (range, perms, kind, path, the YARA rules that matched in it), then the matches. */
export function formatScan(scan: ScanInfo, who: string): string {
  const lines: string[] = [];
  lines.push(`${clean(who)}: ${scan.verdict ?? 'unknown'}${scan.scanner ? ` (${scan.scanner}${scan.engine ? `, YARA ${scan.engine}` : ''})` : ''}`);
  if (scan.reason) lines.push(`reason: ${clean(scan.reason)}`);
  if (scan.findings && scan.findings.length > 0) lines.push(`findings: ${scan.findings.map(clean).join(', ')}`);
  const matches = scan.matches ?? [];
  const regions = scan.regions ?? [];
  if (regions.length > 0) {
    lines.push(`flagged regions (${regions.length}):`);
    for (const r of regions) {
      const hit = rulesOfRegion(matches, r.start);
      lines.push(
        `  ${r.start}-${r.end}  ${r.perms ?? '----'}  ${clean(r.kind)}${r.path ? `  ${clean(r.path)}` : ''}${r.diff_bytes !== undefined ? `  ${r.diff_bytes} bytes differ` : ''}${hit.length > 0 ? `  YARA: ${hit.map(clean).join(', ')}` : ''}`,
      );
    }
  }
  if (matches.length > 0) {
    lines.push(`YARA matches (${matches.length}):`);
    for (const m of matches) {
      const first = m.strings[0];
      const at = first ? ` at 0x${first.offset.toString(16)} (${first.identifier}: ${first.data_hex})` : '';
      lines.push(`  ${clean(m.namespace)}:${clean(m.rule)}${m.region ? ` in region ${m.region}` : ''}${at}${m.strings.length > 1 ? ` +${m.strings.length - 1} more` : ''}`);
    }
  }
  if (scan.counts && Object.keys(scan.counts).length > 0) lines.push(`counts: ${Object.entries(scan.counts).map(([k, v]) => `${clean(k)}=${v}`).join(' ')}`);
  if (scan.report_dir) lines.push(`report: ${clean(scan.report_dir)}`);
  if (scan.duration_ms !== undefined) lines.push(`took ${scan.duration_ms} ms`);
  return `${lines.join('\n')}\n`;
}

/** The handlers of the commands manifest.ts declares. */
export const commands: CommandHandlers = { scan: scanCommand };

