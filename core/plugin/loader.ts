import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { VigilError } from '../errors/index.js';
import { checkManifest, checkPlugin, moduleExportProblems } from './manifest.js';
import type { CommandHandlers, PluginManifest, RuleTooling, VigilPlugin } from './types.js';

/** A plugin module found on disk or in node_modules, with where it came from. */
export interface PluginModuleRef {
  plugin: VigilPlugin;
  /** `builtin`, `path:<folder>` or `package:<name>`. */
  origin: string;
  /** Handlers of the commands the manifest declares (export `commands`). */
  commands?: CommandHandlers;
  /** The tooling for the rule kinds the manifest declares (export `ruleTooling`). */
  ruleTooling?: RuleTooling;
}

/** A built-in plugin known by its manifest alone: its module is not imported yet. */
export interface PluginManifestRef {
  readonly manifest: PluginManifest;
  readonly origin: string;
  /** The plugin module, imported when the plugin's code is needed. */
  readonly file: string;
}

/** A built-in plugin's folder: its id is the folder's name. */
export interface BuiltinPluginEntry {
  readonly id: string;
  /** `manifest.js` (`.ts` under tsx): the manifest, with no code of the plugin behind it. */
  readonly manifestFile: string;
  /** `index.js`: manifest and factory. */
  readonly file: string;
}

const KIND_FOLDERS = ['sensors', 'analyzers', 'responders'] as const;

/** Folder holding the built-in plugins beside this (compiled or source) core. */
export function builtinPluginsDir(): string {
  return fileURLToPath(new URL('../../plugins/', import.meta.url));
}

/** The built-in plugin folders (one per plugin, by kind), found without importing anything. */
export function builtinPluginEntries(dir = builtinPluginsDir()): BuiltinPluginEntry[] {
  const entries: BuiltinPluginEntry[] = [];
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  for (const kind of KIND_FOLDERS) {
    const kindDir = join(dir, kind);
    if (!existsSync(kindDir)) continue;
    for (const name of readdirSync(kindDir).sort()) {
      const index = join(kindDir, name, `index${ext}`);
      if (existsSync(index)) entries.push({ id: name, manifestFile: join(kindDir, name, `manifest${ext}`), file: index });
    }
  }
  return entries;
}

/** Index files of the built-in plugins (one folder per plugin, by kind). */
export function builtinPluginFiles(dir = builtinPluginsDir()): string[] {
  return builtinPluginEntries(dir).map((e) => e.file);
}

