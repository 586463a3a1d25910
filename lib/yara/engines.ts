/** Choosing, loading and compiling the YARA engines. */
import { LibyaraWasmRules, wasmLoadError } from './libyara-wasm.js';
import { YaraError } from './errors.js';
import type { CompileOptions } from './common.js';
import type { YaraEngineName, YaraRules, YaraSource } from './types.js';
import { YaraXRules, yaraXLoadError } from './yara-x.js';

export const YARA_ENGINES: readonly YaraEngineName[] = ['yara-x', 'libyara-wasm'];

export function isYaraEngineName(s: string): s is YaraEngineName {
  return (YARA_ENGINES as readonly string[]).includes(s);
}

/** undefined when `engine` loads in this process, else why it does not. */
export function engineAvailable(engine: YaraEngineName): string | undefined {
  return engine === 'yara-x' ? yaraXLoadError() : wasmLoadError();
}

/**
 * The engines a setting names, the one to scan with first: `auto` is YARA-X where its native
 * package loads, else libyara-wasm; an engine or a list of engines is taken as given, and an
 * engine named explicitly that does not load is an error (no silent change of engine).
 */
export function chooseEngines(setting: string | readonly string[]): YaraEngineName[] {
  const names = typeof setting === 'string' ? [setting] : [...setting];
  if (names.length === 0) throw new YaraError('VIGIL_ERR_YARA_SETTING', 'YARA engine setting: no engine named (use auto, yara-x or libyara-wasm)');
  const out: YaraEngineName[] = [];
  for (const n of names) {
    if (n === 'auto') {
      const pick: YaraEngineName = engineAvailable('yara-x') === undefined ? 'yara-x' : 'libyara-wasm';
      const why = engineAvailable(pick);
      if (why !== undefined) throw new YaraError('VIGIL_ERR_YARA_ENGINE_UNAVAILABLE', `YARA engine auto: no engine loads (${why})`, { engine: pick });
      if (!out.includes(pick)) out.push(pick);
      continue;
    }
    if (!isYaraEngineName(n)) throw new YaraError('VIGIL_ERR_YARA_SETTING', `YARA engine setting: unknown engine "${n}" (use auto, yara-x or libyara-wasm)`);
    const why = engineAvailable(n);
    if (why !== undefined) throw new YaraError('VIGIL_ERR_YARA_ENGINE_UNAVAILABLE', `YARA engine ${n}: ${why}`, { engine: n });
    if (!out.includes(n)) out.push(n);
  }
  return out;
}

/** Compile `sources` with one engine; throws VIGIL_ERR_YARA_COMPILE naming the engine, file and line. */
export async function compileRules(engine: YaraEngineName, sources: readonly YaraSource[], options: CompileOptions = {}): Promise<YaraRules> {
  const why = engineAvailable(engine);
  if (why !== undefined) throw new YaraError('VIGIL_ERR_YARA_ENGINE_UNAVAILABLE', `YARA engine ${engine}: ${why}`, { engine });
  return engine === 'yara-x' ? YaraXRules.compile(sources, options) : LibyaraWasmRules.compile(sources, options);
}

export type RuleSetCheck =
  | { readonly accepted: true; readonly rules: ReadonlyMap<YaraEngineName, YaraRules>; readonly warnings: readonly string[] }
  | { readonly accepted: false; readonly engine: YaraEngineName; readonly reason: string; readonly error: YaraError };

/**
 * A rule set is accepted only if every configured engine compiles it: YARA-X and YARA 4.2.3
 * disagree on a few constructs (docs/yara.md), and a set that works on one platform's engine
 * must not silently lose rules on another's. The refusal names the first engine that refused
 * and its reason.
 */
export async function checkRuleSet(sources: readonly YaraSource[], engines: readonly YaraEngineName[], options: CompileOptions = {}): Promise<RuleSetCheck> {
  const rules = new Map<YaraEngineName, YaraRules>();
  const warnings: string[] = [];
  for (const engine of engines) {
    try {
      const r = await compileRules(engine, sources, options);
      rules.set(engine, r);
      warnings.push(...(r.warnings ?? []));
    } catch (err) {
      if (!(err instanceof YaraError)) throw err;
      return { accepted: false, engine, reason: err.message, error: err };
    }
  }
  return { accepted: true, rules, warnings };
}
