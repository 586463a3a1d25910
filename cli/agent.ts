import { loadConfig } from '../core/config/index.js';
import { Kernel, type DisabledPlugin, type KernelOptions, type WatchdogReport } from '../core/kernel/kernel.js';
import { StatusServer, statusSocketPath } from '../core/telemetry/status-server.js';
import type { Activity } from '../core/kernel/activity.js';
import type { Logger } from '../core/telemetry/logger.js';
import { describeError } from '../core/errors/index.js';
import { JsonlTap } from './jsonl-tap.js';
import { EXIT } from './exit.js';

const EXIT_OK: number = EXIT.OK;
const EXIT_FAILURE: number = EXIT.FAILURE;
import type { PluginModuleRef } from '../core/plugin/loader.js';

export interface AgentOptions {
  configFile: string;
  logger: Logger;
  /** JSONL of every detection. */
  out?: string;
  /** JSONL of every normalized event. */
  eventsOut?: string;
  /** The log level was set on the command line or in VIGIL_LOG_LEVEL (else agent.log_level applies). */
  logLevelFixed?: boolean;
  /** Serve `vigil status` (off for replay so it never collides with a running agent). */
  serveStatus: boolean;
  adjust?: KernelOptions['adjust'];
  extraPlugins?: readonly PluginModuleRef[];
  noBuiltins?: boolean;
  platform?: string;
  /** Aborted: the agent is to stop (a signal during boot); startAgent starts nothing more. */
  signal?: AbortSignal;
  /** Plugins the watchdog disabled for this run. */
  disabled?: readonly DisabledPlugin[];
  /** What the watchdog saw of the previous agent process. */
  watchdog?: WatchdogReport;
  activity?: Activity;
}

export interface AgentHandle {
  kernel: Kernel;
  /** Stop everything in order; idempotent. */
  stop(): Promise<void>;
}

/** Load the config, build the kernel, attach taps, start. Config errors throw before anything starts. */
export async function startAgent(opts: AgentOptions): Promise<AgentHandle> {
  const loaded = loadConfig(opts.configFile);
  if (!opts.logLevelFixed) opts.logger.level = loaded.config.agent.log_level;
  const kernelOptions: KernelOptions = { logger: opts.logger, guardProcess: true };
  if (opts.disabled) kernelOptions.disabled = opts.disabled;
  if (opts.watchdog) kernelOptions.watchdog = opts.watchdog;
  if (opts.activity) kernelOptions.activity = opts.activity;
  if (opts.adjust) kernelOptions.adjust = opts.adjust;
  if (opts.extraPlugins) kernelOptions.extraPlugins = opts.extraPlugins;
  if (opts.noBuiltins) kernelOptions.noBuiltins = true;
  if (opts.platform) kernelOptions.platform = opts.platform;
  const kernel = new Kernel(loaded, kernelOptions);
  const abort = () => void kernel.stop();
  opts.signal?.addEventListener('abort', abort, { once: true });
  if (opts.signal?.aborted) abort();
  await kernel.load();
  const taps: JsonlTap[] = [];
  if (opts.out) taps.push(JsonlTap.detections(kernel, kernel.resolveCliPath(opts.out)));
  if (opts.eventsOut) taps.push(JsonlTap.events(kernel, kernel.resolveCliPath(opts.eventsOut)));
  let status: StatusServer | undefined;
  if (opts.serveStatus && !opts.signal?.aborted) {
    const c = kernel.config.status;
    status = new StatusServer(kernel, {
      socketPath: statusSocketPath(kernel.dataDir, c.socket_path ? kernel.resolvePath(c.socket_path) : ''),
      ...(c.metrics_file ? { metricsFile: kernel.resolvePath(c.metrics_file) } : {}),
      metricsIntervalMs: c.metrics_interval_seconds * 1000,
      prometheusPort: c.prometheus_port,
      prometheusHost: c.prometheus_host,
      logger: kernel.logger,
    });
    await status.start();
  }
  if (!opts.signal?.aborted) await kernel.start();
  opts.signal?.removeEventListener('abort', abort);
  let stopping: Promise<void> | undefined;
  return {
    kernel,
    stop: () =>
      (stopping ??= (async () => {
        await kernel.stop();
        for (const t of taps) await t.close();
        await status?.stop();
      })()),
  };
}

export interface RunOptions extends Omit<AgentOptions, 'signal' | 'serveStatus'> {
  /** Under the watchdog: SIGINT is left to the watchdog and a repeated signal does not force an exit. */
  supervised?: boolean;
  /** Called with the kernel once it runs (the watchdog's heartbeat starts here). */
  onRunning?: (agent: AgentHandle) => void;
  /** Called as the stop begins, with the signal that asked for it. */
  onStopping?: (signal: string) => void;
}

/**
 * Run the agent in this process until SIGINT/SIGTERM (`vigil run --no-watchdog`, and the
 * agent process under the watchdog). A signal at any point, during boot too, stops it in
 * order and resolves with 0; a failed stop resolves with 1.
 */
export async function runAgent(opts: RunOptions): Promise<number> {
  const { logger } = opts;
  const stopRequest = new AbortController();
  let agent: AgentHandle | undefined;
  let code: number = EXIT_OK;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const stopAgent = () => {
    agent!.stop().then(done, (err: unknown) => {
      logger.error({ err: describeError(err) }, 'stop failed');
      code = EXIT_FAILURE;
      done();
    });
  };
  let signals = 0;
  const onSignal = (sig: string) => {
    signals++;
    if (signals > 1) {
      if (opts.supervised) return;
      logger.warn('second signal: exiting now');
      process.exit(EXIT_FAILURE);
    }
    logger.info({ signal: sig }, 'stopping');
    opts.onStopping?.(sig);
    stopRequest.abort();
    if (agent) stopAgent();
  };
  const onTerm = () => onSignal('SIGTERM');
  const onInt = () => (opts.supervised ? undefined : onSignal('SIGINT'));
  const onHup = () => {
    if (!agent) return;
    logger.info('SIGHUP: reloading analyzer content');
    void agent.kernel.reload();
  };
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onInt);
  process.on('SIGHUP', onHup);
  try {
    try {
      agent = await startAgent({ ...opts, serveStatus: true, signal: stopRequest.signal });
    } catch (err) {
      if (!stopRequest.signal.aborted) throw err;
      // Stopped while booting: what failed was the boot being cut short.
      logger.info({ err: describeError(err) }, 'stopped during boot');
      return code;
    }
    if (stopRequest.signal.aborted) {
      stopAgent();
    } else {
      const k = agent.kernel;
      logger.info(
        { plugins: k.hosts.map((h) => `${h.id} (${h.manifest.kind})`), skipped: k.skipped.map((s) => `${s.id}: ${s.reason}`) },
        'vigil agent running; SIGINT/SIGTERM stops, SIGHUP reloads',
      );
      opts.onRunning?.(agent);
    }
    await finished;
    logger.info('stopped');
    return code;
  } finally {
    process.off('SIGTERM', onTerm);
    process.off('SIGINT', onInt);
    process.off('SIGHUP', onHup);
  }
}
