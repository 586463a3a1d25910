/**
 * The plugins one `vigil` invocation knows, each reached only when a command needs it:
 * built-in manifests (read without importing the plugins), built-in modules (imported to run
 * a command or a rule tool) and the third-party plugins enabled in the config (imported
 * only when the command typed is none of the core's or the built-ins').
 */
import { isAbsolute, resolve } from 'node:path';
import { loadConfig, resolveConfigPath } from '../core/config/index.js';
import { describeError, VigilError } from '../core/errors/index.js';
import {
  importBuiltinPlugin,
  loadBuiltinManifests,
  loadPluginFromFolder,
  loadPluginFromPackage,
  type PluginManifestRef,
  type PluginModuleRef,
} from '../core/plugin/loader.js';
import type { CommandHandler, RuleTooling } from '../core/plugin/types.js';
import type { CommandSource } from './plugin-commands.js';

export type Warn = (message: string) => void;

function handlerOf(ref: PluginModuleRef, path: string): CommandHandler {
  const handler = ref.commands?.[path];
  // The loader checked every declared command against the module's exports.
  if (handler === undefined) throw new VigilError('VIGIL_ERR_PLUGIN_MANIFEST', `plugin ${ref.plugin.manifest.id} has no handler for \`vigil ${path}\``);
  return handler;
}

export class PluginCatalog {
  private builtinList: Promise<PluginManifestRef[]> | undefined;
  private readonly builtinModules = new Map<string, Promise<PluginModuleRef>>();
  private thirdPartyList: Promise<PluginModuleRef[]> | undefined;

  /** `configFile`: the `-c/--config` of the command line, if any (third-party plugins are read from that config). */
  constructor(
    private readonly configFile: string | undefined,
    private readonly warn: Warn,
  ) {}

  /** Every built-in plugin's manifest; a broken one is warned about, not fatal. */
  builtins(): Promise<PluginManifestRef[]> {
    return (this.builtinList ??= loadBuiltinManifests((err, file) => {
      this.warn(`built-in plugin ${file} failed to load: ${describeError(err)}`);
    }));
  }

  /** Import a built-in plugin's module (once). */
  builtinModule(ref: PluginManifestRef): Promise<PluginModuleRef> {
    let mod = this.builtinModules.get(ref.manifest.id);
    if (mod === undefined) {
      mod = importBuiltinPlugin(ref);
      this.builtinModules.set(ref.manifest.id, mod);
    }
    return mod;
  }

  /**
   * The third-party plugins enabled in the config, imported (once). A plugin that cannot
   * be imported, or a config that cannot be read, is warned about: the command that needs
   * the config reports its problems itself.
   */
  thirdParty(): Promise<PluginModuleRef[]> {
    return (this.thirdPartyList ??= this.importThirdParty());
  }

  private async importThirdParty(): Promise<PluginModuleRef[]> {
    let loaded;
    try {
      loaded = loadConfig(resolveConfigPath(this.configFile));
    } catch (err) {
      this.warn(`third-party plugins of the config not read: ${describeError(err).split('\n')[0]}`);
      return [];
    }
    const refs: PluginModuleRef[] = [];
    for (const [id, entry] of Object.entries(loaded.config.plugins)) {
      if (!entry.enabled || (!entry.path && !entry.package)) continue;
      try {
        const ref = entry.path
          ? await loadPluginFromFolder(isAbsolute(entry.path) ? entry.path : resolve(loaded.baseDir, entry.path))
          : await loadPluginFromPackage(entry.package!, loaded.baseDir);
        if (ref.plugin.manifest.id === id) refs.push(ref);
        else this.warn(`plugin ${id} in ${loaded.file} declares id "${ref.plugin.manifest.id}": not used`);
      } catch (err) {
        this.warn(`plugin ${id} of ${loaded.file} not loaded: ${describeError(err).split('\n')[0]}`);
      }
    }
    return refs;
  }

  /** A built-in's commands: its module is imported when one of them runs. */
  builtinSource(ref: PluginManifestRef): CommandSource {
    return {
      manifest: ref.manifest,
      origin: ref.origin,
      handler: async (path) => handlerOf(await this.builtinModule(ref), path),
    };
  }

  /** An imported (third-party) plugin's commands. */
  static moduleSource(ref: PluginModuleRef): CommandSource {
    return { manifest: ref.plugin.manifest, origin: ref.origin, handler: async (path) => handlerOf(ref, path) };
  }

  /**
   * The rule toolings for `vigil rules`: the built-ins that declare `ruleKinds` (imported
   * now), then the enabled third-party plugins that do.
   */
  async ruleToolings(): Promise<RuleTooling[]> {
    const toolings: RuleTooling[] = [];
    for (const ref of await this.builtins()) {
      if (ref.manifest.ruleKinds === undefined) continue;
      try {
        const mod = await this.builtinModule(ref);
        if (mod.ruleTooling !== undefined) toolings.push(mod.ruleTooling);
      } catch (err) {
        this.warn(`rule tooling of built-in plugin ${ref.manifest.id} not loaded: ${describeError(err)}`);
      }
    }
    for (const ref of await this.thirdParty()) if (ref.ruleTooling !== undefined) toolings.push(ref.ruleTooling);
    return toolings;
  }
}
