import type { ActionRequest, ActionResult, ResponderContext, ResponderInstance } from '../../../core/index.js';
import { bindPidfd, type PidfdApi } from '../../../driver/ffi/linux/pidfd.js';
import { bindWinProcess, type WinProcessApi } from '../../../driver/ffi/windows/process.js';
import type { ProcessActionBackend } from './actions.js';
import { ProcessActions } from './linux.js';
import type { ProcessActionsConfig } from './config.js';
import { ProcessActionsError, errorKind } from './errors.js';
import { agentLineage, readBootTime, readClockTicks } from './procfs.js';
import { WindowsProcessActions, windowsLineage } from './windows.js';

/** Clock ticks per second when `getconf CLK_TCK` cannot be run (the value on every mainstream arch). */
const DEFAULT_CLOCK_TICKS = 100;

export interface ProcessActionsOptions {
  /** The pidfd calls (Linux); default: bound from libc through driver/ffi. */
  readonly pidfd?: PidfdApi;
  readonly procRoot?: string;
  /** The kernel32 / ntdll calls (Windows); default: bound from the system DLLs through driver/ffi. */
  readonly windows?: WinProcessApi;
  /** Which implementation to run; default: the platform the agent runs on. */
  readonly platform?: NodeJS.Platform;
}

/** Performs kill, kill_tree, suspend and resume requests, one at a time, each answered with one ActionResult. */
export class ProcessActionsResponder implements ResponderInstance {
  private actions: ProcessActionBackend | undefined;
  private state: 'created' | 'running' | 'stopped' = 'created';

  constructor(
    private readonly ctx: ResponderContext<ProcessActionsConfig>,
    private readonly options: ProcessActionsOptions = {},
  ) {}

  /** Binds the OS calls and reads what identities are checked against; a failure is the core's to count and retry. */
  async start(): Promise<void> {
    if (this.state !== 'created') return;
    this.actions = (this.options.platform ?? process.platform) === 'win32' ? await this.startWindows() : await this.startLinux();
    this.state = 'running';
  }

  /** kernel32 / ntdll bound, and the agent's lineage from a toolhelp snapshot. */
  private async startWindows(): Promise<ProcessActionBackend> {
    const { ctx } = this;
    let api = this.options.windows;
    if (!api) {
      try {
        api = await bindWinProcess();
      } catch (err) {
        throw new ProcessActionsError('VIGIL_ERR_PROCACT_WINAPI', `process actions cannot bind kernel32 / ntdll: ${err instanceof Error ? err.message : errorKind(err)}`, { cause: err });
      }
    }
    const lineage = windowsLineage(api);
    ctx.counters.set('lineage_processes', lineage.size);
    return new WindowsProcessActions({
      api,
      lineage,
      confirmTimeoutMs: ctx.config.confirm_timeout_seconds * 1000,
      maxTreeProcesses: ctx.config.max_tree_processes,
      signal: ctx.signal,
    });
  }

  /** pidfd calls bound; boot time, clock ticks and the agent's lineage read from /proc. */
  private async startLinux(): Promise<ProcessActionBackend> {
    const { ctx } = this;
    let pidfd = this.options.pidfd;
    if (!pidfd) {
      try {
        pidfd = await bindPidfd();
      } catch (err) {
        throw new ProcessActionsError('VIGIL_ERR_PROCACT_PIDFD', `process actions cannot bind pidfd_open / pidfd_send_signal: ${err instanceof Error ? err.message : errorKind(err)}`, { cause: err });
      }
    }
    const bootTimeSec = await readBootTime(this.options.procRoot);
    if (bootTimeSec === undefined) {
      throw new ProcessActionsError('VIGIL_ERR_PROCACT_PROCFS', '/proc/stat has no btime line; process start times cannot be checked');
    }
    const ticks = await readClockTicks(ctx.signal);
    if (ticks === undefined) ctx.logger.warn({ assumed: DEFAULT_CLOCK_TICKS }, 'getconf CLK_TCK unavailable; assuming 100 clock ticks per second');
    const clockTicks = ticks ?? DEFAULT_CLOCK_TICKS;
    ctx.counters.set('clock_ticks', clockTicks);
    const lineage = await agentLineage(this.options.procRoot);
    return new ProcessActions({
      pidfd,
      bootTimeSec,
      clockTicks,
      lineage,
      confirmTimeoutMs: ctx.config.confirm_timeout_seconds * 1000,
      maxTreeProcesses: ctx.config.max_tree_processes,
      signal: ctx.signal,
      ...(this.options.procRoot !== undefined ? { procRoot: this.options.procRoot } : {}),
    });
  }

  async onActions(batch: readonly ActionRequest[]): Promise<void> {
    const { ctx } = this;
    const actions = this.actions;
    if (this.state !== 'running' || !actions) {
      ctx.counters.discard('plugin_not_running', batch.length);
      return;
    }
    for (const req of batch) {
      let r: ActionResult;
      try {
        r = await actions.perform(req, ctx.id);
      } catch (err) {
        // Reading /proc (or a Windows wait) failed in a way no outcome covers: counted, and still answered, so the
        // journal never lacks the request.
        ctx.counters.error('process', errorKind(err));
        r = {
          request_id: req.id,
          detection_id: req.detection.id,
          action: req.action,
          responder: ctx.id,
          status: 'failed',
          outcome: 'failed',
          reason: `${req.action} failed: ${err instanceof Error ? err.message : String(err)}`,
          time: Date.now(),
        };
      }
      ctx.counters.add(`${req.action}_${r.outcome ?? r.status}`, 1);
      if (r.status === 'failed') ctx.logger.warn({ action: req.action, pid: req.target?.pid, reason: r.reason }, 'process action failed');
      else if (r.status === 'done') ctx.logger.info({ action: req.action, pid: req.target?.pid, reason: r.reason }, 'process action done');
      ctx.counters.emitted++;
      ctx.result(r);
    }
  }

  stop(): Promise<void> {
    this.state = 'stopped';
    this.actions = undefined;
    return Promise.resolve();
  }
}
