import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { VigilConfig } from '../core/config/types.js';
import type { DisabledPlugin, WatchdogReport } from '../core/kernel/kernel.js';
import type { Logger } from '../core/telemetry/logger.js';
import { EXIT } from './exit.js';
import { PROBE_FD, WATCHDOG_STATE_ENV, type HeldReport, type Heartbeat, type WatchdogState } from './watchdog-client.js';

export interface WatchdogOptions {
  config: VigilConfig['agent'];
  /** Arguments for the agent process (`--config <abs>` and the output options). */
  args: string[];
  logger: Logger;
}

/** Why the watchdog ended an agent process. */
type Verdict = 'stall' | 'memory';

/** The agent process the watchdog runs, from this (compiled or source) tree. */
function agentEntry(): string {
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  return fileURLToPath(new URL(`./agent-child${ext}`, import.meta.url));
}

/** Resident size of a process in bytes from /proc (Linux), or undefined. */
function residentBytes(pid: number): number | undefined {
  const file = `/proc/${pid}/status`;
  if (!existsSync(file)) return undefined;
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(file, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch (err) {
    // The process ended between the check and the read: its heartbeat's size stands.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ESRCH') return undefined;
    throw err;
  }
}

/**
 * `vigil run`: a small supervising process, as osquery's watcher is. It runs the agent as a
 * child process (fork, IPC), hears its heartbeat, and restarts it with backoff when it stops
 * beating for `watchdog_stall_seconds`, grows past `watchdog_max_rss_mb`, or exits without
 * being asked; the reason, with the plugin and method that held the loop, is logged, counted
 * and handed to the next agent process, which raises it as a health detection. A plugin named
 * as the culprit `watchdog_disable_after` times is disabled on the next start. More than
 * `watchdog_max_restarts` restarts within the window end the watchdog with exit 1.
 */
export async function runWatchdog(opts: WatchdogOptions): Promise<number> {
  const { config: c, logger } = opts;
  const log = logger.child({ watchdog: true });
  const stallMs = c.watchdog_stall_seconds * 1000;
  const heartbeatMs = Math.max(50, Math.min(1000, Math.floor(stallMs / 4)));
  const restartTimes: number[] = [];
  const byReason: Record<string, number> = {};
  const culprits = new Map<string, number>();
  const disabled: DisabledPlugin[] = [];
  let restarts = 0;
  let last: WatchdogReport | undefined;
  let stopping = false;
  let child: ChildProcess | undefined;
  let wake: (() => void) | undefined;

  const onStopSignal = (sig: string) => {
    if (stopping) return;
    stopping = true;
    // Act first, log after: a log that cannot be written (its reader gone) stops nothing.
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const grace = setTimeout(() => child?.kill('SIGKILL'), (c.stop_timeout_seconds * 3 + c.flush_timeout_seconds + 5) * 1000);
      grace.unref();
    }
    wake?.();
    log.info({ signal: sig }, 'watchdog: stopping the agent');
  };
  const onTerm = () => onStopSignal('SIGTERM');
  const onInt = () => onStopSignal('SIGINT');
  const onHup = () => child?.kill('SIGHUP');
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onInt);
  process.on('SIGHUP', onHup);
  try {
    for (;;) {
      const state: WatchdogState = { heartbeatMs, holdMs: Math.min(100, heartbeatMs), disabled: [...disabled], ...(last ? { last } : {}) };
      const run = await runOnce(state);
      if (stopping) return run.code === 0 || run.code === null ? EXIT.OK : EXIT.FAILURE;
      // A config error does not go away by restarting, nor does a first boot that fails with an
      // error of its own (a status socket path in the way): the operator sees it at once.
      if (!run.ready && run.code === EXIT.USAGE) return EXIT.USAGE;
      if (!run.ready && !run.verdict && restarts === 0 && run.code !== null && run.code !== 0) return run.code;
      restarts++;
      const reason = run.verdict ?? 'exit';
      byReason[reason] = (byReason[reason] ?? 0) + 1;
      const detail =
        run.verdict === 'stall'
          ? `no heartbeat for ${c.watchdog_stall_seconds} s`
          : run.verdict === 'memory'
            ? `resident size ${Math.round((run.rss ?? 0) / 1048576)} MB past ${c.watchdog_max_rss_mb} MB`
            : `the agent exited (${run.signal ? `signal ${run.signal}` : `code ${String(run.code)}`}) without being asked`;
      const held = run.held;
      last = {
        restarts,
        reason,
        detail,
        by_reason: { ...byReason },
        ...(held ? { plugin: held.plugin, method: held.method } : {}),
      };
      if (held) {
        const n = (culprits.get(held.plugin) ?? 0) + 1;
        culprits.set(held.plugin, n);
        if (n >= c.watchdog_disable_after && !disabled.some((d) => d.id === held.plugin)) {
          disabled.push({ id: held.plugin, reason: `held the agent's event loop in ${held.method} (${reason}: ${detail}) ${n} times` });
          log.error({ plugin: held.plugin, times: n }, `VIGIL_ERR_WATCHDOG_DISABLED: plugin ${held.plugin} is disabled from the next start`);
        }
      }
      last.disabled = [...disabled];
      log.error(
        { reason, detail, plugin: held?.plugin, method: held?.method, restarts, by_reason: byReason },
        `VIGIL_ERR_WATCHDOG_RESTART: the agent is restarted: ${reason}${held ? ` (held by ${held.plugin}.${held.method})` : ''}: ${detail}`,
      );
      const now = Date.now();
      restartTimes.push(now);
      while (restartTimes.length > 0 && restartTimes[0]! <= now - c.watchdog_restart_window_seconds * 1000) restartTimes.shift();
      if (restartTimes.length > c.watchdog_max_restarts) {
        log.fatal(
          { restarts: restartTimes.length, window_seconds: c.watchdog_restart_window_seconds },
          `VIGIL_ERR_WATCHDOG_GAVE_UP: the agent needed more than ${c.watchdog_max_restarts} restarts within ${c.watchdog_restart_window_seconds} s; the watchdog stops`,
        );
        return EXIT.FAILURE;
      }
      const delay = c.watchdog_backoff_ms * 2 ** (restartTimes.length - 1);
      await new Promise<void>((r) => {
        const t = setTimeout(r, delay);
        wake = () => {
          clearTimeout(t);
          r();
        };
      });
      wake = undefined;
      if (stopping) return EXIT.OK;
    }
  } finally {
    process.off('SIGTERM', onTerm);
    process.off('SIGINT', onInt);
    process.off('SIGHUP', onHup);
  }

  /** Run one agent process to its end. */
  function runOnce(state: WatchdogState): Promise<{ code: number | null; signal: NodeJS.Signals | null; ready: boolean; verdict?: Verdict; held?: HeldReport; rss?: number }> {
    const execArgv = [...process.execArgv];
    if (c.watchdog_max_heap_mb > 0) execArgv.push(`--max-old-space-size=${c.watchdog_max_heap_mb}`);
    const proc = fork(agentEntry(), opts.args, {
      execArgv,
      env: { ...process.env, [WATCHDOG_STATE_ENV]: JSON.stringify(state) },
      stdio: ['inherit', 'inherit', 'inherit', 'ipc', 'pipe'],
    });
    child = proc;
    log.info({ pid: proc.pid, restarts }, 'watchdog: agent process started');
    let lastBeat = Date.now();
    let ready = false;
    let verdict: Verdict | undefined;
    let held: HeldReport | undefined;
    let rss: number | undefined;
    let heartbeatRss = 0;
    proc.on('message', (m: Heartbeat | { type: 'ready' }) => {
      if (m.type === 'heartbeat') {
        lastBeat = Date.now();
        heartbeatRss = m.rss;
        held = undefined;
      } else if (m.type === 'ready') {
        ready = true;
      }
    });
    const probe = proc.stdio[PROBE_FD] as Readable | null | undefined;
    if (probe) {
      createInterface({ input: probe }).on('line', (line) => {
        held = JSON.parse(line) as HeldReport;
      });
    }
    const end = (why: Verdict, grace: number) => {
      if (verdict || stopping) return;
      verdict = why;
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), grace);
      t.unref();
      log.warn({ reason: why, plugin: held?.plugin, method: held?.method, pid: proc.pid }, `watchdog: ending the agent process (${why})`);
    };
    const check = setInterval(() => {
      if (Date.now() - lastBeat > stallMs) end('stall', 1000);
      if (c.watchdog_max_rss_mb > 0) {
        const size = (proc.pid !== undefined ? residentBytes(proc.pid) : undefined) ?? heartbeatRss;
        if (size > c.watchdog_max_rss_mb * 1048576) {
          rss = size;
          end('memory', c.stop_timeout_seconds * 3000);
        }
      }
    }, Math.min(250, heartbeatMs));
    return new Promise((resolve) => {
      // 'close': the probe descriptor is read to its end before the verdict is made.
      proc.once('close', (code, signal) => {
        clearInterval(check);
        child = undefined;
        resolve({ code, signal, ready, ...(verdict ? { verdict } : {}), ...(held ? { held } : {}), ...(rss !== undefined ? { rss } : {}) });
      });
    });
  }
}
