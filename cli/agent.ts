import { loadConfig } from '../core/config/index.js';
import { Kernel, type KernelOptions } from '../core/kernel/kernel.js';
import { StatusServer, statusSocketPath } from '../core/telemetry/status-server.js';
import type { Logger } from '../core/telemetry/logger.js';
import { JsonlTap } from './jsonl-tap.js';
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
  const kernelOptions: KernelOptions = { logger: opts.logger };
  if (opts.adjust) kernelOptions.adjust = opts.adjust;
  if (opts.extraPlugins) kernelOptions.extraPlugins = opts.extraPlugins;
  if (opts.noBuiltins) kernelOptions.noBuiltins = true;
  if (opts.platform) kernelOptions.platform = opts.platform;
  const kernel = new Kernel(loaded, kernelOptions);
  await kernel.load();
  const taps: JsonlTap[] = [];
  if (opts.out) taps.push(JsonlTap.detections(kernel, kernel.resolveCliPath(opts.out)));
  if (opts.eventsOut) taps.push(JsonlTap.events(kernel, kernel.resolveCliPath(opts.eventsOut)));
  let status: StatusServer | undefined;
  if (opts.serveStatus) {
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
  await kernel.start();
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
