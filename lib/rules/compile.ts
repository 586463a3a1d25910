/**
 * Condition compiler: a condition (docs/rule-format.md) becomes a tree of closures, built once.
 * Field paths become getters, literals are case-folded here, regexes and globs run on RE2.
 * A host may add predicate operators (CompileEnv.extraOperators); everything else keeps its meaning.
 */
import { globRequiredLiteral, regexRequiredLiteral } from './literals.js';
import RE2 from 're2';
import { checkFieldPath, compileGetter, FieldPathError } from './fields.js';
import { literalEqKey, parseCidr, parseIp, preview, toNumber, toStr, type Cidr } from './values.js';
import type { Anchor, CompileEnv, CompiledCondition, ExtraOperator, Literal, PredicateTrace } from './types.js';

/** Every predicate operator, in documentation order. */
export const OPERATORS = [
  'equals_any',
  'contains_any',
  'contains_all',
  'startswith_any',
  'endswith_any',
  'regex_any',
  'glob_any',
  'cidr_any',
  'lt',
  'lte',
  'gt',
  'gte',
  'exists',
  'mask_any',
  'mask_all',
  'in_list',
  'equals_field',
  'not_equals_field',
] as const;
export type Operator = (typeof OPERATORS)[number];

const OPERATOR_SET: ReadonlySet<string> = new Set(OPERATORS);
const COMBINATORS = ['all', 'any', 'not', 'n_of', 'macro'] as const;

/** A condition that cannot be compiled; `path` is the JSON pointer of the offending node. */
export class ConditionError extends Error {
  override readonly name = 'ConditionError';
  /** The message without the path prefix. */
  readonly detail: string;
  constructor(
    readonly path: string,
    message: string,
    readonly expected?: string,
    readonly found?: string,
  ) {
    super(`${path || '/'}: ${message}`);
    this.detail = message;
  }
}

interface Node {
  test: (e: object) => boolean;
  explain: (e: object, out: PredicateTrace[], depth: number, negated: boolean) => boolean;
  anchors: Anchor[] | null;
}

interface Ctx {
  env: CompileEnv;
  macroStack: string[];
  maxRegex: number;
}

type Rec = Record<string, unknown>;

function isRec(v: unknown): v is Rec {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `array(${v.length})`;
  if (typeof v === 'object') return `object {${Object.keys(v).slice(0, 6).join(', ')}}`;
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  return `${typeof v} ${String(v)}`;
}

/** Compile a condition. Throws ConditionError naming the JSON pointer of the bad node. */
export function compileCondition(cond: unknown, env: CompileEnv): CompiledCondition {
  const ctx: Ctx = { env, macroStack: [], maxRegex: env.maxRegexInputChars ?? 65536 };
  const node = compileNode(cond, env.basePath ?? '', ctx);
  return {
    test: node.test,
    explain(e: object): PredicateTrace[] {
      const out: PredicateTrace[] = [];
      node.explain(e, out, 0, false);
      return out;
    },
    anchors: node.anchors,
  };
}

function compileNode(cond: unknown, path: string, ctx: Ctx): Node {
  if (!isRec(cond)) {
    throw new ConditionError(path, 'a condition must be an object', 'object with one of all/any/not/n_of/macro/field', describe(cond));
  }
  if ('field' in cond) return compilePredicate(cond, path, ctx);
  const keys = Object.keys(cond);
  if (keys.length !== 1) {
    throw new ConditionError(
      path,
      `a condition has exactly one of ${COMBINATORS.join('/')} or is a predicate with "field"`,
      'one key',
      keys.length === 0 ? 'no key' : `keys ${keys.join(', ')}`,
    );
  }
  const key = keys[0] ?? '';
  const val = cond[key];
  const sub = `${path}/${key}`;
  switch (key) {
    case 'all':
    case 'any': {
      if (!Array.isArray(val)) throw new ConditionError(sub, `"${key}" takes an array of conditions`, 'array', describe(val));
      const kids = val.map((c, i) => compileNode(c, `${sub}/${i}`, ctx));
      return key === 'all' ? allNode(kids, path) : anyNode(kids, path);
    }
    case 'not':
      return notNode(compileNode(val, sub, ctx), path);
    case 'n_of': {
      if (!isRec(val)) throw new ConditionError(sub, '"n_of" takes { "n": <int>, "of": [conditions] }', 'object', describe(val));
      const n = val['n'];
      const of = val['of'];
      const extra = Object.keys(val).filter((k) => k !== 'n' && k !== 'of');
      if (extra.length > 0) throw new ConditionError(sub, `unknown key(s) ${extra.join(', ')} in n_of`, 'n, of', extra.join(', '));
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) {
        throw new ConditionError(`${sub}/n`, '"n" must be a non-negative integer', 'integer >= 0', describe(n));
      }
      if (!Array.isArray(of)) throw new ConditionError(`${sub}/of`, '"of" takes an array of conditions', 'array', describe(of));
      const kids = of.map((c, i) => compileNode(c, `${sub}/of/${i}`, ctx));
      return nOfNode(n, kids, path);
    }
    case 'macro':
      return macroNode(val, sub, path, ctx);
    default:
      if (OPERATOR_SET.has(key)) {
        throw new ConditionError(path, `operator "${key}" needs a "field"`, 'field', 'none');
      }
      throw new ConditionError(path, `unknown condition key "${key}"`, `one of ${COMBINATORS.join(', ')} or a predicate`, key);
  }
}

