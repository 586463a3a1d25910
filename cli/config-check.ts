/**
 * `vigil config check FILE`: the checks `vigil run` makes before it starts anything, made
 * from the manifests alone. Built-in plugins are known by their folders; only the enabled
 * ones' manifests are read. Third-party plugins enabled in the file are imported (that is
 * the only way to read their manifest); one that fails to import is a config error naming it.
 */
import { isAbsolute, resolve } from 'node:path';
import { configInvalid, loadConfig, type ConfigFinding } from '../core/config/index.js';
import { VigilError, isVigilError } from '../core/errors/index.js';
import { builtinPluginEntries, loadPluginFromFolder, loadPluginFromPackage, readBuiltinManifest } from '../core/plugin/loader.js';
import { runsOn } from '../core/plugin/manifest.js';
import type { PluginManifest } from '../core/plugin/types.js';
import { pluginConfigFindings } from './plugin-commands.js';

export interface ConfigCheckResult {
  file: string;
  /** Plugins that would start here. */
  enabled: number;
  /** Known plugins that would not (not enabled, disabled, built for another OS). */
  skipped: number;
}

/** Say which plugin a load failure is about (the loader names only the file). */
function forPlugin(id: string, where: string, err: unknown): unknown {
  if (!isVigilError(err)) return err;
  return new VigilError(err.code, `plugin ${id} (${where}): ${err.message}`, { cause: err.cause, details: { ...err.details, plugin: id } });
}

export async function checkConfigFile(file: string, platform: string = process.platform): Promise<ConfigCheckResult> {
  const loaded = loadConfig(file);
  const plugins = loaded.config.plugins;
  const builtins = new Map(builtinPluginEntries().map((e) => [e.id, e]));
  const findings: ConfigFinding[] = [];
  /** Every plugin id the agent would know, with the manifest when it is enabled. */
  const known = new Map<string, PluginManifest | undefined>();
  for (const id of builtins.keys()) known.set(id, undefined);

  for (const [id, entry] of Object.entries(plugins)) {
    if (!entry.path && !entry.package) continue;
    // As in the kernel, an entry of a third-party plugin is known only when it is enabled.
    if (!entry.enabled) continue;
    const where = entry.path ? `path ${entry.path}` : `package ${entry.package}`;
    let manifest: PluginManifest;
    try {
      const ref = entry.path
        ? await loadPluginFromFolder(isAbsolute(entry.path) ? entry.path : resolve(loaded.baseDir, entry.path))
        : await loadPluginFromPackage(entry.package!, loaded.baseDir);
      manifest = ref.plugin.manifest;
    } catch (err) {
      throw forPlugin(id, where, err);
    }
    if (manifest.id !== id) {
      findings.push({ path: `/plugins/${id}`, expected: `the plugin's manifest id`, found: `a plugin with id "${manifest.id}"` });
      continue;
    }
    if (builtins.has(id)) throw new VigilError('VIGIL_ERR_PLUGIN_DUPLICATE', `plugin ${id} from ${where} has the id of a built-in plugin`);
    known.set(id, manifest);
  }
  for (const id of Object.keys(plugins)) {
    if (!known.has(id)) {
      findings.push({
        path: `/plugins/${id}`,
        expected: `a known plugin id (${[...known.keys()].sort().join(', ')}) or an entry with path/package`,
        found: `unknown plugin "${id}"`,
      });
    }
  }

  let enabled = 0;
  let skipped = 0;
  const exclusive = new Map<string, string>();
  for (const id of [...known.keys()].sort((a, b) => a.localeCompare(b))) {
    const entry = plugins[id];
    if (!entry || !entry.enabled) {
      skipped++;
      continue;
    }
    const builtin = builtins.get(id);
    const manifest = known.get(id) ?? (builtin ? (await readBuiltinManifest(builtin)).manifest : undefined);
    if (manifest === undefined) continue;
    if (!runsOn(manifest, platform)) {
      skipped++;
      continue;
    }
    const blockFindings = pluginConfigFindings(manifest, id, structuredClone(entry.config ?? {}), loaded.lineOf, {
      resolvePath: (p) => (isAbsolute(p) ? p : resolve(loaded.baseDir, p)),
    });
    if (blockFindings.length > 0) {
      findings.push(...blockFindings);
      continue;
    }
    for (const res of manifest.exclusive ?? []) {
      const holder = exclusive.get(res);
      if (holder) throw new VigilError('VIGIL_ERR_PLUGIN_EXCLUSIVE', `plugins ${holder} and ${id} both claim the exclusive resource ${res}`);
      exclusive.set(res, id);
    }
    enabled++;
  }
  if (findings.length > 0) throw configInvalid(loaded.file, findings);
  return { file: loaded.file, enabled, skipped };
}
