/**
 * YARA 4.2.3 compiled to WebAssembly (`libyara-wasm`, the build CyberChef uses): runs on any
 * platform, Windows included. Its one entry point is `run(buffer, rulesText)`: it compiles
 * the rules on every call and reports rule names, string matches and metadata, but no tags
 * and no namespaces. So:
 *
 * * compileRules compiles once to check the source and keeps the text; every scan compiles
 *   again inside the module (a scan costs a compile: see docs/yara.md);
 * * each namespace is its own text, run in turn (global rules stay inside their namespace);
 * * tags and metadata come from the source (source.ts), matched bytes from the caller's
 *   buffer (the module's `data` is a lossy string).
 *
 * The module leaks on every call (compiled rules and the copy of the buffer are not freed),
 * so its instance must be replaced from time to time. Replacing it frees the memory only
 * because this wrapper removes the `uncaughtException` / `unhandledRejection` listeners the
 * Emscripten runtime adds to `process` at load (they rethrow, which would also override the
 * agent's own handlers, and they keep every old instance reachable). The wrapper reloads the
 * instance in the background after `WASM_RECYCLE_AFTER_CALLS` calls or once its memory
 * passes `WASM_RECYCLE_HEAP_BYTES`; a worker that wants a fresh process anyway reads
 * `stats().calls_since_load` / `recycle_due`. The caller that owns the thread (the worker
 * pool) still recycles workers, which bounds whatever this cannot see.
 */
