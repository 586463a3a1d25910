/**
 * proc-connector: a live Linux process sensor on the kernel's netlink proc connector (no
 * BPF). The kernel reports fork, exec, exit, uid, ptrace and comm changes by pid; the program,
 * command line and cwd are read from /proc at once (a process that exits first keeps only what
 * the event carries). Needs root; a subscription the kernel ignores (another namespace) is
 * detected at start by a canary process (see README).
 */
import type { SensorContext, SensorInstance, SensorPlugin } from '../../../core/index.js';
import type { ProcConnConfig } from './config.js';
import { manifest } from './manifest.js';
import { ProcConnectorSensor, type ProcConnectorSensorOptions } from './sensor.js';

export { PROCCONN_DEFAULTS, procConnConfigSchema, type ProcConnConfig } from './config.js';
export { PROCCONN_ERRORS, ProcConnError, type ProcConnErrorCode } from './errors.js';
export { ProcConnectorSensor, type ProcConnectorSensorOptions } from './sensor.js';
export { manifest } from './manifest.js';

/** Build a sensor with non-config options; `create` does no I/O. */
export function createProcConnectorSensor(ctx: SensorContext, options: ProcConnectorSensorOptions = {}): ProcConnectorSensor {
  return new ProcConnectorSensor(ctx, ctx.config as unknown as ProcConnConfig, options);
}

export const plugin: SensorPlugin = Object.freeze({
  manifest,
  create: (ctx: SensorContext): SensorInstance => createProcConnectorSensor(ctx),
});
