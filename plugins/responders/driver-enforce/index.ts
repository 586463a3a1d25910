/**
 * driver-enforce: the `protect` action. Uses the agent's one connection to the Vigil driver
 * (opened by the `driver` sensor): read the policy, add the flagged process, write it back.
 * A request in monitor mode (dry_run) only says what it would add.
 */
import type { ActionRequest, ActionResult, ResponderContext, ResponderInstance, ResponderPlugin } from '../../../core/index.js';
import { C } from '../../../driver/protocol/protocol.js';
import { connectedDriver } from '../../../driver/ffi/windows/driver.js';
import { DriverEnforceError } from './errors.js';
import { manifest } from './manifest.js';
import { msToFiletime, protectProcess } from './policy.js';

export { manifest, DRIVER_ENFORCE_ACTIONS, driverEnforceConfigSchema } from './manifest.js';
export { DRIVER_ENFORCE_ERRORS, DriverEnforceError } from './errors.js';
export { protectProcess, msToFiletime } from './policy.js';

export class DriverEnforceResponder implements ResponderInstance {
  constructor(private readonly ctx: ResponderContext) {}

  start(): Promise<void> {
    if (process.platform !== 'win32') return Promise.reject(new DriverEnforceError('VIGIL_ERR_DRIVER_ENFORCE_PLATFORM', `driver-enforce runs on Windows only, not ${process.platform}`));
    return Promise.resolve();
  }

  onActions(batch: readonly ActionRequest[]): void {
    for (const req of batch) this.ctx.result(this.protect(req));
  }

  private protect(req: ActionRequest): ActionResult {
    const base = { request_id: req.id, detection_id: req.detection.id, action: req.action, responder: manifest.id, time: Date.now() };
    const t = req.target;
    const target = t ? { ...(t.pid !== undefined ? { pid: t.pid } : {}), ...(t.start_time !== undefined ? { start_time: t.start_time } : {}), ...(t.image !== undefined ? { image: t.image } : {}) } : undefined;
    const withTarget = target ? { ...base, target } : base;
    if (t?.pid === undefined || t.start_time === undefined) return { ...withTarget, status: 'skipped', outcome: 'no_identity', reason: 'no target identity: protect needs pid + start time' };
    const mode = (this.ctx.config as { mode?: string }).mode === 'monitor' ? C.MODE_MONITOR : C.MODE_ENFORCE;
    if (req.dry_run) return { ...withTarget, status: 'skipped', outcome: 'would_have', reason: `would have protected pid ${t.pid}` };
    const dev = connectedDriver();
    if (!dev) return { ...withTarget, status: 'failed', outcome: 'no_driver', reason: 'the driver is not connected (is the driver sensor running?)' };
    const cur = dev.getPolicy();
    if (!cur.ok) return { ...withTarget, status: 'failed', reason: `${cur.call} failed with error ${cur.error}` };
    const merged = protectProcess(cur.value, { pid: t.pid, mode, create_time: msToFiletime(t.start_time), name: '' });
    if (merged.already) return { ...withTarget, status: 'done', outcome: 'already', reason: `pid ${t.pid} already protected` };
    if (merged.evicted) {
      this.ctx.counters.discard('protect_evicted', 1, true);
      this.ctx.logger.warn({ pid: merged.evicted.pid }, 'driver-enforce: the protected set is full; the oldest flagged process is no longer protected');
    }
    const set = dev.setPolicy(merged.policy);
    if (!set.ok) return { ...withTarget, status: 'failed', reason: `${set.call} failed with error ${set.error}` };
    return { ...withTarget, status: 'done', reason: `pid ${t.pid} protected (${mode === C.MODE_ENFORCE ? 'enforce' : 'monitor'})` };
  }

  stop(): Promise<void> {
    return Promise.resolve();
  }
}

export const plugin: ResponderPlugin = Object.freeze({
  manifest,
  create: (ctx: ResponderContext): ResponderInstance => new DriverEnforceResponder(ctx),
});