async function importModule(file: string): Promise<Record<string, unknown>> {
  try {
    return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (cause) {
    throw new VigilError('VIGIL_ERR_PLUGIN_LOAD', `cannot import plugin module ${file}: ${(cause as Error)?.message ?? cause}`, {
      cause,
      details: { file },
    });
  }
}

/** Import a plugin module file and validate what it exports. */
export async function importPluginFile(file: string, origin: string): Promise<PluginModuleRef> {
  const mod = await importModule(file);
  const exported = mod['plugin'] ?? mod['default'];
  const plugin = checkPlugin(exported, file);
  const problems = moduleExportProblems(plugin.manifest, mod);
  if (problems.length > 0) {
    throw new VigilError('VIGIL_ERR_PLUGIN_MANIFEST', `invalid plugin at ${file}:\n  ${problems.join('\n  ')}`, { details: { where: file, problems } });
  }
  const ref: PluginModuleRef = { plugin, origin };
  if (mod['commands'] !== undefined) ref.commands = mod['commands'] as CommandHandlers;
  if (mod['ruleTooling'] !== undefined) ref.ruleTooling = mod['ruleTooling'] as RuleTooling;
  return ref;
}

/** Read and check a built-in plugin's `manifest.js`; its id must be the folder's name. */
export async function readBuiltinManifest(entry: BuiltinPluginEntry): Promise<PluginManifestRef> {
  if (!existsSync(entry.manifestFile)) {
    throw new VigilError('VIGIL_ERR_PLUGIN_MANIFEST', `built-in plugin ${entry.id} has no ${basename(entry.manifestFile)} beside ${entry.file}`, {
      details: { where: entry.file },
    });
  }
  const manifest = checkManifest((await importModule(entry.manifestFile))['manifest'], entry.manifestFile);
  if (manifest.id !== entry.id) {
    throw new VigilError('VIGIL_ERR_PLUGIN_MANIFEST', `built-in plugin in ${dirname(entry.file)} declares id "${manifest.id}"; a built-in's id is its folder's name`, {
      details: { where: entry.manifestFile },
    });
  }
  return { manifest, origin: 'builtin', file: entry.file };
}

/** Every built-in plugin's manifest, no plugin module imported. A broken one goes to `onError`. */
export async function loadBuiltinManifests(onError: (err: unknown, file: string) => void, dir = builtinPluginsDir()): Promise<PluginManifestRef[]> {
  const refs: PluginManifestRef[] = [];
  for (const entry of builtinPluginEntries(dir)) {
    try {
      refs.push(await readBuiltinManifest(entry));
    } catch (err) {
      onError(err, entry.manifestFile);
    }
  }
  return refs;
}

/** Import a built-in plugin whose manifest was read; what runs must be what was declared. */
export async function importBuiltinPlugin(ref: PluginManifestRef): Promise<PluginModuleRef> {
  const loaded = await importPluginFile(ref.file, ref.origin);
  if (!isDeepStrictEqual(loaded.plugin.manifest, ref.manifest)) {
    throw new VigilError('VIGIL_ERR_PLUGIN_MANIFEST', `built-in plugin ${ref.manifest.id}: ${ref.file} exports a manifest other than its manifest file's`, {
      details: { where: ref.file },
    });
  }
  return loaded;
}

/** Load every built-in plugin. A broken one is reported through `onError`, not fatal here. */
export async function loadBuiltinPlugins(onError: (err: unknown, file: string) => void): Promise<PluginModuleRef[]> {
  const refs: PluginModuleRef[] = [];
  for (const entry of builtinPluginEntries()) {
    try {
      refs.push(await importBuiltinPlugin(await readBuiltinManifest(entry)));
    } catch (err) {
      onError(err, entry.file);
    }
  }
  return refs;
}

/** Entry file of a third-party plugin folder: package.json main/exports, index.js, dist/index.js. */
export function pluginFolderEntry(folder: string): string {
  const dir = resolve(folder);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new VigilError('VIGIL_ERR_PLUGIN_NOT_FOUND', `plugin folder ${dir} does not exist`, { details: { folder: dir } });
  }
  const pkgFile = join(dir, 'package.json');
  if (existsSync(pkgFile)) {
    const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { main?: string; exports?: unknown };
    const exp = typeof pkg.exports === 'string' ? pkg.exports : (pkg.exports as { '.'?: unknown } | undefined)?.['.'];
    const main = typeof exp === 'string' ? exp : (exp as { import?: string; default?: string } | undefined)?.import ?? pkg.main;
    if (main && existsSync(join(dir, main))) return join(dir, main);
  }
  for (const candidate of ['index.js', 'index.mjs', 'dist/index.js']) {
    if (existsSync(join(dir, candidate))) return join(dir, candidate);
  }
  throw new VigilError('VIGIL_ERR_PLUGIN_NOT_FOUND', `no plugin entry (package.json main, index.js, dist/index.js) in ${dir}`, {
    details: { folder: dir },
  });
}

/** Load a third-party plugin from a folder. */
export async function loadPluginFromFolder(folder: string): Promise<PluginModuleRef> {
  return importPluginFile(pluginFolderEntry(folder), `path:${resolve(folder)}`);
}

/** Load a third-party plugin from an npm package name, resolved from `fromDir`. */
export async function loadPluginFromPackage(name: string, fromDir: string): Promise<PluginModuleRef> {
  let file: string;
  try {
    file = createRequire(join(resolve(fromDir), 'noop.js')).resolve(name);
  } catch (cause) {
    try {
      file = fileURLToPath(import.meta.resolve(name));
    } catch {
      throw new VigilError('VIGIL_ERR_PLUGIN_NOT_FOUND', `npm package ${name} is not installed (looked from ${fromDir})`, {
        cause,
        details: { package: name },
      });
    }
  }
  return importPluginFile(file, `package:${name}`);
}