// ------------------------------------------------------------------ combinators

function anchorScore(a: Anchor[]): number {
  let minLen = Infinity;
  for (const x of a) minLen = Math.min(minLen, x.key.length);
  // Short literals hit almost every event: prefer longer, fewer, exact anchors.
  const kind = a.every((x) => x.kind === 'eq') ? 0 : 0.5;
  return a.length + kind + (minLen < 4 ? 50 : 0);
}

function allNode(kids: Node[], path: string): Node {
  let anchors: Anchor[] | null = null;
  for (const k of kids) {
    if (k.anchors === null) continue;
    if (k.anchors.length === 0) {
      anchors = [];
      break;
    }
    if (anchors === null || anchorScore(k.anchors) < anchorScore(anchors)) anchors = k.anchors;
  }
  const tests = kids.map((k) => k.test);
  let test: (e: object) => boolean;
  if (tests.length === 1) test = tests[0] ?? (() => true);
  else if (tests.length === 2) {
    const [a, b] = tests as [(e: object) => boolean, (e: object) => boolean];
    test = (e) => a(e) && b(e);
  } else {
    test = (e) => {
      for (let i = 0; i < tests.length; i++) if (!(tests[i] as (e: object) => boolean)(e)) return false;
      return true;
    };
  }
  return {
    test,
    anchors,
    explain(e, out, depth, negated) {
      const at = out.length;
      out.push({ path, node: 'all', depth, verdict: false, negated });
      let v = true;
      for (const k of kids) if (!k.explain(e, out, depth + 1, negated)) v = false;
      (out[at] as PredicateTrace).verdict = v;
      return v;
    },
  };
}

function anyNode(kids: Node[], path: string): Node {
  let anchors: Anchor[] | null = [];
  for (const k of kids) {
    if (k.anchors === null) {
      anchors = null;
      break;
    }
    anchors = anchors.concat(k.anchors);
  }
  const tests = kids.map((k) => k.test);
  const test = (e: object): boolean => {
    for (let i = 0; i < tests.length; i++) if ((tests[i] as (e: object) => boolean)(e)) return true;
    return false;
  };
  return {
    test,
    anchors,
    explain(e, out, depth, negated) {
      const at = out.length;
      out.push({ path, node: 'any', depth, verdict: false, negated });
      let v = false;
      for (const k of kids) if (k.explain(e, out, depth + 1, negated)) v = true;
      (out[at] as PredicateTrace).verdict = v;
      return v;
    },
  };
}

function notNode(kid: Node, path: string): Node {
  const t = kid.test;
  return {
    test: (e) => !t(e),
    anchors: null,
    explain(e, out, depth, negated) {
      const at = out.length;
      out.push({ path, node: 'not', depth, verdict: false, negated });
      const v = !kid.explain(e, out, depth + 1, !negated);
      (out[at] as PredicateTrace).verdict = v;
      return v;
    },
  };
}