import type { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { groupByNamespace, joinNamespace, place, ReportingRules, type CompileOptions, DEFAULT_MAX_REPORTED_PER_PATTERN } from './common.js';
import { YaraError } from './errors.js';
import { parseRules, type ParsedRule } from './source.js';
import type { YaraRuleMatch, YaraRules, YaraSource, YaraStringMatch } from './types.js';

interface WasmVector<T> {
  size(): number;
  get(i: number): T;
  delete?: () => void;
}
interface WasmResolvedMatch {
  location: number | bigint;
  matchLength: number | bigint;
  stringIdentifier: string;
}
interface WasmMatchedRule {
  ruleName: string;
  resolvedMatches: WasmVector<WasmResolvedMatch>;
  metadata: WasmVector<unknown>;
}
interface WasmCompileError {
  message: string;
  lineNumber: number;
  warning: boolean;
}
interface WasmResult {
  compileErrors: WasmVector<WasmCompileError>;
  matchedRules: WasmVector<WasmMatchedRule>;
  consoleLogs?: WasmVector<string>;
}
interface WasmModule {
  run(buf: Uint8Array, rules: string): WasmResult;
  HEAP8: Int8Array;
}
type WasmFactory = () => Promise<WasmModule>;

/** Calls after which the instance is replaced (each call leaks its compiled rules). */
export const WASM_RECYCLE_AFTER_CALLS = 200;
/** Module memory after which the instance is replaced (its memory cannot exceed 2 GiB). */
export const WASM_RECYCLE_HEAP_BYTES = 768 * 1024 * 1024;
/** Largest buffer given to the module in one call: it is copied into the 2 GiB module memory. */
export const WASM_MAX_SCAN_BYTES = 512 * 1024 * 1024;

const require = createRequire(import.meta.url);
let factory: WasmFactory | undefined;
let factoryError: string | undefined;

function loadFactory(): WasmFactory | undefined {
  if (factory !== undefined || factoryError !== undefined) return factory;
  try {
    factory = require('libyara-wasm') as WasmFactory;
  } catch (err) {
    factoryError = `libyara-wasm does not load: ${(err as Error).message.split('\n')[0] ?? ''}`;
  }
  return factory;
}

export function wasmLoadError(): string | undefined {
  loadFactory();
  return factoryError;
}

const RUNTIME_LISTENERS = ['uncaughtException', 'unhandledRejection'] as const;

/** Instantiate the module, taking back the process listeners its runtime installs. */
async function instantiate(): Promise<WasmModule> {
  const f = loadFactory();
  if (f === undefined) throw new YaraError('VIGIL_ERR_YARA_ENGINE_UNAVAILABLE', `libyara-wasm: ${factoryError ?? 'not loaded'}`, { engine: 'libyara-wasm' });
  const emitter: EventEmitter = process;
  const before = RUNTIME_LISTENERS.map((ev) => new Set(emitter.listeners(ev)));
  // The runtime adds its listeners synchronously inside the factory call.
  const pending = f();
  RUNTIME_LISTENERS.forEach((ev, i) => {
    for (const l of emitter.listeners(ev)) if (!before[i]?.has(l)) emitter.removeListener(ev, l as (...args: unknown[]) => void);
  });
  return await pending;
}

function release(v: { delete?: () => void } | undefined): void {
  if (v !== undefined && typeof v.delete === 'function') v.delete();
}

/** The one module instance of this thread, replaced in the background when it has leaked enough. */
class WasmHost {
  private mod: WasmModule | undefined;
  private loading: Promise<WasmModule> | undefined;
  private calls = 0;
  private loads = 0;
  private reloadFailures = 0;
  private aborts = 0;
  private warned = false;

  async ready(): Promise<WasmModule> {
    if (this.mod !== undefined) return this.mod;
    return this.load();
  }

  /** Load a new instance; the current one serves scans until it is ready. */
  load(): Promise<WasmModule> {
    if (this.loading !== undefined) return this.loading;
    const p = instantiate().then(
      (m) => {
        this.mod = m;
        this.calls = 0;
        this.loads++;
        this.loading = undefined;
        return m;
      },
      (err: unknown) => {
        this.loading = undefined;
        this.reloadFailures++;
        throw err;
      },
    );
    this.loading = p;
    return p;
  }

  run(buf: Uint8Array, text: string): WasmResult {
    const m = this.mod;
    if (m === undefined) throw new YaraError('VIGIL_ERR_YARA_SCAN', 'libyara-wasm: the module is being reloaded after a failure; try again', { engine: 'libyara-wasm' });
    try {
      return m.run(buf, text);
    } catch (err) {
      // An abort (out of module memory) leaves the instance unusable: drop it and load a new one.
      this.aborts++;
      this.mod = undefined;
      this.reloadInBackground();
      throw new YaraError('VIGIL_ERR_YARA_SCAN', `libyara-wasm: the module failed (${(err as Error).message}); it is being reloaded`, { engine: 'libyara-wasm', cause: err });
    } finally {
      this.calls++;
      if (this.recycleDue()) this.reloadInBackground();
    }
  }

  private recycleDue(): boolean {
    return this.calls >= WASM_RECYCLE_AFTER_CALLS || (this.mod?.HEAP8.length ?? 0) >= WASM_RECYCLE_HEAP_BYTES;
  }

  private reloadInBackground(): void {
    this.load().catch((err: unknown) => {
      // Counted in reload_failures; said once, since every later scan reports it too.
      if (!this.warned) {
        this.warned = true;
        process.emitWarning(`libyara-wasm: reloading the module failed: ${(err as Error).message}`, { code: 'VIGIL_ERR_YARA_ENGINE_UNAVAILABLE' });
      }
    });
  }

  stats(): Record<string, number> {
    return {
      calls_since_load: this.calls,
      loads: this.loads,
      reload_failures: this.reloadFailures,
      aborts: this.aborts,
      heap_bytes: this.mod?.HEAP8.length ?? 0,
      recycle_due: this.recycleDue() ? 1 : 0,
    };
  }
}

const host = new WasmHost();

/** The module's counters in this thread (calls since the instance was loaded, loads, memory). */
export function wasmEngineStats(): Readonly<Record<string, number>> {
  return host.stats();
}

/** Replace the module instance now (frees what earlier calls leaked). */
export async function reloadWasmEngine(): Promise<void> {
  await host.load();
}

interface Unit {
  readonly namespace: string;
  readonly text: string;
  readonly rules: ReadonlyMap<string, ParsedRule>;
}

function readErrors(r: WasmResult): { errors: WasmCompileError[]; warnings: WasmCompileError[] } {
  const errors: WasmCompileError[] = [];
  const warnings: WasmCompileError[] = [];
  const v = r.compileErrors;
  for (let i = 0; i < v.size(); i++) {
    const e = v.get(i);
    (e.warning ? warnings : errors).push({ message: e.message, lineNumber: e.lineNumber, warning: e.warning });
  }
  return { errors, warnings };
}

function releaseResult(r: WasmResult): void {
  const rules = r.matchedRules;
  for (let i = 0; i < rules.size(); i++) {
    const m = rules.get(i);
    release(m.resolvedMatches);
    release(m.metadata);
  }
  release(rules);
  release(r.compileErrors);
  release(r.consoleLogs);
}

const EMPTY = new Uint8Array(0);

export class LibyaraWasmRules extends ReportingRules<Unit> implements YaraRules {
  readonly engine = 'libyara-wasm' as const;

  static async compile(sources: readonly YaraSource[], options: CompileOptions = {}): Promise<LibyaraWasmRules> {
    await host.ready();
    const units: Unit[] = [];
    const warnings: string[] = [];
    for (const [namespace, group] of groupByNamespace(sources)) {
      const joined = joinNamespace(group);
      const text = joined.text;
      const where = (l: number): string => place(joined, namespace, l);
      const r = host.run(EMPTY, text);
      const { errors, warnings: warns } = readErrors(r);
      releaseResult(r);
      const first = errors[0];
      if (first !== undefined) {
        const file = where(first.lineNumber);
        const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
        throw new YaraError('VIGIL_ERR_YARA_COMPILE', `libyara-wasm: ${file}: ${first.message}${more}`, {
          engine: 'libyara-wasm',
          details: { namespace, line: first.lineNumber, errors: errors.map((e) => `${where(e.lineNumber)}: ${e.message}`) },
        });
      }
      for (const w of warns) warnings.push(`libyara-wasm: ${where(w.lineNumber)}: ${w.message}`);
      const rules = new Map<string, ParsedRule>();
      for (const p of parseRules(text)) rules.set(p.name, p);
      units.push({ namespace, text, rules });
    }
    return new LibyaraWasmRules(units, warnings, options.maxReportedPerPattern ?? DEFAULT_MAX_REPORTED_PER_PATTERN);
  }

  stats(): Readonly<Record<string, number>> {
    return { ...this.reportStats(), ...host.stats() };
  }

  scan(data: Uint8Array): readonly YaraRuleMatch[] {
    if (data.length > WASM_MAX_SCAN_BYTES) {
      throw new YaraError('VIGIL_ERR_YARA_SCAN', `libyara-wasm: a buffer of ${data.length} bytes is over its ${WASM_MAX_SCAN_BYTES} bytes per call; scan it in parts`, { engine: 'libyara-wasm' });
    }
    this.scans++;
    const out: YaraRuleMatch[] = [];
    for (const u of this.units) {
      const r = host.run(data, u.text);
      try {
        const { errors } = readErrors(r);
        if (errors[0] !== undefined) throw new YaraError('VIGIL_ERR_YARA_SCAN', `libyara-wasm: namespace ${u.namespace} no longer compiles: ${errors[0].message}`, { engine: 'libyara-wasm' });
        const found: YaraRuleMatch[] = [];
        const v = r.matchedRules;
        for (let i = 0; i < v.size(); i++) {
          const m = v.get(i);
          const all: YaraStringMatch[] = [];
          const sv = m.resolvedMatches;
          for (let j = 0; j < sv.size(); j++) {
            const s = sv.get(j);
            all.push({ identifier: s.stringIdentifier, offset: Number(s.location), length: Number(s.matchLength) });
          }
          const p = u.rules.get(m.ruleName);
          found.push(this.ruleMatch(m.ruleName, u.namespace, p?.tags ?? [], p?.meta ?? {}, all));
        }
        found.sort((a, b) => (u.rules.get(a.rule)?.index ?? 0) - (u.rules.get(b.rule)?.index ?? 0));
        out.push(...found);
      } finally {
        releaseResult(r);
      }
    }
    return out;
  }
}
