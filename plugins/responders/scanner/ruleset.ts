/**
 * The YARA rule set a scanner uses, read and checked on the main thread once (at the
 * responder's start, or by `vigil scan`): every source from the rule paths, the engine
 * chosen by the setting, and every engine listed made to compile the set — a set one of them
 * refuses is refused with that engine's reason.
 */
import { createHash } from 'node:crypto';
import { checkRuleSet, chooseEngines, engineAvailable, readYaraSources, type YaraEngineName, type YaraSource } from './engines.js';
import { ScannerError, errorKind } from './errors.js';
import type { RuleSetRef } from './scans.js';

export type EngineSetting = 'auto' | YaraEngineName;

function message(err: unknown): string {
  return err instanceof Error ? err.message : errorKind(err);
}

/** The engine a setting names here: `auto` falls back to libyara-wasm where YARA-X does not load. */
export function pickEngine(setting: EngineSetting): YaraEngineName {
  let chosen: YaraEngineName[];
  try {
    chosen = chooseEngines(setting);
  } catch (err) {
    throw new ScannerError('VIGIL_ERR_SCANNER_ENGINE', message(err), { cause: err, details: { setting } });
  }
  const engine = chosen[0];
  if (engine === undefined) throw new ScannerError('VIGIL_ERR_SCANNER_ENGINE', `no YARA engine for setting ${setting}`);
  const why = engineAvailable(engine);
  if (why !== undefined) throw new ScannerError('VIGIL_ERR_SCANNER_ENGINE', `YARA engine ${engine} does not load here: ${why}`, { details: { engine } });
  return engine;
}

/** sha256 over engine, namespaces and texts: the key a worker caches the compiled set by. */
export function ruleSetHash(engine: YaraEngineName, sources: readonly YaraSource[]): string {
  const h = createHash('sha256').update(engine);
  for (const s of sources) h.update('\0').update(s.namespace).update('\0').update(s.text);
  return h.digest('hex');
}

/** Read, choose and check: the rule set tasks scan with. Throws VIGIL_ERR_SCANNER_RULES / _ENGINE with the reason. */
export async function loadRuleSet(paths: readonly string[], setting: EngineSetting, checkEngines: readonly YaraEngineName[]): Promise<RuleSetRef> {
  const engine = pickEngine(setting);
  let sources: YaraSource[];
  try {
    sources = [...(await readYaraSources([...paths]))];
  } catch (err) {
    throw new ScannerError('VIGIL_ERR_SCANNER_RULES', `cannot read the YARA rules (${paths.join(', ')}): ${message(err)}`, { cause: err });
  }
  const engines = [...new Set<YaraEngineName>([engine, ...checkEngines])];
  if (sources.length > 0) {
    let check: Awaited<ReturnType<typeof checkRuleSet>>;
    try {
      check = await checkRuleSet(sources, engines);
    } catch (err) {
      throw new ScannerError('VIGIL_ERR_SCANNER_RULES', `the YARA rule set cannot be checked: ${message(err)}`, { cause: err, details: { engines } });
    }
    if (!check.accepted) {
      throw new ScannerError('VIGIL_ERR_SCANNER_RULES', `the YARA rule set is refused by ${check.engine}: ${check.reason}`, { cause: check.error, details: { engine: check.engine, engines } });
    }
  }
  return { engine, sources, hash: ruleSetHash(engine, sources) };
}