function nOfNode(n: number, kids: Node[], path: string): Node {
  let anchors: Anchor[] | null = null;
  if (n > kids.length) anchors = [];
  else if (n >= 1) {
    // At least n of k true ⇒ any k-n+1 of them contain a true one: the union of the
    // k-n+1 best-anchored children is a valid requirement.
    const need = kids.length - n + 1;
    const withAnchors = kids.filter((k) => k.anchors !== null).map((k) => k.anchors as Anchor[]);
    if (withAnchors.length >= need) {
      withAnchors.sort((a, b) => anchorScore(a) - anchorScore(b));
      anchors = withAnchors.slice(0, need).flat();
    }
  }
  const tests = kids.map((k) => k.test);
  const test = (e: object): boolean => {
    if (n === 0) return true;
    let c = 0;
    for (let i = 0; i < tests.length; i++) {
      if ((tests[i] as (e: object) => boolean)(e) && ++c >= n) return true;
      if (c + (tests.length - i - 1) < n) return false;
    }
    return false;
  };
  return {
    test,
    anchors,
    explain(e, out, depth, negated) {
      const at = out.length;
      out.push({ path, node: 'n_of', depth, expected: n, verdict: false, negated });
      let c = 0;
      for (const k of kids) if (k.explain(e, out, depth + 1, negated)) c++;
      const v = c >= n;
      (out[at] as PredicateTrace).verdict = v;
      (out[at] as PredicateTrace).value = c;
      return v;
    },
  };
}

function macroNode(name: unknown, sub: string, path: string, ctx: Ctx): Node {
  if (typeof name !== 'string') throw new ConditionError(sub, '"macro" takes a macro name', 'string', describe(name));
  const macros = ctx.env.macros ?? {};
  if (!Object.hasOwn(macros, name)) {
    const known = Object.keys(macros);
    throw new ConditionError(sub, `unknown macro "${name}"`, known.length > 0 ? `one of ${known.join(', ')}` : 'a defined macro', name);
  }
  if (ctx.macroStack.includes(name)) {
    throw new ConditionError(sub, `macro "${name}" refers to itself (${[...ctx.macroStack, name].join(' → ')})`, 'no cycle', 'cycle');
  }
  ctx.macroStack.push(name);
  let kid: Node;
  try {
    kid = compileNode(macros[name], `${path}/macro:${name}`, ctx);
  } finally {
    ctx.macroStack.pop();
  }
  return {
    test: kid.test,
    anchors: kid.anchors,
    explain(e, out, depth, negated) {
      const at = out.length;
      out.push({ path, node: 'macro', name, depth, verdict: false, negated });
      const v = kid.explain(e, out, depth + 1, negated);
      (out[at] as PredicateTrace).verdict = v;
      return v;
    },
  };
}

// ------------------------------------------------------------------ predicates

type One = (v: unknown) => boolean;

function operandArray(op: string, v: unknown, path: string, kinds: readonly string[]): Literal[] {
  if (!Array.isArray(v)) throw new ConditionError(`${path}/${op}`, `"${op}" takes an array`, `array of ${kinds.join('|')}`, describe(v));
  v.forEach((x, i) => {
    if (!kinds.includes(typeof x)) {
      throw new ConditionError(`${path}/${op}/${i}`, `"${op}" values must be ${kinds.join(' or ')}`, kinds.join('|'), describe(x));
    }
  });
  return v as Literal[];
}

function regexFlagsOf(raw: unknown, path: string): string {
  if (raw === undefined) return '';
  if (typeof raw !== 'string' || !/^[ims]*$/.test(raw)) {
    throw new ConditionError(`${path}/regex_flags`, '"regex_flags" is a subset of "ims"', 'string of i, m, s', describe(raw));
  }
  return raw;
}

function re2(pattern: string, flags: string, path: string, what: string): RE2 {
  try {
    return new RE2(pattern, flags);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new ConditionError(
      path,
      `${what} ${JSON.stringify(pattern)} is refused by RE2 (${reason}); lookaround and backreferences are not supported`,
      'an RE2 pattern',
      pattern,
    );
  }
}

function globToRegex(glob: string): string {
  let out = '';
  for (const ch of glob) {
    if (ch === '*') out += '.*';
    else if (ch === '?') out += '.';
    else if (/[\\^$.|+()[\]{}]/.test(ch)) out += `\\${ch}`;
    else out += ch;
  }
  return out;
}

function maskValue(x: unknown, path: string): number {
  const n = toNumber(x);
  if (n === undefined || !Number.isInteger(n) || n < 0 || n > Number.MAX_SAFE_INTEGER) {
    throw new ConditionError(path, 'a mask is a non-negative integer or a "0x…" string', 'integer | "0x…"', describe(x));
  }
  return n;
}

function andMask(v: number, m: number): number {
  if (v <= 0xffffffff && m <= 0xffffffff) return (v & m) >>> 0;
  return Number(BigInt(v) & BigInt(m));
}

