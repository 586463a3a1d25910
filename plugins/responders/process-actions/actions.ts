import type { ActionRequest, ActionResult } from '../../../core/index.js';

/**
 * What the Linux (pidfd) and Windows (process handle) implementations share: the outcome
 * codes, how a request names its target, and the one method the responder calls.
 */

/** The journal's outcome codes for what this responder did. */
export type Outcome = 'done' | 'would_have' | 'not_found' | 'identity_mismatch' | 'protected' | 'no_identity' | 'failed';

export const STATUS: Record<Outcome, ActionResult['status']> = {
  done: 'done',
  would_have: 'skipped',
  not_found: 'skipped',
  identity_mismatch: 'skipped',
  protected: 'skipped',
  no_identity: 'skipped',
  failed: 'failed',
};

export interface Outcomes {
  outcome: Outcome;
  reason: string;
  details?: Record<string, unknown>;
}

/** One OS's kill / kill_tree / suspend / resume: one request → one result. */
export interface ProcessActionBackend {
  perform(req: ActionRequest, responder: string): Promise<ActionResult>;
}

/** The refusal for a request without pid + start time. */
export const NO_IDENTITY: Outcomes = {
  outcome: 'no_identity',
  reason: 'no target identity: process actions need pid + start time (or a pid@start guid); refused',
};

/** The start time a request names, in ms since the epoch: `start_time`, or a `pid@ms` guid. */
export function expectedStart(target: ActionRequest['target']): number | undefined {
  if (!target) return undefined;
  if (typeof target.start_time === 'number' && Number.isFinite(target.start_time)) return target.start_time;
  const m = typeof target.guid === 'string' ? /^(\d+)@(\d+)$/.exec(target.guid) : null;
  if (m && Number(m[1]) === target.pid) return Number(m[2]);
  return undefined;
}

/** The result for an outcome (the policy completes who asked, rule and mode). */
export function toResult(req: ActionRequest, responder: string, o: Outcomes): ActionResult {
  return {
    request_id: req.id,
    detection_id: req.detection.id,
    action: req.action,
    responder,
    status: STATUS[o.outcome],
    outcome: o.outcome,
    reason: o.reason,
    ...(o.details ? { details: o.details } : {}),
    time: Date.now(),
  };
}

/**
 * What both backends do alike around their OS primitives: one request → one result, the
 * dispatch on the action, and kill_tree's bound and bottom-up kill. A backend implements the
 * identity checks (`outcome`) and kill / suspend / resume / the tree walk on a held process
 * (`H`: opened and identity-checked).
 */
export abstract class HeldProcessBackend<H extends { pid: number }> implements ProcessActionBackend {
  /** One request → one result (the policy completes who asked, rule and mode). */
  async perform(req: ActionRequest, responder: string): Promise<ActionResult> {
    return toResult(req, responder, await this.outcome(req));
  }

  protected abstract outcome(req: ActionRequest): Promise<Outcomes>;
  protected abstract kill(h: H): Promise<Outcomes>;
  protected abstract suspend(h: H): Promise<Outcomes>;
  protected abstract resume(h: H): Promise<Outcomes>;
  protected abstract killTree(root: H): Promise<Outcomes>;

  /** The request's action on the held process. */
  protected async act(action: string, h: H): Promise<Outcomes> {
    switch (action) {
      case 'kill':
        return await this.kill(h);
      case 'suspend':
        return await this.suspend(h);
      case 'resume':
        return await this.resume(h);
      case 'kill_tree':
        return await this.killTree(h);
      default:
        return { outcome: 'failed', reason: `unknown action ${action}` };
    }
  }

  /** Resume every held process (kill_tree giving up); how many were confirmed resumed. */
  protected async resumeAll(held: readonly H[]): Promise<number> {
    let n = 0;
    for (const h of held) if ((await this.resume(h)).outcome === 'done') n++;
    return n;
  }

  /** kill_tree's bound: at `max` processes held, resume them all and refuse (nothing killed). */
  protected async treeTooLarge(root: H, held: readonly H[], max: number): Promise<Outcomes | undefined> {
    if (held.length < max) return undefined;
    const resumed = await this.resumeAll(held);
    return { outcome: 'failed', reason: `process tree of pid ${root.pid} is larger than max_tree_processes (${max}); nothing killed, ${resumed} resumed` };
  }

  /**
   * kill_tree's last step: kill the suspended tree bottom-up (children before parents, so no
   * survivor can respawn what was killed), each kill confirmed; `skipped` is what the walk left.
   */
  protected async killBottomUp(root: H, held: readonly H[], skipped: ReadonlyArray<{ pid: number; reason: string }>, startMs: (h: H) => number): Promise<Outcomes> {
    const killed: Array<{ pid: number; start_time: number }> = [];
    const failed: Array<{ pid: number; reason: string }> = [];
    for (const h of [...held].reverse()) {
      const k = await this.kill(h);
      if (k.outcome === 'done') killed.push({ pid: h.pid, start_time: startMs(h) });
      else failed.push({ pid: h.pid, reason: k.reason });
    }
    const details = { killed, failed, skipped };
    if (failed.length > 0) return { outcome: 'failed', reason: `kill_tree of pid ${root.pid}: ${failed.length} of ${held.length} not confirmed killed`, details };
    return { outcome: 'done', reason: `killed the tree of pid ${root.pid} (${killed.length} processes, bottom-up); exits confirmed`, details };
  }
}
