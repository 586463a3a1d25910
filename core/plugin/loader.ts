import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { VigilError } from '../errors/index.js';
import { checkPlugin } from './manifest.js';
import type { PluginCliRegistrar, VigilPlugin } from './types.js';

/** A plugin module found on disk or in node_modules, with where it came from. */
export interface PluginModuleRef {
  plugin: VigilPlugin;
  /** `builtin`, `path:<folder>` or `package:<name>`. */
  origin: string;
  /** The module's optional CLI registrar. */
  cli?: PluginCliRegistrar;
}

const KIND_FOLDERS = ['sensors', 'analyzers', 'responders'] as const;

/** Folder holding the built-in plugins beside this (compiled or source) core. */
export function builtinPluginsDir(): string {
  return fileURLToPath(new URL('../../plugins/', import.meta.url));
}

/** Index files of the built-in plugins (one folder per plugin, by kind). */
export function builtinPluginFiles(dir = builtinPluginsDir()): string[] {
  const files: string[] = [];
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  for (const kind of KIND_FOLDERS) {
    const kindDir = join(dir, kind);
    if (!existsSync(kindDir)) continue;
    for (const name of readdirSync(kindDir).sort()) {
      const index = join(kindDir, name, `index${ext}`);
      if (existsSync(index)) files.push(index);
    }
  }
  return files;
}

/** Import a plugin module file and validate what it exports. */
export async function importPluginFile(file: string, origin: string): Promise<PluginModuleRef> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (cause) {
    throw new VigilError('VIGIL_ERR_PLUGIN_LOAD', `cannot import plugin module ${file}: ${(cause as Error)?.message ?? cause}`, {
      cause,
      details: { file },
    });
  }
  const exported = mod['plugin'] ?? mod['default'];
  const plugin = checkPlugin(exported, file);
  const cli = typeof mod['cli'] === 'function' ? (mod['cli'] as PluginCliRegistrar) : undefined;
  return cli ? { plugin, origin, cli } : { plugin, origin };
}

/** Load every built-in plugin. A broken one is reported through `onError`, not fatal here. */
export async function loadBuiltinPlugins(onError: (err: unknown, file: string) => void): Promise<PluginModuleRef[]> {
  const refs: PluginModuleRef[] = [];
  for (const file of builtinPluginFiles()) {
    try {
      refs.push(await importPluginFile(file, 'builtin'));
    } catch (err) {
      onError(err, file);
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