function stringMatcher(values: Literal[], cased: boolean, fn: (s: string, lit: string) => boolean): One {
  const lits = values.map((x) => (cased ? String(x) : String(x).toLowerCase()));
  if (lits.length === 1) {
    const l = lits[0] ?? '';
    return (v) => {
      const s = toStr(v);
      return s !== undefined && fn(cased ? s : s.toLowerCase(), l);
    };
  }
  return (v) => {
    const s0 = toStr(v);
    if (s0 === undefined) return false;
    const s = cased ? s0 : s0.toLowerCase();
    for (let i = 0; i < lits.length; i++) if (fn(s, lits[i] as string)) return true;
    return false;
  };
}

function equalsMatcher(values: Literal[], cased: boolean): One {
  const strs = new Set<string>();
  const nums = new Set<number>();
  for (const x of values) {
    if (typeof x === 'boolean') strs.add(String(x));
    else {
      const n = toNumber(x);
      if (n !== undefined) nums.add(n);
      else strs.add(cased ? String(x) : String(x).toLowerCase());
    }
  }
  const hasNums = nums.size > 0;
  return (v) => {
    if (typeof v === 'string') {
      if (strs.has(cased ? v : v.toLowerCase())) return true;
      if (!hasNums) return false;
      const n = toNumber(v);
      return n !== undefined && nums.has(n);
    }
    if (typeof v === 'number') return nums.has(v);
    if (typeof v === 'boolean') return strs.has(v ? 'true' : 'false');
    return false;
  };
}

/** Does a value equal another (equals_field semantics: case-folded or numeric)? */
function looseEquals(a: unknown, b: unknown, cased: boolean): boolean {
  const na = toNumber(a);
  const nb = toNumber(b);
  if (na !== undefined && nb !== undefined) return na === nb;
  const sa = toStr(a);
  const sb = toStr(b);
  if (sa === undefined || sb === undefined) return false;
  return cased ? sa === sb : sa.toLowerCase() === sb.toLowerCase();
}

/** `x` equals `b`, or one element of an array `b`. */
function equalsOneOf(x: unknown, b: unknown, cased: boolean): boolean {
  if (!Array.isArray(b)) return looseEquals(x, b, cased);
  for (let i = 0; i < b.length; i++) if (looseEquals(x, b[i], cased)) return true;
  return false;
}

function present(v: unknown): boolean {
  return v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0);
}

/**
 * The verdict of `equals_field` (`equal` true) or `not_equals_field` (`equal` false) for two
 * values as their getters return them: false when either is missing; else whether some value of
 * one (an array is its elements) equals some value of the other, numerically when both are
 * numeric, else as strings, case-folded unless `cased`. Exported so that operators a host adds
 * (CompileEnv.extraOperators) compare exactly like the built-in ones.
 */
export function compareFieldValues(a: unknown, b: unknown, cased: boolean, equal: boolean): boolean {
  if (!present(a) || !present(b)) return false;
  let eq = false;
  if (Array.isArray(a)) {
    for (let i = 0; i < a.length && !eq; i++) eq = equalsOneOf(a[i], b, cased);
  } else eq = equalsOneOf(a, b, cased);
  return eq === equal;
}

function extraOperator(extra: CompileEnv['extraOperators'], op: string): ExtraOperator | undefined {
  return extra !== undefined && Object.hasOwn(extra, op) ? extra[op] : undefined;
}

function operatorNames(extra: CompileEnv['extraOperators']): string {
  const added = extra === undefined ? [] : Object.keys(extra).filter((k) => !OPERATOR_SET.has(k));
  return [...OPERATORS, ...added].join(', ');
}

/** A predicate node: its test, and a trace of the operand as written and the value seen. */
function predicateNode(
  test: (e: object) => boolean,
  anchors: Anchor[] | null,
  get: (e: object) => unknown,
  p: { field: string; op: string; operand: unknown; cased: boolean; path: string },
): Node {
  const { field, op, operand: expected, cased, path } = p;
  return {
    test,
    anchors,
    explain(e, out, depth, negated) {
      const verdict = test(e);
      const trace: PredicateTrace = { path, node: 'predicate', depth, field, op, expected, verdict, negated };
      const seen = get(e);
      if (seen !== undefined) trace.value = preview(seen);
      if (cased) trace.cased = true;
      out.push(trace);
      return verdict;
    },
  };
}

