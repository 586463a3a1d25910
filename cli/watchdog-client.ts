import { Worker } from 'node:worker_threads';
import { PLUGIN_METHODS, type Activity } from '../core/kernel/activity.js';
import type { DisabledPlugin, WatchdogReport } from '../core/kernel/kernel.js';

/** The environment variable through which the watchdog hands its state to the agent process. */
export const WATCHDOG_STATE_ENV = 'VIGIL_WATCHDOG_STATE';
/** The agent process's file descriptor on which its probe thread reports a held event loop. */
export const PROBE_FD = 4;

/** What the watchdog passes to each agent process it starts. */
export interface WatchdogState {
  heartbeatMs: number;
  /** Report a plugin call that holds the loop this long. */
  holdMs: number;
  disabled: DisabledPlugin[];
  /** Absent on the first start. */
  last?: WatchdogReport;
}

/** Heartbeat sent over IPC from the agent's event loop. */
export interface Heartbeat {
  type: 'heartbeat';
  rss: number;
  /** The plugin call running as the beat was sent (normally none: the loop is free). */
  current?: { plugin: string; method: string };
}

/** A line on the probe descriptor: a plugin call that holds the event loop. */
export interface HeldReport {
  plugin: string;
  method: string;
  held_ms: number;
}

/** The state the watchdog handed this process, or undefined when it runs without one. */
export function watchdogState(): WatchdogState | undefined {
  const raw = process.env[WATCHDOG_STATE_ENV];
  if (!raw || typeof process.send !== 'function') return undefined;
  return JSON.parse(raw) as WatchdogState;
}

/**
 * The probe: a thread beside the event loop that reads which plugin call runs (shared
 * memory written by the kernel) and, when one holds the loop past `holdMs`, writes it to the
 * probe descriptor, where the watchdog reads it even though the loop no longer beats.
 */
const PROBE_SOURCE = `
const { workerData, receiveMessageOnPort } = require('node:worker_threads');
const { writeSync } = require('node:fs');
const { buffer, fd, holdMs, methods, port } = workerData;
const words = new Int32Array(buffer);
let ids = [];
for (;;) {
  for (let m; (m = receiveMessageOnPort(port)); ) ids = m.message;
  const seq = Atomics.load(words, 0);
  const plugin = Atomics.load(words, 1);
  const method = Atomics.load(words, 2);
  if (plugin === 0) {
    Atomics.wait(words, 0, seq, 1000);
    continue;
  }
  Atomics.wait(words, 0, seq, holdMs);
  let held = holdMs;
  while (Atomics.load(words, 0) === seq) {
    for (let m; (m = receiveMessageOnPort(port)); ) ids = m.message;
    const line = JSON.stringify({ plugin: ids[plugin - 1] || '#' + plugin, method: methods[method] || String(method), held_ms: held }) + '\\n';
    // The watchdog's end of the pipe is gone: the agent process is ending, and so does the probe.
    try { writeSync(fd, line); } catch { process.exit(0); }
    Atomics.wait(words, 0, seq, 1000);
    held += 1000;
  }
}
`;

/**
 * Start beating: a heartbeat over IPC every `heartbeatMs` from the event loop, and the probe
 * thread. Returns the function that stops both.
 */
export function startHeartbeat(state: WatchdogState, activity: Activity): () => void {
  const { port1, port2 } = new MessageChannel();
  const probe = new Worker(PROBE_SOURCE, {
    eval: true,
    workerData: { buffer: activity.buffer, fd: PROBE_FD, holdMs: state.holdMs, methods: PLUGIN_METHODS, port: port2 },
    transferList: [port2],
  });
  probe.unref();
  port1.unref();
  const sendIds = () => port1.postMessage([...activity.plugins]);
  activity.onPlugin = sendIds;
  sendIds();
  const beat = () => {
    const current = activity.current();
    const hb: Heartbeat = { type: 'heartbeat', rss: process.memoryUsage.rss(), ...(current ? { current } : {}) };
    if (process.connected) process.send!(hb);
  };
  beat();
  const timer = setInterval(beat, state.heartbeatMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    activity.onPlugin = undefined;
    port1.close();
    void probe.terminate();
  };
}
