import type { ActionResult, Detection } from '../events/detection.js';
import type { Playbook, PlaybookStep, StepCondition } from '../config/types.js';

/** The step name a step without `id` gets: its 1-based position. */
export function stepId(step: PlaybookStep, index: number): string {
  return step.id ?? `step${index + 1}`;
}

/** Outcomes after which a plan goes on: the step acted, or would have (monitor). */
const GOES_ON = new Set(['done', 'would_have']);

function findingsOf(r: ActionResult): readonly unknown[] {
  const f = r.details?.['findings'];
  return Array.isArray(f) ? f : [];
}

/** Whether one step's result meets a condition: every field the condition names must hold. */
export function conditionHolds(c: StepCondition, r: ActionResult | undefined): boolean {
  if (!r) return false;
  if (c.outcome && !c.outcome.includes(r.outcome ?? r.status)) return false;
  if (c.status && !c.status.includes(r.status)) return false;
  if (c.verdict) {
    const v = r.details?.['verdict'];
    if (typeof v !== 'string' || !c.verdict.includes(v)) return false;
  }
  if (c.findings !== undefined && (findingsOf(r).length > 0) !== c.findings) return false;
  return true;
}

function allHold(conds: Readonly<Record<string, StepCondition>>, results: ReadonlyMap<string, ActionResult>): boolean {
  return Object.entries(conds).every(([id, c]) => conditionHolds(c, results.get(id)));
}

function showCondition(conds: Readonly<Record<string, StepCondition>>): string {
  return Object.entries(conds)
    .map(([id, c]) => `${id} ${Object.entries(c).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('|') : String(v)}`).join(' ')}`)
    .join(', ');
}

/** Where a step stands in its plan; the policy journals it with every result of the step. */
export interface StepContext {
  readonly playbook: string;
  readonly step: string;
  /** The plan's restoring action after a failure: rate limits and cooldowns do not hold it back. */
  readonly restoring: boolean;
}

/** What the runner needs from the response policy. */
export interface StepDecider {
  /**
   * Decide one step through the policy's rails and resolve with its result: at once when
   * refused or simulated, else when the responder answers, or a `timeout` result after
   * `timeoutMs`.
   */
  step(det: Detection, action: string, params: Readonly<Record<string, unknown>>, ctx: StepContext, timeoutMs: number): Promise<ActionResult>;
  /** Journal a result the plan itself produces (a step not run, the plan's summary). */
  report(r: ActionResult): void;
  readonly now: () => number;
}

/** A plan's summary, as the journal's `playbook` row and the result conditions of later tools read. */
export interface PlaybookRun {
  readonly name: string;
  readonly results: ReadonlyMap<string, ActionResult>;
  /** `done` (every step ran or was passed over by its condition), `would_have` (monitor), `aborted`. */
  readonly outcome: 'done' | 'would_have' | 'aborted';
  readonly reason: string;
}

/**
 * Walks one playbook for one detection: each step is an action decided by the policy's
 * rails (so a monitor-mode plan journals `would_have` for what acts and really runs what
 * only reads), `when` / `unless` read earlier steps' results, and a step that times out,
 * fails or is refused stops the plan — after running `on_timeout` (default `resume`) when
 * an earlier step acted, so a process is never left suspended by a plan that broke off.
 */
export async function runPlaybook(
  name: string,
  pb: Playbook,
  det: Detection,
  requestId: string,
  decider: StepDecider,
): Promise<PlaybookRun> {
  const results = new Map<string, ActionResult>();
  let acted = false;
  let wouldHave = false;
  let aborted: string | undefined;
  for (const [i, step] of pb.steps.entries()) {
    const id = stepId(step, i);
    const ctx: StepContext = { playbook: name, step: id, restoring: false };
    const blockedBy = step.when && !allHold(step.when, results) ? `when ${showCondition(step.when)}: not met` : step.unless && allHold(step.unless, results) ? `unless ${showCondition(step.unless)}: met` : undefined;
    if (blockedBy !== undefined) {
      const r = notRun(det, requestId, step.action, ctx, blockedBy, decider.now());
      results.set(id, r);
      decider.report(r);
      continue;
    }
    const timeoutMs = (step.timeout_seconds ?? pb.step_timeout_seconds) * 1000;
    const r = await decider.step(det, step.action, step.params ?? {}, ctx, timeoutMs);
    results.set(id, r);
    const outcome = r.outcome ?? r.status;
    if (GOES_ON.has(outcome)) {
      acted = true;
      if (outcome === 'would_have') wouldHave = true;
      continue;
    }
    aborted = `step ${id} (${step.action}) ended ${outcome}${r.reason ? `: ${r.reason}` : ''}`;
    if (acted && pb.on_timeout !== '') {
      const restoreCtx: StepContext = { playbook: name, step: `${id}:on_timeout`, restoring: true };
      const restored = await decider.step(det, pb.on_timeout, {}, restoreCtx, pb.step_timeout_seconds * 1000);
      results.set(restoreCtx.step, restored);
      aborted += `; ${pb.on_timeout} ${restored.outcome ?? restored.status}`;
    }
    break;
  }
  const outcome = aborted !== undefined ? 'aborted' : wouldHave ? 'would_have' : 'done';
  const steps = [...results].map(([id, r]) => `${id}=${r.action}:${r.outcome ?? r.status}${typeof r.details?.['verdict'] === 'string' ? `(${r.details['verdict']})` : ''}`);
  const reason = aborted ?? steps.join(' ');
  return { name, results, outcome, reason };
}

function notRun(det: Detection, requestId: string, action: string, ctx: StepContext, why: string, now: number): ActionResult {
  return {
    request_id: `${requestId}:${ctx.step}`,
    detection_id: det.id,
    action,
    responder: 'core',
    status: 'skipped',
    outcome: 'condition',
    reason: why,
    time: now,
    playbook: ctx.playbook,
    step: ctx.step,
  };
}
