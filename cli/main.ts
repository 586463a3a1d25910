import 'reflect-metadata';
import { Command, CommanderError, Option } from 'commander';
import { isAbsolute, resolve } from 'node:path';
import { loadConfig, resolveConfigPath, validateWithSchema } from '../core/config/index.js';
import { describeError, isVigilError, VigilError } from '../core/errors/index.js';
import { Kernel, type AgentStatus } from '../core/kernel/kernel.js';
import { loadBuiltinPlugins, loadPluginFromFolder, loadPluginFromPackage, type PluginModuleRef } from '../core/plugin/loader.js';
import { runsOn } from '../core/plugin/manifest.js';
import type { CliHost, RuleTooling } from '../core/plugin/types.js';
import { createLogger, type Logger } from '../core/telemetry/logger.js';
import { queryStatus, statusSocketPath } from '../core/telemetry/status-server.js';
import { startAgent } from './agent.js';
import { formatStatus, table } from './format.js';
import { runReplay } from './replay.js';
import { registerRuleToolsCommand } from './rule-tools.js';
import { PLUGIN_API_VERSION } from '../core/plugin/types.js';

/** Exit codes (documented in docs/cli.md): 0 ok, 1 runtime failure, 2 usage or config error. */
export const EXIT = { OK: 0, FAILURE: 1, USAGE: 2 } as const;

const CONFIG_ERRORS = new Set([
  'VIGIL_ERR_CONFIG_READ',
  'VIGIL_ERR_CONFIG_PARSE',
  'VIGIL_ERR_CONFIG_INVALID',
  'VIGIL_ERR_PLUGIN_NOT_FOUND',
  'VIGIL_ERR_PLUGIN_MANIFEST',
  'VIGIL_ERR_PLUGIN_API_VERSION',
  'VIGIL_ERR_PLUGIN_DUPLICATE',
  'VIGIL_ERR_PLUGIN_EXCLUSIVE',
  'VIGIL_ERR_PLUGIN_CONFIG',
  'VIGIL_ERR_PLUGIN_LOAD',
  'VIGIL_ERR_PLUGIN_SERVICE',
  'VIGIL_ERR_PLUGIN_CAPABILITY',
  'VIGIL_ERR_CLI_USAGE',
  'VIGIL_ERR_REPLAY_INPUT',
  'VIGIL_ERR_REPLAY_NO_SENSOR',
  'VIGIL_ERR_ALERTS_BAD_OPTION',
]);

/** Print an error for an operator and return the exit code it deserves. */
export function reportError(err: unknown): number {
  if (isVigilError(err)) {
    process.stderr.write(`vigil: ${err.code}: ${describeError(err).replace(/^VIGIL_ERR_[A-Z_]+: /, '')}\n`);
    return CONFIG_ERRORS.has(err.code) ? EXIT.USAGE : EXIT.FAILURE;
  }
  process.stderr.write(`vigil: ${describeError(err)}\n`);
  return EXIT.FAILURE;
}

function agentLogger(level?: string): Logger {
  return createLogger(level ? { level } : {});
}

/** The CLI's view of plugin configs for plugin-provided commands. */
function cliHost(builtins: readonly PluginModuleRef[], toolings: RuleTooling[]): CliHost {
  return {
    registerRuleTooling(tooling: RuleTooling) {
      toolings.push(tooling);
    },
    pluginConfig(id: string, configFile?: string) {
      const loaded = loadConfig(resolveConfigPath(configFile));
      const ref = builtins.find((r) => r.plugin.manifest.id === id);
      const config = structuredClone(loaded.config.plugins[id]?.config ?? {});
      if (ref) {
        const findings = validateWithSchema(ref.plugin.manifest.configSchema, config);
        if (findings.length > 0) {
          throw new VigilError('VIGIL_ERR_CONFIG_INVALID', `invalid config for plugin ${id} in ${loaded.file}: ${findings.map((f) => `${f.path}: expected ${f.expected}, found ${f.found}`).join('; ')}`);
        }
      }
      return { config, resolvePath: (p: string) => (isAbsolute(p) ? p : resolve(loaded.baseDir, p)) };
    },
  };
}

/** The value of -c/--config in argv, read before commander parses (plugin commands depend on it). */
function configFlag(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if ((a === '-c' || a === '--config') && i + 1 < argv.length) return argv[i + 1];
    if (a.startsWith('--config=')) return a.slice('--config='.length);
  }
  return undefined;
}

