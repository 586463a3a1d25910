/**
 * Conditions of correlation rules. They are compiled by the rule engine's compiler (lib/rules
 * compileCondition), so every combinator and operator means exactly what it means in a
 * detection rule; the correlation layer adds only two operators, through the compiler's
 * `extraOperators` hook, that make sense inside a sequence alone:
 *
 *   { "field": "target.pid", "equals_bound": "$1.target.pid" }
 *   { "field": "proc.image", "not_equals_bound": "$download.file.path" }
 *
 * `$<n>` is the n-th step (1-based), `$<name>` a named step; both must come before the step the
 * condition belongs to. The value bound by that step's event is compared like `equals_field`
 * (numerically when both sides are numeric, else case-insensitive unless `cased`).
 */
import {
  compareFieldValues,
  compileCondition,
  ConditionError as RuleConditionError,
  FieldPathError,
  type CompileEnv,
  type ExtraOperator,
  type Literal,
} from '../../../lib/rules/index.js';
import { eventGetter, type Getter } from './paths.js';

export type { Literal };

/** Subject of an earlier step, by 0-based step index. */
export type BoundLookup = (step: number) => object | undefined;

export interface CorrCondition {
  test(e: object, bound: BoundLookup | null): boolean;
  /** True when the condition reads values bound by earlier steps. */
  readonly usesBound: boolean;
}

export interface ConditionContext {
  lists: Readonly<Record<string, readonly Literal[]>>;
  macros: Readonly<Record<string, unknown>>;
  /** Step name → 0-based index. */
  stepNames: ReadonlyMap<string, number>;
  /** 0-based index of the step this condition belongs to; bound refs must be lower. -1 forbids them. */
  step: number;
}

/** A condition that cannot be compiled, at the JSON pointer of the offending node. */
export class ConditionError extends Error {
  override readonly name = 'ConditionError';
  /** The message without the pointer prefix. */
  readonly detail: string;
  constructor(
    readonly pointer: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(`${pointer}: ${message}`, options);
    this.detail = message;
  }
}

/**
 * Where the bound operators of one compiled condition find the earlier steps. lib/rules
 * compiles tests of a single event; the earlier steps belong to the partial match being tried,
 * so the condition's test puts their lookup here for the length of one synchronous call and
 * clears it after (the partial's events are not kept alive by the rule). One slot per compiled
 * condition, nothing allocated per event; a test never re-enters itself, so one slot suffices.
 */
interface BoundSlot {
  lookup: BoundLookup | null;
}

const BOUND_REF = /^\$([A-Za-z0-9_-]+)\.(.+)$/;

function parseBoundRef(ref: unknown, ptr: string, ctx: ConditionContext): { step: number; get: Getter } {
  if (typeof ref !== 'string') throw new RuleConditionError(ptr, 'a bound reference is a string like "$1.target.pid"');
  const m = BOUND_REF.exec(ref);
  if (!m) throw new RuleConditionError(ptr, `bound reference "${ref}" must look like "$1.target.pid" or "$<step name>.<path>"`);
  const tag = m[1] ?? '';
  let step: number;
  if (/^\d+$/.test(tag)) step = Number(tag) - 1;
  else {
    const byName = ctx.stepNames.get(tag);
    if (byName === undefined) throw new RuleConditionError(ptr, `bound reference "${ref}" names no step "${tag}"`);
    step = byName;
  }
  if (ctx.step < 0) throw new RuleConditionError(ptr, 'bound references are only allowed in sequence steps after the first');
  if (step < 0 || step >= ctx.step) {
    throw new RuleConditionError(ptr, `bound reference "${ref}" must refer to an earlier step (1..${ctx.step})`);
  }
  try {
    return { step, get: eventGetter(m[2] ?? '') };
  } catch (err) {
    if (err instanceof FieldPathError) throw new RuleConditionError(ptr, err.message, 'a known field path', m[2] ?? '');
    throw err;
  }
}

/** `equals_bound` (equal) or `not_equals_bound`: the field against the value an earlier step bound. */
function boundOperator(slot: BoundSlot, ctx: ConditionContext, equal: boolean, used: () => void): ExtraOperator {
  return (p) => {
    const ref = parseBoundRef(p.operand, `${p.path}/${p.op}`, ctx);
    used();
    const { get, cased } = p;
    const { step, get: bound } = ref;
    return (e) => {
      const subj = slot.lookup?.(step);
      return subj !== undefined && compareFieldValues(get(e), bound(subj), cased, equal);
    };
  };
}

/** Compile a condition; throws ConditionError naming the JSON pointer of the fault. */
export function compileCorrCondition(cond: unknown, pointer: string, ctx: ConditionContext): CorrCondition {
  const slot: BoundSlot = { lookup: null };
  let usesBound = false;
  const used = (): void => {
    usesBound = true;
  };
  const env: CompileEnv = {
    lists: ctx.lists,
    macros: ctx.macros,
    basePath: pointer,
    extraOperators: { equals_bound: boundOperator(slot, ctx, true, used), not_equals_bound: boundOperator(slot, ctx, false, used) },
  };
  let test: (e: object) => boolean;
  try {
    test = compileCondition(cond, env).test;
  } catch (err) {
    if (err instanceof RuleConditionError) throw new ConditionError(err.path, err.detail, { cause: err });
    throw err;
  }
  if (!usesBound) return { test, usesBound };
  return {
    test(e, bound) {
      slot.lookup = bound;
      const verdict = test(e);
      slot.lookup = null;
      return verdict;
    },
    usesBound,
  };
}
