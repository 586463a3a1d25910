import type { JsonSchema } from '../../../core/index.js';

/** The `scanner` responder's config block (after schema defaults). */
export type ScannerConfig = {
  yara: {
    /** `auto`: YARA-X where its native package loads, else libyara-wasm. */
    engine: 'auto' | 'yara-x' | 'libyara-wasm';
    /** Every engine listed must compile the rule set at start (empty: only the engine in use). */
    check_engines: Array<'yara-x' | 'libyara-wasm'>;
    /** YARA rule files (.yar/.yara) and folders; relative to the config file's folder. */
    rule_paths: string[];
  };
  linux: {
    max_region_bytes: number;
    max_total_bytes: number;
    jit_allow: string[];
    compare_elf: boolean;
  };
  windows: {
    scanner: 'pe-sieve' | 'hollows-hunter';
    pe_sieve_binary: string;
    hollows_hunter_binary: string;
    extra_args: string[];
    report_dir: string;
  };
  file: {
    max_bytes: number;
    chunk_bytes: number;
    overlap_bytes: number;
  };
  timeout_seconds: number;
  cache: {
    max_entries: number;
    ttl_seconds: number;
  };
  recycle_wasm_after: number;
};

const MiB = 1024 * 1024;

export const SCANNER_DEFAULTS = Object.freeze({
  rule_paths: ['rules/yara'],
  jit_allow: ['node', 'java', 'chrome', 'chromium', 'firefox', 'firefox-esr', 'electron', 'code', 'dotnet', 'mono', 'pwsh', 'luajit', 'qemu-x86_64', 'qemu-aarch64'],
});

const engineName = { type: 'string', enum: ['yara-x', 'libyara-wasm'] } as const;

export const scannerConfigSchema: JsonSchema = Object.freeze({
  type: 'object',
  additionalProperties: false,
  properties: {
    yara: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        engine: { type: 'string', enum: ['auto', 'yara-x', 'libyara-wasm'], default: 'auto', description: 'auto: YARA-X where its native package loads (Linux x64), else libyara-wasm.' },
        check_engines: { type: 'array', items: engineName, uniqueItems: true, default: [], description: 'Engines that must each compile the rule set at start; a refusal fails start with the reason.' },
        rule_paths: { type: 'array', items: { type: 'string', minLength: 1, 'x-vigil-path': 'existing' }, default: SCANNER_DEFAULTS.rule_paths, description: 'YARA rule files (.yar, .yara) and folders.' },
      },
    },
    linux: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        max_region_bytes: { type: 'integer', minimum: 4096, default: 64 * MiB, description: 'A flagged region larger than this is scanned up to this size.' },
        max_total_bytes: { type: 'integer', minimum: 4096, default: 256 * MiB, description: 'Bytes read from one process in one scan, at most.' },
        jit_allow: { type: 'array', items: { type: 'string', minLength: 1 }, default: SCANNER_DEFAULTS.jit_allow, description: 'Image names whose anonymous executable memory is a JIT, not a finding.' },
        compare_elf: { type: 'boolean', default: true, description: 'Compare executable segments with the ELF on disk (patched code).' },
      },
    },
    windows: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        scanner: { type: 'string', enum: ['pe-sieve', 'hollows-hunter'], default: 'pe-sieve' },
        pe_sieve_binary: { type: 'string', default: 'pe-sieve64.exe' },
        hollows_hunter_binary: { type: 'string', default: 'hollows_hunter64.exe' },
        extra_args: { type: 'array', items: { type: 'string' }, default: [] },
        report_dir: { type: 'string', minLength: 1, default: 'var/scans', description: 'Raw reports and dumps, one folder per scan.' },
      },
    },
    file: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        max_bytes: { type: 'integer', minimum: 1, default: 512 * MiB, description: 'A larger file is scanned up to this size (counted as truncated).' },
        chunk_bytes: { type: 'integer', minimum: 4096, default: 16 * MiB, description: 'A file is read and scanned in chunks of this size.' },
        overlap_bytes: { type: 'integer', minimum: 0, default: 64 * 1024, description: 'Each chunk after the first repeats this many bytes of the previous one, so a string across a boundary still matches.' },
      },
    },
    timeout_seconds: { type: 'number', exclusiveMinimum: 0, maximum: 3600, default: 120, description: 'Per scan task in the worker pool; a scan past it is cancelled and answered failed.' },
    cache: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        max_entries: { type: 'integer', minimum: 0, default: 4096, description: 'Results kept per (identity, image sha256), least recently used evicted; 0: no cache.' },
        ttl_seconds: { type: 'number', minimum: 0, default: 600, description: 'A cached result older than this is scanned again.' },
      },
    },
    recycle_wasm_after: { type: 'integer', minimum: 1, default: 200, description: 'libyara-wasm leaks per call: a worker retires after this many wasm scans.' },
  },
});