/** Third-party plugins enabled in the config, for their `cli` commands. */
async function configuredPlugins(argv: readonly string[]): Promise<PluginModuleRef[]> {
  const loaded = loadConfig(resolveConfigPath(configFlag(argv)));
  const refs: PluginModuleRef[] = [];
  for (const [id, entry] of Object.entries(loaded.config.plugins)) {
    if (!entry.enabled || (!entry.path && !entry.package)) continue;
    const base = loaded.baseDir;
    const ref = entry.path ? await loadPluginFromFolder(isAbsolute(entry.path) ? entry.path : resolve(base, entry.path)) : await loadPluginFromPackage(entry.package!, base);
    if (ref.plugin.manifest.id === id) refs.push(ref);
  }
  return refs;
}

export async function buildProgram(argv: readonly string[] = []): Promise<Command> {
  const program = new Command('vigil')
    .description('Vigil: an open-source EDR agent built as a plugin-based microkernel')
    .version(`vigil 0.1.0 (plugin API ${PLUGIN_API_VERSION})`)
    .showHelpAfterError()
    .exitOverride();

  program
    .command('run')
    .description('run the live agent with the given (or default) config until SIGINT/SIGTERM')
    .option('-c, --config <file>', 'config file (default: $VIGIL_CONFIG or the embedded default)')
    .option('-o, --out <file>', 'also write every detection as JSONL to this file')
    .option('--events-out <file>', 'also write every normalized event as JSONL to this file')
    .addOption(new Option('--log-level <level>', 'log level').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']))
    .action(async (opts: { config?: string; out?: string; eventsOut?: string; logLevel?: string }) => {
      const logger = agentLogger(opts.logLevel);
      const agent = await startAgent({
        configFile: resolveConfigPath(opts.config),
        logger,
        serveStatus: true,
        logLevelFixed: Boolean(opts.logLevel ?? process.env['VIGIL_LOG_LEVEL']),
        ...(opts.out ? { out: opts.out } : {}),
        ...(opts.eventsOut ? { eventsOut: opts.eventsOut } : {}),
      });
      const k = agent.kernel;
      logger.info(
        { plugins: k.hosts.map((h) => `${h.id} (${h.manifest.kind})`), skipped: k.skipped.map((s) => `${s.id}: ${s.reason}`) },
        'vigil agent running; SIGINT/SIGTERM stops, SIGHUP reloads',
      );
      await new Promise<void>((done) => {
        let signals = 0;
        const stop = (sig: string) => {
          signals++;
          if (signals > 1) {
            logger.warn('second signal: exiting now');
            process.exit(EXIT.FAILURE);
          }
          logger.info({ signal: sig }, 'stopping');
          agent.stop().then(done, (err: unknown) => {
            logger.error({ err: describeError(err) }, 'stop failed');
            process.exitCode = EXIT.FAILURE;
            done();
          });
        };
        process.once('SIGINT', () => stop('SIGINT'));
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.on('SIGHUP', () => {
          logger.info('SIGHUP: reloading analyzer content');
          void k.reload();
        });
      });
      logger.info('stopped');
    });

  program
    .command('replay')
    .description('replay recorded telemetry (.evtx, JSONL, event XML) through the analyzers and exit')
    .argument('<paths...>', 'files or folders (recursive)')
    .option('-c, --config <file>', 'config file (default: $VIGIL_CONFIG or the embedded default)')
    .option('-o, --out <file>', 'write every detection as JSONL to this file')
    .option('--events-out <file>', 'write every normalized event as JSONL to this file')
    .option('--sigma <dir...>', 'also load Sigma rules from these folders')
    .option('--merge-by-time', 'merge files by event time instead of one file after another')
    .option('--no-progress', 'no progress bar')
    .option('--json', 'print the summary as JSON')
    .addOption(new Option('--log-level <level>', 'log level').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('warn'))
    .action(async (paths: string[], opts: { config?: string; out?: string; eventsOut?: string; sigma?: string[]; mergeByTime?: boolean; progress: boolean; json?: boolean; logLevel: string }) => {
      const code = await runReplay(paths, { ...opts, logger: agentLogger(opts.logLevel) });
      process.exitCode = code;
    });

  const plugins = program.command('plugins').description('inspect plugins');
  plugins
    .command('list')
    .description('list built-in and configured plugins')
    .option('-c, --config <file>', 'config file')
    .option('--json', 'JSON output')
    .action(async (opts: { config?: string; json?: boolean }) => {
      const loaded = loadConfig(resolveConfigPath(opts.config));
      const kernel = new Kernel(loaded, { logger: agentLogger('silent') });
      await kernel.load();
      const rows = kernel.hosts
        .map((h) => ({ ...h.manifest, origin: h.origin, enabled: true, runs_here: true, reason: '' }))
        .concat(
          kernel.skipped.map((s) => {
            const ref = knownBuiltins.find((r) => r.plugin.manifest.id === s.id);
            return { ...(ref?.plugin.manifest ?? { id: s.id, kind: 'sensor', version: '?', platforms: [], description: '' }), origin: ref?.origin ?? '?', enabled: false, runs_here: ref ? runsOn(ref.plugin.manifest) : false, reason: s.reason } as never;
          }),
        );
      await kernel.stop();
      if (opts.json) {
        process.stdout.write(JSON.stringify(rows.map(({ configSchema: _c, ...r }) => r), null, 2) + '\n');
        return;
      }
      process.stdout.write(
        table(
          ['id', 'kind', 'version', 'platforms', 'state', 'origin'],
          rows.map((r) => [r.id, r.kind, r.version, r.platforms.join(','), r.enabled ? 'enabled' : `skipped (${r.reason})`, r.origin]),
        ),
      );
    });

  const config = program.command('config').description('configuration tools');
  config
    .command('check')
    .description('validate a config file and every enabled plugin block; exit 0 when valid, 2 when not')
    .argument('<file>', 'config file')
    .action(async (file: string) => {
      const loaded = loadConfig(resolve(file));
      const kernel = new Kernel(loaded, { logger: agentLogger('silent') });
      try {
        await kernel.load();
      } finally {
        await kernel.stop();
      }
      process.stdout.write(`${loaded.file}: ok (${kernel.hosts.length} plugins enabled, ${kernel.skipped.length} skipped)\n`);
    });

  program
    .command('status')
    .description("print the counters of a running agent (read from its status socket)")
    .option('-c, --config <file>', 'config file of the running agent')
    .option('--socket <path>', 'status socket path (overrides the config)')
    .option('--json', 'JSON output')
    .action(async (opts: { config?: string; socket?: string; json?: boolean }) => {
      let socket = opts.socket;
      if (!socket) {
        const loaded = loadConfig(resolveConfigPath(opts.config));
        const dataDir = isAbsolute(loaded.config.agent.data_dir) ? loaded.config.agent.data_dir : resolve(loaded.baseDir, loaded.config.agent.data_dir);
        const configured = loaded.config.status.socket_path;
        socket = statusSocketPath(dataDir, configured ? (isAbsolute(configured) ? configured : resolve(loaded.baseDir, configured)) : '');
      }
      const s = (await queryStatus(socket)) as AgentStatus;
      process.stdout.write(opts.json ? JSON.stringify(s, null, 2) + '\n' : formatStatus(s));
    });

  const knownBuiltins = await loadBuiltinPlugins((err, file) => {
    process.stderr.write(`vigil: warning: built-in plugin ${file} failed to load: ${describeError(err)}\n`);
  });
  // `vigil rules` is the core's; analyzers plug in the tooling for the rule kinds they own.
  const toolings: RuleTooling[] = [];
  registerRuleToolsCommand(program, { toolings: () => toolings });
  const host = cliHost(knownBuiltins, toolings);
  for (const ref of knownBuiltins) ref.cli?.(program, host);
  let thirdParty: PluginModuleRef[] = [];
  try {
    thirdParty = await configuredPlugins(argv);
  } catch (err) {
    // The command itself reports config problems; here they only mean no plugin commands.
    process.stderr.write(`vigil: warning: commands of configured third-party plugins not added: ${describeError(err).split('\n')[0]}\n`);
  }
  for (const ref of thirdParty) ref.cli?.(program, host);
  return program;
}

/** Entry point: parse argv, run, map errors to exit codes. */
export async function main(argv: readonly string[] = process.argv): Promise<number> {
  let program: Command;
  try {
    program = await buildProgram(argv);
  } catch (err) {
    return reportError(err);
  }
  try {
    await program.parseAsync(argv as string[]);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT.OK;
      return err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    }
    return reportError(err);
  }
}
