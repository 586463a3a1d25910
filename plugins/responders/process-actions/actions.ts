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
 * dispatch on the action, and kill_tree (suspend the root, then each generation of children
 * found once their parent is suspended, so none can be added behind the walk; then kill
 * bottom-up, so no survivor can respawn what was killed). A backend implements the identity
 * checks (`outcome`), kill / suspend / resume on a held process (`H`: opened and
 * identity-checked), and how the walk finds (`C`), opens and checks, and releases children.
 */
export abstract class HeldProcessBackend<H extends { pid: number }, C extends { pid: number }> implements ProcessActionBackend {
  /** One request → one result (the policy completes who asked, rule and mode). */
  async perform(req: ActionRequest, responder: string): Promise<ActionResult> {
    return toResult(req, responder, await this.outcome(req));
  }

  protected abstract outcome(req: ActionRequest): Promise<Outcomes>;
  protected abstract kill(h: H): Promise<Outcomes>;
  protected abstract suspend(h: H): Promise<Outcomes>;
  protected abstract resume(h: H): Promise<Outcomes>;
  /** The start time (ms since the epoch) of a held process, for kill_tree's details. */
  protected abstract startOf(h: H): number;
  /** The most processes kill_tree holds (max_tree_processes). */
  protected abstract treeLimit(): number;
  /** The children of a suspended parent, or why they cannot be listed. */
  protected abstract childrenOf(parent: H): Promise<readonly C[] | { failed: string }>;
  /** Open and check one child: held (pushed on `opened` once opened, to be released), or why it is skipped. */
  protected abstract holdChild(c: C, parent: H, opened: H[]): Promise<H | string>;
  /** Release what holding a process opened. */
  protected abstract release(h: H): void;

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

  private async killTree(root: H): Promise<Outcomes> {
    const held: H[] = [root];
    const opened: H[] = [];
    const skipped: Array<{ pid: number; reason: string }> = [];
    try {
      const first = await this.suspend(root);
      if (first.outcome !== 'done') return first;
      for (let i = 0; i < held.length; i++) {
        const parent = held[i]!;
        const children = await this.childrenOf(parent);
        if ('failed' in children) {
          const resumed = await this.resumeAll(held);
          return { outcome: 'failed', reason: `kill_tree of pid ${root.pid}: ${children.failed}; nothing killed, ${resumed} resumed` };
        }
        for (const c of children) {
          if (held.length >= this.treeLimit()) {
            const resumed = await this.resumeAll(held);
            return { outcome: 'failed', reason: `process tree of pid ${root.pid} is larger than max_tree_processes (${this.treeLimit()}); nothing killed, ${resumed} resumed` };
          }
          const h = await this.holdChild(c, parent, opened);
          if (typeof h === 'string') {
            skipped.push({ pid: c.pid, reason: h });
            continue;
          }
          const s = await this.suspend(h);
          if (s.outcome !== 'done') {
            skipped.push({ pid: c.pid, reason: s.reason });
            continue;
          }
          held.push(h);
        }
      }
      return await this.killBottomUp(root, held, skipped);
    } finally {
      for (const h of opened) this.release(h);
    }
  }

  /** Resume every held process (kill_tree giving up); how many were confirmed resumed. */
  private async resumeAll(held: readonly H[]): Promise<number> {
    let n = 0;
    for (const h of held) if ((await this.resume(h)).outcome === 'done') n++;
    return n;
  }

  /** Kill the suspended tree bottom-up, each kill confirmed; `skipped` is what the walk left. */
  private async killBottomUp(root: H, held: readonly H[], skipped: ReadonlyArray<{ pid: number; reason: string }>): Promise<Outcomes> {
    const killed: Array<{ pid: number; start_time: number }> = [];
    const failed: Array<{ pid: number; reason: string }> = [];
    for (const h of [...held].reverse()) {
      const k = await this.kill(h);
      if (k.outcome === 'done') killed.push({ pid: h.pid, start_time: this.startOf(h) });
      else failed.push({ pid: h.pid, reason: k.reason });
    }
    const details = { killed, failed, skipped };
    if (failed.length > 0) return { outcome: 'failed', reason: `kill_tree of pid ${root.pid}: ${failed.length} of ${held.length} not confirmed killed`, details };
    return { outcome: 'done', reason: `killed the tree of pid ${root.pid} (${killed.length} processes, bottom-up); exits confirmed`, details };
  }
}
