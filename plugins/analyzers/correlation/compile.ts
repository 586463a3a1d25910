/** Turns a schema-valid correlation rule document into its compiled, runnable form. */
import { createHash } from 'node:crypto';
import { isKnownEventType } from '../../../core/index.js';
import { compileCorrCondition, ConditionError, type ConditionContext, type CorrCondition } from './condition.js';
import { parseDuration } from './duration.js';
import { compileKeyGetter, detectionGetter, isIdentityPath, keyPart, KEY_SEP } from './paths.js';
import type {
  CompiledCorrelation,
  CompiledCount,
  CompiledSequence,
  CompiledStep,
  CorrelationRuleDoc,
  CountDoc,
  ItemKeyFn,
  JoinFn,
  NamedDefs,
  SequenceDoc,
} from './model.js';

export class CompileError extends Error {
  override readonly name = 'CompileError';
  constructor(
    readonly pointer: string,
    message: string,
  ) {
    super(`${pointer}: ${message}`);
  }
}

/** Serializes with sorted keys so that the hash does not depend on key order. */
function stable(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stable(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/** Content hash of what the engine runs (fixtures excluded; named lists/macros included). */
export function ruleHash(doc: CorrelationRuleDoc, defs: NamedDefs): string {
  const { fixtures: _f, ...rest } = doc;
  return createHash('sha256').update(stable(rest)).update(stable(defs)).digest('hex').slice(0, 16);
}

function keyPartGetter(path: string, ptr: string): (subj: object, det: object | null) => string | undefined {
  try {
    if (path.startsWith('detection.')) {
      const get = detectionGetter(path.slice('detection.'.length));
      return (_s, det) => (det === null ? undefined : keyPart(get(det)));
    }
    const get = compileKeyGetter(path);
    return (s) => get(s);
  } catch (err) {
    throw new CompileError(ptr, (err as Error).message);
  }
}

/** Key over several paths (`detection.<path>` reads the detection). */
export function compileItemKey(paths: readonly string[], ptr: string): ItemKeyFn {
  const parts = paths.map((p, i) => keyPartGetter(p, `${ptr}/${i}`));
  if (parts.length === 0) return () => '';
  if (parts.length === 1) return parts[0] as ItemKeyFn;
  return (s, d) => {
    let out = '';
    for (let i = 0; i < parts.length; i++) {
      const v = (parts[i] as ItemKeyFn)(s, d);
      if (v === undefined) return undefined;
      out = i === 0 ? v : out + KEY_SEP + v;
    }
    return out;
  };
}

function identityParts(paths: readonly string[]): number[] {
  const out: number[] = [];
  paths.forEach((p, i) => {
    if (isIdentityPath(p.replace(/^\$[A-Za-z0-9_-]+\./, ''))) out.push(i);
  });
  return out;
}

function checkTypes(types: readonly string[] | undefined, ptr: string): ReadonlySet<string> | null {
  if (types === undefined) return null;
  types.forEach((t, i) => {
    if (t !== 'detection' && !isKnownEventType(t)) throw new CompileError(`${ptr}/${i}`, `unknown event type "${t}"`);
  });
  return new Set(types);
}

function asList(v: string | string[] | undefined): string[] | null {
  if (v === undefined) return null;
  return Array.isArray(v) ? v : [v];
}

function condition(cond: unknown, ptr: string, ctx: ConditionContext): CorrCondition {
  try {
    return compileCorrCondition(cond, ptr, ctx);
  } catch (err) {
    if (err instanceof ConditionError) throw new CompileError(err.pointer, err.detail);
    throw new CompileError(ptr, (err as Error).message);
  }
}

function spanOf(ms: number | undefined, text: string | number | undefined, ptr: string, what: string): number {
  if (ms !== undefined && text !== undefined) throw new CompileError(ptr, `give either ${what}_ms or ${what}, not both`);
  const v = ms ?? text;
  if (v === undefined) throw new CompileError(ptr, `${what} is required (e.g. "${what}": "60s" or "${what}_ms": 60000)`);
  const d = parseDuration(v);
  if (typeof d === 'string') throw new CompileError(`${ptr}/${ms !== undefined ? `${what}_ms` : what}`, d);
  return d;
}

function compileSequence(doc: SequenceDoc, ptr: string, defs: NamedDefs): CompiledSequence {
  const spanMs = spanOf(doc.maxspan_ms, doc.maxspan, ptr, 'maxspan');
  const names = new Map<string, number>();
  doc.steps.forEach((s, i) => {
    if (s.name !== undefined) {
      if (names.has(s.name)) throw new CompileError(`${ptr}/steps/${i}/name`, `duplicate step name "${s.name}"`);
      names.set(s.name, i);
    }
  });
  const arity = doc.steps[0]?.by.length ?? 0;
  const steps: CompiledStep[] = doc.steps.map((s, i) => {
    const sp = `${ptr}/steps/${i}`;
    if (s.rule !== undefined && s.event !== undefined) throw new CompileError(sp, 'a step takes either "rule" (detections) or "event" (events), not both');
    if (s.rule === undefined && s.match === undefined && s.event === undefined) {
      throw new CompileError(sp, 'a step needs "rule", or "match" and/or "event"');
    }
    if (s.by.length !== arity) throw new CompileError(`${sp}/by`, `every step needs the same number of "by" keys (${arity})`);
    if (s.absent === true && i !== doc.steps.length - 1) throw new CompileError(`${sp}/absent`, 'only the last step may be "absent"');
    if (s.absent === true && i === 0) throw new CompileError(`${sp}/absent`, 'the first step cannot be absent');
    if (i === 0 && s.join_on !== undefined) throw new CompileError(`${sp}/join_on`, 'the first step has nothing to join on');
    const ctx: ConditionContext = { lists: defs.lists, macros: defs.macros, stepNames: names, step: i };
    const cond = s.match === undefined ? null : condition(s.match, `${sp}/match`, ctx);
    if (i === 0 && cond?.usesBound) throw new CompileError(`${sp}/match`, 'the first step cannot use bound values');
    let join: JoinFn | null = null;
    let waitPaths = s.by;
    if (i > 0) {
      if (s.join_on !== undefined) {
        if (s.join_on.length !== arity) throw new CompileError(`${sp}/join_on`, `join_on needs ${arity} paths, like "by"`);
        waitPaths = s.join_on;
        const parts = s.join_on.map((ref, j) => {
          const m = /^\$([A-Za-z0-9_-]+)\.(.+)$/.exec(ref);
          let step = i - 1;
          let path = ref;
          if (m) {
            const tag = m[1] ?? '';
            step = /^\d+$/.test(tag) ? Number(tag) - 1 : (names.get(tag) ?? -1);
            path = m[2] ?? '';
          }
          if (step < 0 || step >= i) throw new CompileError(`${sp}/join_on/${j}`, `"${ref}" must refer to an earlier step`);
          return { step, get: keyPartGetter(path, `${sp}/join_on/${j}`) };
        });
        join = (subj, dets) => {
          let out = '';
          for (let j = 0; j < parts.length; j++) {
            const p = parts[j] as (typeof parts)[number];
            const s0 = subj(p.step);
            const v = s0 === undefined ? undefined : p.get(s0, dets(p.step));
            if (v === undefined) return undefined;
            out = j === 0 ? v : out + KEY_SEP + v;
          }
          return out;
        };
      } else {
        // Default: step k waits under the key step k-1 computed with its own `by`.
        const prevBy = doc.steps[i - 1]?.by ?? [];
        const prevKey = compileItemKey(prevBy, `${ptr}/steps/${i - 1}/by`);
        waitPaths = prevBy;
        join = (subj, dets) => {
          const s0 = subj(i - 1);
          return s0 === undefined ? undefined : prevKey(s0, dets(i - 1));
        };
      }
    }
    const ids = asList(s.rule);
    return {
      index: i,
      ...(s.name !== undefined ? { name: s.name } : {}),
      types: checkTypes(s.event, `${sp}/event`),
      ruleIds: ids,
      cond,
      key: compileItemKey(s.by, `${sp}/by`),
      join,
      defaultJoin: i > 0 && s.join_on === undefined,
      absent: s.absent === true,
      identityParts: identityParts(i === 0 ? s.by : waitPaths),
      keyArity: arity,
    };
  });
  let until: CompiledSequence['until'] = null;
  if (doc.until) {
    const ctx: ConditionContext = { lists: defs.lists, macros: defs.macros, stepNames: names, step: -1 };
    const by = doc.until.by ?? doc.steps[0]?.by ?? [];
    if (by.length !== arity) throw new CompileError(`${ptr}/until/by`, `until.by needs ${arity} paths, like "by"`);
    until = {
      types: checkTypes(doc.until.event, `${ptr}/until/event`),
      cond: condition(doc.until.match, `${ptr}/until/match`, ctx),
      key: compileItemKey(by, `${ptr}/until/by`),
    };
  }
  return { kind: 'sequence', doc, hash: ruleHash(doc, defs), spanMs, steps, until };
}

function compileCount(doc: CountDoc, ptr: string, defs: NamedDefs): CompiledCount {
  const spanMs = spanOf(doc.timespan_ms, doc.timespan, ptr, 'timespan');
  if (doc.rule !== undefined && doc.event !== undefined) throw new CompileError(ptr, 'a count rule takes either "rule" (detections) or "event" (events), not both');
  if (doc.rule === undefined && doc.match === undefined && doc.event === undefined) throw new CompileError(ptr, 'a count rule needs "rule", or "match" and/or "event"');
  const ctx: ConditionContext = { lists: defs.lists, macros: defs.macros, stepNames: new Map(), step: -1 };
  const c = doc.condition;
  for (const [k, v] of Object.entries(c)) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new CompileError(`${ptr}/condition/${k}`, 'expected a non-negative number');
  }
  const onlyLower = c.lt === undefined && c.lte === undefined && c.eq === undefined;
  const threshold = onlyLower ? Math.max(c.gte ?? 0, c.gt !== undefined ? Math.floor(c.gt) + 1 : 0, 1) : null;
  const keyByRule = new Map<string, ItemKeyFn>();
  for (const [rid, paths] of Object.entries(doc.group_by_rule ?? {})) {
    if (paths.length !== doc.group_by.length) throw new CompileError(`${ptr}/group_by_rule/${rid}`, `needs ${doc.group_by.length} paths, like group_by`);
    keyByRule.set(rid, compileItemKey(paths, `${ptr}/group_by_rule/${rid}`));
  }
  return {
    kind: 'count',
    doc,
    hash: ruleHash(doc, defs),
    spanMs,
    types: checkTypes(doc.event, `${ptr}/event`),
    ruleIds: asList(doc.rule),
    cond: doc.match === undefined ? null : condition(doc.match, `${ptr}/match`, ctx),
    key: compileItemKey(doc.group_by, `${ptr}/group_by`),
    keyByRule,
    distinct: doc.value_count === undefined ? null : compileItemKey([doc.value_count], `${ptr}/value_count`),
    condition: c,
    threshold,
    identityParts: identityParts(doc.group_by),
    keyArity: doc.group_by.length,
  };
}

/** Compile one schema-valid document; throws CompileError naming the JSON pointer. */
export function compileCorrelation(doc: CorrelationRuleDoc, defs: NamedDefs, pointer = ''): CompiledCorrelation {
  return doc.kind === 'sequence' ? compileSequence(doc, pointer, defs) : compileCount(doc, pointer, defs);
}
