import 'reflect-metadata';
import { Command, CommanderError, Option } from 'commander';
import { isAbsolute, resolve } from 'node:path';
import { loadConfig, resolveConfigPath } from '../core/config/index.js';
import { Kernel, type AgentStatus } from '../core/kernel/kernel.js';
import { runsOn } from '../core/plugin/manifest.js';
import { PLUGIN_API_VERSION, type PluginManifest } from '../core/plugin/types.js';
import { createLogger, type Logger } from '../core/telemetry/logger.js';
import { queryStatus, statusSocketPath } from '../core/telemetry/status-server.js';
import { Activity } from '../core/kernel/activity.js';
import { runAgent } from './agent.js';
import { runWatchdog } from './watchdog.js';
import { startHeartbeat, watchdogState } from './watchdog-client.js';
import { checkConfigFile } from './config-check.js';
import { EXIT, reportError } from './exit.js';
import { formatStatus, table } from './format.js';
import { addPluginCommands, commandHost, type CommandSource } from './plugin-commands.js';
import { PluginCatalog } from './plugins.js';
import { runReplay } from './replay.js';
import { registerRuleToolsCommand } from './rule-tools.js';

export { EXIT, reportError } from './exit.js';

function agentLogger(level?: string): Logger {
  return createLogger(level ? { level } : {});
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

/**
 * The command word typed (`alerts` in `vigil alerts --json`; `x` in `vigil help x`), or
 * undefined when there is none (`vigil --help`: the whole list is asked for). The program's
 * own options take no value, so the first word that is not an option is the command.
 */
function typedCommand(argv: readonly string[]): string | undefined {
  const words = argv.slice(2).filter((a) => !a.startsWith('-'));
  return words[0] === 'help' ? words[1] : words[0];
}

/**
 * SIGINT/SIGTERM that come before `vigil run` installs its own handlers (while the command
 * line is read): held, so that the run ends at once with 0 instead of dying by the signal.
 */
let heldSignal: { signal: string | undefined; release(): void } | undefined;

function holdSignals(): void {
  const held = {
    signal: undefined as string | undefined,
    release: () => {
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
    },
  };
  const onTerm = () => (held.signal ??= 'SIGTERM');
  const onInt = () => (held.signal ??= 'SIGINT');
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onInt);
  heldSignal = held;
}

function warn(message: string): void {
  process.stderr.write(`vigil: warning: ${message}\n`);
}

/**
 * The `vigil` program for this command line. The core's commands are always there; the
 * built-in plugins' declared commands are added from their manifests unless a core command
 * was typed, and the third-party plugins of the config are imported only when the command
 * typed is still unknown. No plugin module is imported here: a plugin's module is imported
 * when its command runs.
 */