function compilePredicate(p: Rec, path: string, ctx: Ctx): Node {
  const field = p['field'];
  if (typeof field !== 'string') throw new ConditionError(`${path}/field`, '"field" must be a string path', 'string', describe(field));
  try {
    checkFieldPath(field);
  } catch (err) {
    if (err instanceof FieldPathError) throw new ConditionError(`${path}/field`, err.message, 'a known field path', field);
    throw err;
  }
  const casedRaw = p['cased'];
  if (casedRaw !== undefined && typeof casedRaw !== 'boolean') {
    throw new ConditionError(`${path}/cased`, '"cased" must be a boolean', 'boolean', describe(casedRaw));
  }
  const cased = casedRaw === true;
  const extra = ctx.env.extraOperators;
  const ops: string[] = [];
  for (const k of Object.keys(p)) {
    if (k === 'field' || k === 'cased' || k === 'regex_flags') continue;
    if (!OPERATOR_SET.has(k) && extraOperator(extra, k) === undefined) {
      throw new ConditionError(`${path}/${k}`, `unknown operator "${k}"`, `one of ${operatorNames(extra)}`, k);
    }
    ops.push(k);
  }
  if (ops.length !== 1) {
    throw new ConditionError(
      path,
      `a predicate has exactly one operator`,
      `one of ${operatorNames(extra)}`,
      ops.length === 0 ? 'none' : ops.join(', '),
    );
  }
  const op = ops[0] as Operator;
  if (p['regex_flags'] !== undefined && op !== 'regex_any') {
    throw new ConditionError(`${path}/regex_flags`, '"regex_flags" only goes with regex_any', 'regex_any', op);
  }
  const operand = p[op];
  const get = compileGetter(field);
  const added = OPERATOR_SET.has(op) ? undefined : extraOperator(extra, op);
  if (added !== undefined) {
    // An added operator knows no literal the event must hold: no anchors, so no prefilter skips it.
    return predicateNode(added({ op, field, get, operand, cased, path }), null, get, { field, op, operand, cased, path });
  }
  let one: One | undefined;
  let anchors: Anchor[] | null = null;
  let whole: ((e: object) => boolean) | undefined;
  const opPath = `${path}/${op}`;

  switch (op) {
    case 'equals_any':
    case 'in_list': {
      let values: Literal[];
      if (op === 'in_list') {
        if (typeof operand !== 'string') throw new ConditionError(opPath, '"in_list" takes a list name', 'string', describe(operand));
        const lists = ctx.env.lists ?? {};
        if (!Object.hasOwn(lists, operand)) {
          const known = Object.keys(lists);
          throw new ConditionError(opPath, `unknown list "${operand}"`, known.length > 0 ? `one of ${known.join(', ')}` : 'a defined list', operand);
        }
        values = [...(lists[operand] ?? [])];
      } else {
        values = operandArray(op, operand, path, ['string', 'number', 'boolean']);
      }
      one = equalsMatcher(values, cased);
      anchors = [...new Set(values.map(literalEqKey))].map((key) => ({ field, kind: 'eq', key }));
      break;
    }
    case 'contains_any':
    case 'contains_all':
    case 'startswith_any':
    case 'endswith_any': {
      const values = operandArray(op, operand, path, ['string', 'number']);
      const kind: Anchor['kind'] = op === 'startswith_any' ? 'starts' : op === 'endswith_any' ? 'ends' : 'contains';
      if (op === 'contains_all') {
        const lits = values.map((x) => (cased ? String(x) : String(x).toLowerCase()));
        one = (v) => {
          const s0 = toStr(v);
          if (s0 === undefined) return false;
          const s = cased ? s0 : s0.toLowerCase();
          for (const l of lits) if (!s.includes(l)) return false;
          return true;
        };
        // Any one literal is required: the longest is the most selective.
        const longest = lits.reduce((a, b) => (b.length > a.length ? b : a), '');
        anchors = values.length === 0 ? null : longest.length > 0 ? [{ field, kind, key: longest.toLowerCase() }] : null;
      } else {
        const fn =
          op === 'contains_any'
            ? (s: string, l: string) => s.includes(l)
            : op === 'startswith_any'
              ? (s: string, l: string) => s.startsWith(l)
              : (s: string, l: string) => s.endsWith(l);
        one = stringMatcher(values, cased, fn);
        const keys = values.map((x) => String(x).toLowerCase());
        anchors = keys.some((k) => k.length === 0) ? null : [...new Set(keys)].map((key) => ({ field, kind, key }));
      }
      break;
    }
    case 'regex_any': {
      const values = operandArray(op, operand, path, ['string']);
      const given = regexFlagsOf(p['regex_flags'], path);
      let flags = given.replace('i', '');
      if (!cased || given.includes('i')) flags += 'i';
      const res = values.map((pat, i) => re2(String(pat), flags, `${opPath}/${i}`, 'regex'));
      const max = ctx.maxRegex;
      one = (v) => {
        const s0 = toStr(v);
        if (s0 === undefined) return false;
        const s = s0.length > max ? s0.slice(0, max) : s0;
        for (const r of res) if (r.test(s)) return true;
        return false;
      };
      // Each pattern's required literal (lower-cased: the prefilter folds case) anchors the rule.
      const lits = values.map((v) => regexRequiredLiteral(String(v)));
      anchors = lits.every((l) => l !== undefined) ? [...new Set(lits.map((l) => l!.toLowerCase()))].map((key) => ({ field, kind: 'contains', key })) : null;
      break;
    }
    case 'glob_any': {
      const values = operandArray(op, operand, path, ['string']);
      const src = values.map((g) => globToRegex(String(g))).join('|');
      const r = re2(`^(?:${src})$`, cased ? 's' : 'is', opPath, 'glob');
      one = (v) => {
        const s = toStr(v);
        return s !== undefined && r.test(s);
      };
      const lits = values.map((v) => globRequiredLiteral(String(v)));
      anchors = lits.every((l) => l !== undefined) ? [...new Set(lits.map((l) => l!.toLowerCase()))].map((key) => ({ field, kind: 'contains', key })) : null;
      break;
    }
    case 'cidr_any': {
      const values = operandArray(op, operand, path, ['string']);
      const cidrs: Cidr[] = values.map((c, i) => {
        try {
          return parseCidr(String(c));
        } catch (err) {
          throw new ConditionError(`${opPath}/${i}`, err instanceof Error ? err.message : String(err), 'CIDR', String(c));
        }
      });
      one = (v) => {
        if (typeof v !== 'string') return false;
        const ip = parseIp(v);
        if (ip === undefined) return false;
        for (const c of cidrs) if (c.v6 === ip.v6 && (ip.value & c.mask) === c.network) return true;
        return false;
      };
      break;
    }
    case 'lt':
    case 'lte':
    case 'gt':
    case 'gte': {
      const bound = toNumber(operand);
      if (bound === undefined || typeof operand === 'boolean') {
        throw new ConditionError(opPath, `"${op}" takes a single number`, 'number', describe(operand));
      }
      const cmp =
        op === 'lt'
          ? (n: number) => n < bound
          : op === 'lte'
            ? (n: number) => n <= bound
            : op === 'gt'
              ? (n: number) => n > bound
              : (n: number) => n >= bound;
      one = (v) => {
        const n = toNumber(v);
        return n !== undefined && cmp(n);
      };
      break;
    }
    case 'exists': {
      if (typeof operand !== 'boolean') throw new ConditionError(opPath, '"exists" takes true or false', 'boolean', describe(operand));
      whole = operand ? (e) => present(get(e)) : (e) => !present(get(e));
      break;
    }
    case 'mask_any':
    case 'mask_all': {
      const values = operandArray(op, operand, path, ['string', 'number']);
      const masks = values.map((m, i) => maskValue(m, `${opPath}/${i}`));
      one =
        op === 'mask_any'
          ? (v) => {
              const n = toNumber(v);
              if (n === undefined || !Number.isInteger(n) || n < 0) return false;
              for (const m of masks) if (andMask(n, m) !== 0) return true;
              return false;
            }
          : (v) => {
              const n = toNumber(v);
              if (n === undefined || !Number.isInteger(n) || n < 0) return false;
              for (const m of masks) if (andMask(n, m) !== m) return false;
              return true;
            };
      break;
    }
    case 'equals_field':
    case 'not_equals_field': {
      if (typeof operand !== 'string') throw new ConditionError(opPath, `"${op}" takes another field path`, 'string', describe(operand));
      try {
        checkFieldPath(operand);
      } catch (err) {
        if (err instanceof FieldPathError) throw new ConditionError(opPath, err.message, 'a known field path', operand);
        throw err;
      }
      const other = compileGetter(operand);
      const equal = op === 'equals_field';
      whole = (e) => compareFieldValues(get(e), other(e), cased, equal);
      break;
    }
  }

  let test: (e: object) => boolean;
  if (whole !== undefined) test = whole;
  else {
    const m = one as One;
    test = (e) => {
      const v = get(e);
      if (v === undefined || v === null) return false;
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) {
          const x: unknown = v[i];
          if (x !== undefined && x !== null && m(x)) return true;
        }
        return false;
      }
      return m(v);
    };
  }
  return predicateNode(test, anchors, get, { field, op, operand, cased, path });
}
