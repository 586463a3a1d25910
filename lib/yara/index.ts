/**
 * YARA for Vigil's scanners: YARA-X (`@litko/yara-x`, Linux x64 and macOS) and YARA 4.2.3 in
 * WebAssembly (`libyara-wasm`, everywhere) behind one contract, `YaraRules`, so a scan gives
 * the same matches whichever engine ran. docs/yara.md says what each engine loads on,
 * refuses and costs.
 */
export type { YaraEngineName, YaraRuleMatch, YaraRules, YaraSource, YaraStringMatch } from './types.js';
export { YARA_ERRORS, YaraError, type YaraErrorCode } from './errors.js';
export { DEFAULT_MAX_MATCHES_PER_PATTERN, DEFAULT_MAX_REPORTED_PER_PATTERN, type CompileOptions } from './common.js';
export { YARA_ENGINES, checkRuleSet, chooseEngines, compileRules, engineAvailable, isYaraEngineName, type RuleSetCheck } from './engines.js';
export { MATCH_DATA_BYTES, toScanMatches } from './matches.js';
export { YARA_EXTENSIONS, readYaraSources } from './read.js';
export { parseRules, type ParsedRule, type YaraMetaValue } from './source.js';
export { WASM_MAX_SCAN_BYTES, WASM_RECYCLE_AFTER_CALLS, WASM_RECYCLE_HEAP_BYTES, reloadWasmEngine, wasmEngineStats } from './libyara-wasm.js';
