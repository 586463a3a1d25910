export { CONFIG_SCHEMA } from './schema.js';
export { loadConfig, parseConfig, resolveConfigPath, configInvalid, withLine, type LoadedConfig } from './load.js';
export { validateWithSchema, schemaCompileError, allowedKeys, PATH_KEYWORD, type ConfigFinding, type ValidationContext } from './validate.js';
export type { VigilConfig, PluginEntry } from './types.js';