export async function buildProgram(argv: readonly string[] = []): Promise<Command> {
  const catalog = new PluginCatalog(configFlag(argv), warn);
  const program = new Command('vigil')
    .description('Vigil: an open-source EDR agent built as a plugin-based microkernel')
    .version(`vigil 0.1.0 (plugin API ${PLUGIN_API_VERSION})`)
    .showHelpAfterError()
    .exitOverride();

  program
    .command('run')
    .description('run the live agent, supervised by a watchdog process, with the given (or default) config until SIGINT/SIGTERM')
    .option('-c, --config <file>', 'config file (default: $VIGIL_CONFIG or the embedded default)')
    .option('-o, --out <file>', 'also write every detection as JSONL to this file')
    .option('--events-out <file>', 'also write every normalized event as JSONL to this file')
    .option('--no-watchdog', 'run the agent in this process, without the supervising watchdog process')
    .addOption(new Option('--log-level <level>', 'log level').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']))
    .action(async (opts: { config?: string; out?: string; eventsOut?: string; logLevel?: string; watchdog: boolean }) => {
      const logger = agentLogger(opts.logLevel);
      const early = heldSignal;
      heldSignal = undefined;
      early?.release();
      if (early?.signal) {
        logger.info({ signal: early.signal }, 'stopped before the boot');
        return;
      }
      const configFile = resolveConfigPath(opts.config);
      const logLevelFixed = Boolean(opts.logLevel ?? process.env['VIGIL_LOG_LEVEL']);
      if (opts.watchdog) {
        const loaded = loadConfig(configFile);
        if (!logLevelFixed) logger.level = loaded.config.agent.log_level;
        const args = ['--config', configFile];
        if (opts.out) args.push('--out', resolve(opts.out));
        if (opts.eventsOut) args.push('--events-out', resolve(opts.eventsOut));
        if (opts.logLevel) args.push('--log-level', opts.logLevel);
        process.exitCode = await runWatchdog({ config: loaded.config.agent, args, logger });
        return;
      }
      const state = watchdogState();
      const activity = new Activity();
      const stopBeat = state ? startHeartbeat(state, activity) : undefined;
      let stopOnDisconnect: (() => void) | undefined;
      try {
        process.exitCode = await runAgent({
          configFile,
          logger,
          logLevelFixed,
          activity,
          ...(opts.out ? { out: opts.out } : {}),
          ...(opts.eventsOut ? { eventsOut: opts.eventsOut } : {}),
          ...(state
            ? {
                supervised: true,
                disabled: state.disabled,
                ...(state.last ? { watchdog: state.last } : {}),
                onRunning: () => {
                  if (process.connected) process.send!({ type: 'ready' });
                  // The watchdog is gone: the agent stops rather than run unsupervised.
                  stopOnDisconnect = () => process.kill(process.pid, 'SIGTERM');
                  process.once('disconnect', stopOnDisconnect);
                  if (!process.connected) stopOnDisconnect();
                },
              }
            : {}),
        });
      } finally {
        if (stopOnDisconnect) process.off('disconnect', stopOnDisconnect);
        stopBeat?.();
        if (state && process.connected) process.disconnect();
      }
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
      const builtins = new Map((await catalog.builtins()).map((r) => [r.manifest.id, r]));
      const rows = kernel.hosts
        .map((h) => ({ ...h.manifest, origin: h.origin, enabled: true, runs_here: true, reason: '' }))
        .concat(
          kernel.skipped.map((s) => {
            const ref = builtins.get(s.id);
            return { ...(ref?.manifest ?? { id: s.id, kind: 'sensor', version: '?', platforms: [], description: '' }), origin: ref?.origin ?? '?', enabled: false, runs_here: ref ? runsOn(ref.manifest) : false, reason: s.reason } as never;
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
      const r = await checkConfigFile(resolve(file));
      process.stdout.write(`${r.file}: ok (${r.enabled} plugins enabled, ${r.skipped} skipped)\n`);
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

  // `vigil rules` is the core's; the analyzers declaring `ruleKinds` are imported when it runs.
  registerRuleToolsCommand(program, { toolings: () => catalog.ruleToolings() });
  program.addHelpText('after', '\nCommands of third-party plugins enabled in the config are found when typed (vigil <command> --help).');

  const core = new Set(program.commands.map((c) => c.name()));
  const taken = new Set([...core, 'help']);
  const typed = typedCommand(argv);
  const add = (source: CommandSource): void => {
    addPluginCommands(program, source, {
      taken,
      clash: (name) => warn(`command "${name}" of plugin ${source.manifest.id} (${source.origin}) is not added: the name is taken`),
      host: (manifest: PluginManifest, configFile) => commandHost(manifest, configFile),
      exit: (code) => void (process.exitCode = code),
    });
  };
  if (typed === undefined || !core.has(typed)) {
    for (const ref of await catalog.builtins()) add(catalog.builtinSource(ref));
  }
  if (typed !== undefined && !taken.has(typed)) {
    for (const ref of await catalog.thirdParty()) add(PluginCatalog.moduleSource(ref));
  }
  return program;
}

/** Entry point: parse argv, run, map errors to exit codes. */
export async function main(argv: readonly string[] = process.argv): Promise<number> {
  if (typedCommand(argv) === 'run') holdSignals();
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
