/**
 * Commands that plugins declare in their manifest (`commands`), turned into commander
 * commands. Parsing, help and option checks are the CLI's; the plugin's handler gets plain
 * data and a `CommandHost`, and its module is imported only when its command runs.
 */
import { Option, type Command } from 'commander';
import { isAbsolute, resolve } from 'node:path';
import { configInvalid, loadConfig, resolveConfigPath, validateWithSchema, withLine, type ConfigFinding, type ValidationContext } from '../core/config/index.js';
import { VigilError } from '../core/errors/index.js';
import type { CommandHandler, CommandHost, CommandInput, CommandOption, PluginCommand, PluginManifest } from '../core/plugin/types.js';
import { EXIT } from './exit.js';

/** Where a plugin's commands come from: its manifest, and how to reach a handler. */
export interface CommandSource {
  readonly manifest: PluginManifest;
  readonly origin: string;
  /** The handler of a command path (`long-cmdline check`); imports the plugin module if needed. */
  handler(path: string): Promise<CommandHandler>;
}

export interface PluginCommandOptions {
  /** The host a handler gets; `configFile` is the value of `--config` when given. */
  host(manifest: PluginManifest, configFile: string | undefined): CommandHost;
  /** Receives the exit code a handler returned. */
  exit(code: number): void;
}

const CONFIG_HELP = 'config file (default: $VIGIL_CONFIG or the embedded default)';

/** What `host.usageError` returns: the CLI prints it with the command's usage and exits 2. */
export class CommandUsageError extends VigilError {
  constructor(message: string) {
    super('VIGIL_ERR_CLI_USAGE', message);
    this.name = 'CommandUsageError';
  }
}

/** Findings for one plugin's config block, at their path in the config file (defaults applied in place). */
export function pluginConfigFindings(
  manifest: PluginManifest,
  id: string,
  config: unknown,
  lineOf: (pointer: string) => number | undefined,
  context?: ValidationContext,
): ConfigFinding[] {
  return validateWithSchema(manifest.configSchema, config, context).map((f) =>
    withLine({ ...f, path: `/plugins/${id}/config${f.path === '/' ? '' : f.path}` }, lineOf),
  );
}

/** The host the `vigil` command gives a plugin's handler: stdio and the plugin's config block. */
export function commandHost(manifest: PluginManifest, configFile: string | undefined): CommandHost {
  return {
    out: (text) => void process.stdout.write(text),
    err: (text) => void process.stderr.write(text),
    pluginConfig() {
      const loaded = loadConfig(resolveConfigPath(configFile));
      const config = structuredClone(loaded.config.plugins[manifest.id]?.config ?? {});
      const findings = pluginConfigFindings(manifest, manifest.id, config, loaded.lineOf);
      if (findings.length > 0) throw configInvalid(loaded.file, findings);
      return { config, resolvePath: (p: string) => (isAbsolute(p) ? p : resolve(loaded.baseDir, p)) };
    },
    usageError: (message) => new CommandUsageError(message),
  };
}

function optionFlags(o: CommandOption): string {
  return `${o.short !== undefined ? `-${o.short}, ` : ''}--${o.name}${o.value !== undefined ? ` <${o.value}>` : ''}`;
}

function addCommand(parent: Command, decl: PluginCommand, path: string, source: CommandSource, opts: PluginCommandOptions): Command {
  const cmd = parent.command(decl.name).description(decl.description);
  if (decl.subcommands !== undefined) {
    for (const sub of decl.subcommands) addCommand(cmd, sub, `${path} ${sub.name}`, source, opts);
    return cmd;
  }
  const declaredArgs = decl.arguments ?? [];
  for (const a of declaredArgs) {
    const name = `${a.name}${a.variadic === true ? '...' : ''}`;
    cmd.argument(a.required === false ? `[${name}]` : `<${name}>`, a.description);
  }
  const declaredOptions = (decl.options ?? []).map((o) => {
    const option = new Option(optionFlags(o), o.description);
    if (o.choices !== undefined) option.choices(o.choices);
    cmd.addOption(option);
    return { name: o.name, attribute: option.attributeName() };
  });
  cmd.option('-c, --config <file>', CONFIG_HELP);
  cmd.action(async (...params: unknown[]) => {
    const command = params[params.length - 1] as Command;
    const values = command.opts<Record<string, unknown>>();
    const args: Record<string, string | readonly string[]> = {};
    declaredArgs.forEach((a, i) => {
      const v = command.processedArgs[i] as string | string[] | undefined;
      if (v !== undefined) args[a.name] = v;
    });
    const options: Record<string, string | true> = {};
    for (const o of declaredOptions) {
      const v = values[o.attribute];
      if (typeof v === 'string' || v === true) options[o.name] = v;
    }
    const input: CommandInput = { args, options };
    const handler = await source.handler(path);
    const configFile = typeof values['config'] === 'string' ? values['config'] : undefined;
    let code: void | number;
    try {
      code = await handler(input, opts.host(source.manifest, configFile));
    } catch (err) {
      // Shown like commander's own option errors: message, usage, exit 2.
      if (err instanceof CommandUsageError) command.error(`error: ${err.message}`, { exitCode: EXIT.USAGE, code: err.code });
      throw err;
    }
    if (typeof code === 'number') opts.exit(code);
  });
  return cmd;
}

/**
 * Add a plugin's declared commands under `program`, skipping (and reporting through `clash`)
 * a top-level name already taken. Returns the names added.
 */
export function addPluginCommands(
  program: Command,
  source: CommandSource,
  opts: PluginCommandOptions & { taken: Set<string>; clash(name: string): void },
): string[] {
  const added: string[] = [];
  for (const decl of source.manifest.commands ?? []) {
    if (opts.taken.has(decl.name)) {
      opts.clash(decl.name);
      continue;
    }
    opts.taken.add(decl.name);
    addCommand(program, decl, decl.name, source, opts);
    added.push(decl.name);
  }
  return added;
}
