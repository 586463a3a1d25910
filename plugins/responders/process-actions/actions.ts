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
