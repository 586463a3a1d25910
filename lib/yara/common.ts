/** Pieces both engine wrappers share. */
import type { YaraRuleMatch, YaraSource, YaraStringMatch } from './types.js';

/**
 * Matches an engine records per pattern: libyara 4.2.3's own limit (YR_MAX_STRING_MATCHES),
 * given to YARA-X too, because counts in conditions (`#a > n`) stop at this limit: with a
 * lower one YARA-X would miss rules libyara matches.
 */
export const DEFAULT_MAX_MATCHES_PER_PATTERN = 1_000_000;

/**
 * Matches reported per pattern of a matching rule; the rest are cut (the cut is counted in
 * `YaraRuleMatch.truncated`). A marker repeated over a large region would otherwise make one
 * result megabytes long.
 */
export const DEFAULT_MAX_REPORTED_PER_PATTERN = 100;

export interface CompileOptions {
  /** Matches the engine records per pattern (YARA-X only; libyara-wasm has its fixed 1,000,000). */
  readonly maxMatchesPerPattern?: number;
  /** Matches reported per pattern; default DEFAULT_MAX_REPORTED_PER_PATTERN. */
  readonly maxReportedPerPattern?: number;
}

/** At most `max` matches of each identifier (the first by offset), and how many were cut. */
export function boundStrings(strings: YaraStringMatch[], max: number): { strings: YaraStringMatch[]; cut: number } {
  const sorted = sortStrings(strings);
  const seen = new Map<string, number>();
  const kept: YaraStringMatch[] = [];
  let cut = 0;
  for (const s of sorted) {
    const n = seen.get(s.identifier) ?? 0;
    if (n >= max) {
      cut++;
      continue;
    }
    seen.set(s.identifier, n + 1);
    kept.push(s);
  }
  return { strings: kept, cut };
}

/**
 * What both engines' compiled rule sets keep alike: the compile warnings, the per-pattern
 * report bound, the compiled units, the scan and cut counts, and the shape of one matching rule.
 */
export abstract class ReportingRules<U> {
  readonly warnings: readonly string[];
  /** One compiled unit per namespace. */
  protected readonly units: readonly U[];
  private readonly maxReported: number;
  protected scans = 0;
  private truncated = 0;

  protected constructor(units: U[], warnings: string[], maxReported: number) {
    this.units = units;
    this.warnings = warnings;
    this.maxReported = maxReported;
  }

  /** One matching rule as reported: its strings bounded per pattern, the cut counted. */
  protected ruleMatch(rule: string, namespace: string, tags: readonly string[], meta: YaraRuleMatch['meta'], all: YaraStringMatch[]): YaraRuleMatch {
    const { strings, cut } = boundStrings(all, this.maxReported);
    this.truncated += cut;
    return { rule, namespace, tags, meta, strings, ...(cut > 0 ? { truncated: cut } : {}) };
  }

  /** The counters both engines report. */
  protected reportStats(): Record<string, number> {
    return { scans: this.scans, truncated_matches: this.truncated, namespaces: this.units.length };
  }
}

/** Sources grouped by namespace, in the order namespaces first appear. */
export function groupByNamespace(sources: readonly YaraSource[]): Map<string, YaraSource[]> {
  const groups = new Map<string, YaraSource[]>();
  for (const s of sources) {
    const g = groups.get(s.namespace);
    if (g) g.push(s);
    else groups.set(s.namespace, [s]);
  }
  return groups;
}

/** Strings ordered by offset, then identifier, then length: the same order whatever the engine. */
export function sortStrings(strings: YaraStringMatch[]): YaraStringMatch[] {
  return strings.sort((a, b) => a.offset - b.offset || (a.identifier < b.identifier ? -1 : a.identifier > b.identifier ? 1 : 0) || a.length - b.length);
}

/**
 * The sources of one namespace as one text (both engines compile a namespace as one unit, so
 * its rules may refer to each other whatever file they are in), and the file and line a line
 * of that text came from.
 */
export interface NamespaceText {
  readonly text: string;
  where(line: number): { path: string | undefined; line: number };
}

function lineCount(text: string): number {
  let n = 1;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) n++;
  return n;
}

export function joinNamespace(group: readonly YaraSource[]): NamespaceText {
  const starts: { source: YaraSource; firstLine: number }[] = [];
  let line = 1;
  for (const s of group) {
    starts.push({ source: s, firstLine: line });
    line += lineCount(s.text);
  }
  return {
    text: group.map((s) => s.text).join('\n'),
    where(l: number) {
      let part = starts[0];
      for (const p of starts) if (p.firstLine <= l) part = p;
      return part === undefined ? { path: undefined, line: l } : { path: part.source.path, line: l - part.firstLine + 1 };
    },
  };
}

/** `file:line` (or `namespace NAME:line`) for messages. */
export function place(ns: NamespaceText, namespace: string, line: number | undefined): string {
  if (line === undefined) return ns.where(1).path ?? `namespace ${namespace}`;
  const w = ns.where(line);
  return `${w.path ?? `namespace ${namespace}`}:${w.line}`;
}
