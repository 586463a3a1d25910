/** The YARA engines Vigil drives. */
export type YaraEngineName = 'yara-x' | 'libyara-wasm';

/** One rule source: its text and the namespace its rules are compiled in. */
export interface YaraSource {
  readonly namespace: string;
  readonly text: string;
  /** The file it was read from, for error messages. */
  readonly path?: string;
}

/** One matched string, as an offset into the scanned buffer. */
export interface YaraStringMatch {
  readonly identifier: string;
  readonly offset: number;
  readonly length: number;
}

/** A rule that matched a buffer, the same shape whatever the engine. */
export interface YaraRuleMatch {
  readonly rule: string;
  readonly namespace: string;
  readonly tags: readonly string[];
  readonly meta: Readonly<Record<string, string | number | boolean>>;
  readonly strings: readonly YaraStringMatch[];
  /** Matches left out by the per-pattern report bound (absent when none were). */
  readonly truncated?: number;
}

/** A compiled rule set of one engine (compiled once per worker thread). */
export interface YaraRules {
  readonly engine: YaraEngineName;
  /** Every rule that matches `data`; offsets are relative to `data`. */
  scan(data: Uint8Array): readonly YaraRuleMatch[];
  /** Compiler warnings, one line each, naming the engine. */
  readonly warnings?: readonly string[];
  /** Counters of the engine wrapper (scans, truncated matches, engine reloads …). */
  stats?(): Readonly<Record<string, number>>;
}
