/**
 * YARA-X through `@litko/yara-x` (napi-rs; the registry has Linux x64 glibc and macOS
 * builds, no Windows one). The package is CommonJS and loads a native addon, so it is
 * required lazily: a platform without the addon still imports lib/yara and falls back to
 * libyara-wasm.
 *
 * The binding compiles one source into one namespace (`default`) and has no namespace
 * API, so each Vigil namespace is its own compiled scanner and a scan runs them in turn;
 * the namespace reported is Vigil's. Its `data` field is lossy UTF-8 and its boolean
 * metadata comes back as "unknown": offsets and lengths are kept, bytes are sliced from the
 * scanned buffer by the caller, metadata is read from the source (source.ts). This version
 * of the binding has no scan timeout: the worker pool's per-task timeout bounds a scan.
 */
import { createRequire } from 'node:module';
import { YaraError } from './errors.js';
import { parseRules, type ParsedRule } from './source.js';
import type { YaraRuleMatch, YaraRules, YaraSource, YaraStringMatch } from './types.js';
import { groupByNamespace, joinNamespace, place, ReportingRules, type CompileOptions, DEFAULT_MAX_MATCHES_PER_PATTERN, DEFAULT_MAX_REPORTED_PER_PATTERN } from './common.js';

interface XMatchData {
  offset: number;
  length: number;
  identifier: string;
}
interface XRuleMatch {
  ruleIdentifier: string;
  namespace: string;
  tags: string[];
  matches: XMatchData[];
}
interface XScanner {
  scan(data: Buffer): XRuleMatch[];
  setMaxMatchesPerPattern(n: number): void;
  addRuleSource(src: string): void;
  getWarnings(): { code: string; message: string }[];
}
interface XModule {
  create(): XScanner;
}

const require = createRequire(import.meta.url);
let loaded: XModule | undefined;
let loadError: string | undefined;

/** The binding, loaded once; undefined (and `yaraXLoadError()` says why) where it does not load. */
export function loadYaraX(): XModule | undefined {
  if (loaded !== undefined || loadError !== undefined) return loaded;
  try {
    loaded = require('@litko/yara-x') as XModule;
  } catch (err) {
    loadError = `@litko/yara-x does not load on ${process.platform}-${process.arch}: ${(err as Error).message.split('\n')[0] ?? ''}`;
  }
  return loaded;
}

export function yaraXLoadError(): string | undefined {
  loadYaraX();
  return loadError;
}

/** `--> line:12:5` in a YARA-X diagnostic: the line within the source it was given. */
function diagnosticLine(message: string): number | undefined {
  const m = /-->\s*line:(\d+):(\d+)/.exec(message);
  return m ? Number(m[1]) : undefined;
}

function firstLine(message: string): string {
  return (message.split('\n').find((l) => l.includes('error[')) ?? message.split('\n')[0] ?? message).replace(/^Compilation error \([A-Z0-9]+\):\s*/, '').trim();
}

interface Unit {
  readonly namespace: string;
  readonly scanner: XScanner;
  readonly rules: ReadonlyMap<string, ParsedRule>;
}

export class YaraXRules extends ReportingRules<Unit> implements YaraRules {
  readonly engine = 'yara-x' as const;

  stats(): Readonly<Record<string, number>> {
    return this.reportStats();
  }

  static compile(sources: readonly YaraSource[], options: CompileOptions = {}): YaraXRules {
    const mod = loadYaraX();
    if (mod === undefined) throw new YaraError('VIGIL_ERR_YARA_ENGINE_UNAVAILABLE', `yara-x: ${loadError ?? 'not loaded'}`, { engine: 'yara-x' });
    const max = options.maxMatchesPerPattern ?? DEFAULT_MAX_MATCHES_PER_PATTERN;
    const units: Unit[] = [];
    const warnings: string[] = [];
    for (const [namespace, group] of groupByNamespace(sources)) {
      const joined = joinNamespace(group);
      const scanner = mod.create();
      try {
        scanner.addRuleSource(joined.text);
      } catch (err) {
        const msg = (err as Error).message;
        const line = diagnosticLine(msg);
        const at = line === undefined ? undefined : joined.where(line);
        throw new YaraError('VIGIL_ERR_YARA_COMPILE', `yara-x: ${place(joined, namespace, line)}: ${firstLine(msg)}`, {
          engine: 'yara-x',
          cause: err,
          details: { namespace, ...(at?.path === undefined ? {} : { file: at.path }), ...(at === undefined ? {} : { line: at.line }) },
        });
      }
      const rules = new Map<string, ParsedRule>();
      for (const r of parseRules(joined.text)) rules.set(r.name, r);
      scanner.setMaxMatchesPerPattern(max);
      for (const w of scanner.getWarnings()) warnings.push(`yara-x: ${place(joined, namespace, diagnosticLine(w.message))}: ${firstLine(w.message)}`);
      units.push({ namespace, scanner, rules });
    }
    return new YaraXRules(units, warnings, options.maxReportedPerPattern ?? DEFAULT_MAX_REPORTED_PER_PATTERN);
  }

  scan(data: Uint8Array): readonly YaraRuleMatch[] {
    // Offsets are u32 in the binding.
    if (data.length > 0xffffffff) throw new YaraError('VIGIL_ERR_YARA_SCAN', `yara-x: a buffer of ${data.length} bytes is over the engine's 4 GiB offsets; scan it in parts`, { engine: 'yara-x' });
    const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const out: YaraRuleMatch[] = [];
    this.scans++;
    for (const u of this.units) {
      let found: XRuleMatch[];
      try {
        found = u.scanner.scan(buf);
      } catch (err) {
        throw new YaraError('VIGIL_ERR_YARA_SCAN', `yara-x: scan failed in namespace ${u.namespace}: ${(err as Error).message}`, { engine: 'yara-x', cause: err });
      }
      const ordered = found.map((m) => ({ m, p: u.rules.get(m.ruleIdentifier) })).sort((a, b) => (a.p?.index ?? 0) - (b.p?.index ?? 0));
      for (const { m, p } of ordered) {
        const all: YaraStringMatch[] = m.matches.map((s) => ({ identifier: s.identifier, offset: s.offset, length: s.length }));
        out.push(this.ruleMatch(m.ruleIdentifier, u.namespace, [...m.tags], p?.meta ?? {}, all));
      }
    }
    return out;
  }
}
