/**
 * Condition compiler for the correlation layer. It understands the native condition format
 * (docs/rule-format: all / any / not / n_of / macro / predicates with every operator) and
 * adds two operators that only make sense inside a sequence:
 *
 *   { "field": "target.pid", "equals_bound": "$1.target.pid" }
 *   { "field": "proc.image", "not_equals_bound": "$download.file.path" }
 *
 * `$<n>` is the n-th step (1-based), `$<name>` a named step; both must come before the
 * step the condition belongs to. The value bound by that step's event is compared like
 * `equals_field` (numerically when both sides are numeric, else case-insensitive unless
 * `cased`). A bound-free sub-tree may be handed to an external static compiler (the shared
 * rule compiler) so both engines evaluate plain predicates identically.
 */
import RE2 from 're2';
import { compileGetter, PathError, type Getter } from './paths.js';

export type Literal = string | number | boolean;

/** Subject of an earlier step, by 0-based step index. */
export type BoundLookup = (step: number) => object | undefined;

export interface CorrCondition {
  test(e: object, bound: BoundLookup | null): boolean;
  /** True when the condition reads values bound by earlier steps. */
  readonly usesBound: boolean;
}

/** Compiles a condition that has no bound operators (e.g. the shared rule compiler). */
export type StaticCompiler = (
  cond: unknown,
  pointer: string,
  defs: { lists: Readonly<Record<string, readonly Literal[]>>; macros: Readonly<Record<string, unknown>> },
) => (e: object) => boolean;

export interface ConditionContext {
  lists: Readonly<Record<string, readonly Literal[]>>;
  macros: Readonly<Record<string, unknown>>;
  /** Step name → 0-based index. */
  stepNames: ReadonlyMap<string, number>;
  /** 0-based index of the step this condition belongs to; bound refs must be lower. -1 forbids them. */
  step: number;
  delegate?: StaticCompiler;
}

export class ConditionError extends Error {
  override readonly name = 'ConditionError';
  constructor(
    readonly pointer: string,
    message: string,
  ) {
    super(`${pointer}: ${message}`);
  }
}

type Rec = Record<string, unknown>;
type Test = (e: object, bound: BoundLookup | null) => boolean;

const OPERATORS = new Set([
  'equals_any', 'contains_any', 'contains_all', 'startswith_any', 'endswith_any', 'regex_any', 'glob_any',
  'cidr_any', 'lt', 'lte', 'gt', 'gte', 'exists', 'mask_any', 'mask_all', 'in_list', 'equals_field',
  'not_equals_field', 'equals_bound', 'not_equals_bound',
]);
const MODIFIERS = new Set(['field', 'cased', 'regex_flags']);
const BOUND_OPS = new Set(['equals_bound', 'not_equals_bound']);
const MAX_MACRO_DEPTH = 16;

function isRec(v: unknown): v is Rec {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Number for a number or numeric string (decimal or 0x hex); undefined otherwise. */
export function toNum(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v !== 'string') return undefined;
  const s = v.trim();
  if (/^-?\d+(\.\d+)?$/.test(s)) return Number(s);
  if (/^0x[0-9a-f]+$/i.test(s)) return parseInt(s.slice(2), 16);
  return undefined;
}

function toStr(v: unknown, cased: boolean): string | undefined {
  if (typeof v === 'string') return cased ? v : v.toLowerCase();
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

/** Applies `f` to the value, or to each element of an array value. */
function some(v: unknown, f: (x: unknown) => boolean): boolean {
  if (v === undefined || v === null) return false;
  if (Array.isArray(v)) {
    for (const x of v) if (f(x)) return true;
    return false;
  }
  return f(v);
}

/** Equality used by field-to-field and bound comparisons. */
function looseEquals(a: unknown, b: unknown, cased: boolean): boolean {
  const na = toNum(a);
  const nb = toNum(b);
  if (na !== undefined && nb !== undefined) return na === nb;
  const sa = toStr(a, cased);
  return sa !== undefined && sa === toStr(b, cased);
}

/** True when the condition tree contains a bound operator (macros followed). */
export function containsBound(cond: unknown, macros: Readonly<Record<string, unknown>>, depth = 0): boolean {
  if (depth > MAX_MACRO_DEPTH || !isRec(cond)) return false;
  if ('all' in cond) return Array.isArray(cond['all']) && cond['all'].some((c) => containsBound(c, macros, depth));
  if ('any' in cond) return Array.isArray(cond['any']) && cond['any'].some((c) => containsBound(c, macros, depth));
  if ('not' in cond) return containsBound(cond['not'], macros, depth);
  if ('n_of' in cond) {
    const n = cond['n_of'];
    return isRec(n) && Array.isArray(n['of']) && n['of'].some((c) => containsBound(c, macros, depth));
  }
  if ('macro' in cond) {
    const name = cond['macro'];
    return typeof name === 'string' && containsBound(macros[name], macros, depth + 1);
  }
  return Object.keys(cond).some((k) => BOUND_OPS.has(k));
}

function stringList(v: unknown, ptr: string, what: string): string[] {
  if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'string')) {
    throw new ConditionError(ptr, `${what} expects a non-empty array of strings`);
  }
  return v as string[];
}

function literalList(v: unknown, ptr: string, what: string): Literal[] {
  if (
    !Array.isArray(v) ||
    v.length === 0 ||
    !v.every((x) => typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean')
  ) {
    throw new ConditionError(ptr, `${what} expects a non-empty array of strings, numbers or booleans`);
  }
  return v as Literal[];
}

function numberOperand(v: unknown, ptr: string, op: string): number {
  const n = toNum(v);
  if (n === undefined) throw new ConditionError(ptr, `${op} expects a number, found ${JSON.stringify(v)}`);
  return n;
}

function re2(pattern: string, flags: string, ptr: string): RE2 {
  try {
    return new RE2(pattern, flags);
  } catch (err) {
    throw new ConditionError(ptr, `pattern ${JSON.stringify(pattern)} does not compile in RE2: ${(err as Error).message}`);
  }
}

function globToRegex(glob: string): string {
  let out = '^';
  for (const ch of glob) {
    if (ch === '*') out += '.*';
    else if (ch === '?') out += '.';
    else out += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return out + '$';
}

// ---- CIDR ----------------------------------------------------------------------------

function parseIPv4(s: string): bigint | undefined {
  const p = s.split('.');
  if (p.length !== 4) return undefined;
  let n = 0n;
  for (const x of p) {
    if (!/^\d{1,3}$/.test(x)) return undefined;
    const v = Number(x);
    if (v > 255) return undefined;
    n = (n << 8n) | BigInt(v);
  }
  return n;
}

function parseIPv6(s: string): bigint | undefined {
  let str = s.split('%')[0] ?? '';
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two hextets.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(str);
  if (v4) {
    const n = parseIPv4(v4[1] ?? '');
    if (n === undefined) return undefined;
    str = str.slice(0, str.length - (v4[1] ?? '').length) + ((n >> 16n) & 0xffffn).toString(16) + ':' + (n & 0xffffn).toString(16);
  }
  const halves = str.split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] ? (halves[0] as string).split(':') : [];
  const tail = halves.length === 2 && halves[1] ? (halves[1] as string).split(':') : [];
  const fill = 8 - head.length - tail.length;
  if (halves.length === 1 ? head.length !== 8 : fill < 1) return undefined;
  const all = [...head, ...Array<string>(halves.length === 2 ? fill : 0).fill('0'), ...tail];
  let n = 0n;
  for (const h of all) {
    if (!/^[0-9a-f]{1,4}$/i.test(h)) return undefined;
    n = (n << 16n) | BigInt(parseInt(h, 16));
  }
  return n;
}

interface Cidr {
  v6: boolean;
  net: bigint;
  mask: bigint;
}

function parseCidr(c: string, ptr: string): Cidr {
  const [addr = '', bitsText] = c.split('/');
  const v6 = addr.includes(':');
  const ip = v6 ? parseIPv6(addr) : parseIPv4(addr);
  const width = v6 ? 128 : 32;
  const bits = bitsText === undefined ? width : Number(bitsText);
  if (ip === undefined || !Number.isInteger(bits) || bits < 0 || bits > width) {
    throw new ConditionError(ptr, `"${c}" is not an IPv4 or IPv6 CIDR`);
  }
  const mask = bits === 0 ? 0n : ((1n << BigInt(bits)) - 1n) << BigInt(width - bits);
  return { v6, net: ip & mask, mask };
}

function ipInCidrs(v: unknown, cidrs: readonly Cidr[]): boolean {
  if (typeof v !== 'string') return false;
  const v6 = v.includes(':');
  const ip = v6 ? parseIPv6(v) : parseIPv4(v.trim());
  if (ip === undefined) return false;
  for (const c of cidrs) if (c.v6 === v6 && (ip & c.mask) === c.net) return true;
  return false;
}

// ---- predicates ----------------------------------------------------------------------

function parseBoundRef(ref: unknown, ptr: string, ctx: ConditionContext): { step: number; get: Getter } {
  if (typeof ref !== 'string') throw new ConditionError(ptr, 'a bound reference is a string like "$1.target.pid"');
  const m = /^\$([A-Za-z0-9_-]+)\.(.+)$/.exec(ref);
  if (!m) throw new ConditionError(ptr, `bound reference "${ref}" must look like "$1.target.pid" or "$<step name>.<path>"`);
  const tag = m[1] ?? '';
  let step: number;
  if (/^\d+$/.test(tag)) step = Number(tag) - 1;
  else {
    const byName = ctx.stepNames.get(tag);
    if (byName === undefined) throw new ConditionError(ptr, `bound reference "${ref}" names no step "${tag}"`);
    step = byName;
  }
  if (ctx.step < 0) throw new ConditionError(ptr, 'bound references are only allowed in sequence steps after the first');
  if (step < 0 || step >= ctx.step) {
    throw new ConditionError(ptr, `bound reference "${ref}" must refer to an earlier step (1..${ctx.step})`);
  }
  try {
    return { step, get: compileGetter(m[2] ?? '') };
  } catch (err) {
    throw new ConditionError(ptr, (err as Error).message);
  }
}

function compilePredicate(p: Rec, ptr: string, ctx: ConditionContext): Test {
  for (const k of Object.keys(p)) {
    if (!OPERATORS.has(k) && !MODIFIERS.has(k)) throw new ConditionError(ptr, `unknown key "${k}" in a predicate`);
  }
  const ops = Object.keys(p).filter((k) => OPERATORS.has(k));
  if (ops.length !== 1) {
    throw new ConditionError(ptr, `a predicate needs exactly one operator, found ${ops.length === 0 ? 'none' : ops.join(', ')}`);
  }
  const op = ops[0] as string;
  const field = p['field'];
  if (typeof field !== 'string') throw new ConditionError(ptr, 'a predicate needs a "field" string');
  const cased = p['cased'] === true;
  if (p['cased'] !== undefined && typeof p['cased'] !== 'boolean') throw new ConditionError(ptr, '"cased" must be a boolean');
  if (p['regex_flags'] !== undefined && op !== 'regex_any') throw new ConditionError(ptr, '"regex_flags" goes with regex_any only');
  let get: Getter;
  try {
    get = compileGetter(field === '*' ? 'raw' : field);
  } catch (err) {
    throw new ConditionError(`${ptr}/field`, (err as PathError).message);
  }
  if (field === '*') {
    // Any scalar anywhere in raw: flatten one level of nesting into a list.
    const rawGet = get;
    get = (e) => {
      const raw = rawGet(e);
      if (!isRec(raw)) return undefined;
      const out: unknown[] = [];
      for (const v of Object.values(raw)) {
        if (Array.isArray(v)) out.push(...(v as unknown[]));
        else out.push(v);
      }
      return out;
    };
  }
  const operand = p[op];
  const optr = `${ptr}/${op}`;
  const str = (x: unknown): string | undefined => toStr(x, cased);

  switch (op) {
    case 'equals_any':
    case 'in_list': {
      let values: readonly Literal[];
      if (op === 'in_list') {
        if (typeof operand !== 'string') throw new ConditionError(optr, 'in_list expects a list name');
        const list = ctx.lists[operand];
        if (list === undefined) throw new ConditionError(optr, `unknown list "${operand}"`);
        values = list;
      } else values = literalList(operand, optr, op);
      const nums = new Set<number>();
      const strs = new Set<string>();
      for (const v of values) {
        const n = typeof v === 'boolean' ? undefined : toNum(v);
        if (n !== undefined) nums.add(n);
        const s = toStr(v, cased);
        if (s !== undefined) strs.add(s);
      }
      return (e) =>
        some(get(e), (x) => {
          if (nums.size > 0) {
            const n = toNum(x);
            if (n !== undefined && nums.has(n)) return true;
          }
          const s = str(x);
          return s !== undefined && strs.has(s);
        });
    }
    case 'contains_any':
    case 'contains_all':
    case 'startswith_any':
    case 'endswith_any': {
      const lits = stringList(operand, optr, op).map((s) => (cased ? s : s.toLowerCase()));
      const one =
        op === 'startswith_any'
          ? (s: string) => lits.some((l) => s.startsWith(l))
          : op === 'endswith_any'
            ? (s: string) => lits.some((l) => s.endsWith(l))
            : op === 'contains_all'
              ? (s: string) => lits.every((l) => s.includes(l))
              : (s: string) => lits.some((l) => s.includes(l));
      return (e) =>
        some(get(e), (x) => {
          const s = str(x);
          return s !== undefined && one(s);
        });
    }
    case 'regex_any':
    case 'glob_any': {
      const pats = stringList(operand, optr, op);
      let flags = cased ? '' : 'i';
      if (op === 'regex_any' && p['regex_flags'] !== undefined) {
        const f = p['regex_flags'];
        if (typeof f !== 'string' || !/^[ims]*$/.test(f)) throw new ConditionError(`${ptr}/regex_flags`, 'regex_flags is a subset of "ims"');
        flags = [...new Set((flags + f).split(''))].join('');
      }
      if (op === 'glob_any') flags += 's';
      const res = pats.map((pt, i) => re2(op === 'glob_any' ? globToRegex(pt) : pt, flags, `${optr}/${i}`));
      return (e) =>
        some(get(e), (x) => {
          const s = toStr(x, true);
          return s !== undefined && res.some((r) => r.test(s));
        });
    }
    case 'cidr_any': {
      const cidrs = stringList(operand, optr, op).map((c, i) => parseCidr(c, `${optr}/${i}`));
      return (e) => some(get(e), (x) => ipInCidrs(x, cidrs));
    }
    case 'lt':
    case 'lte':
    case 'gt':
    case 'gte': {
      const lim = numberOperand(operand, optr, op);
      const cmp =
        op === 'lt' ? (n: number) => n < lim : op === 'lte' ? (n: number) => n <= lim : op === 'gt' ? (n: number) => n > lim : (n: number) => n >= lim;
      return (e) =>
        some(get(e), (x) => {
          const n = toNum(x);
          return n !== undefined && cmp(n);
        });
    }
    case 'exists': {
      if (typeof operand !== 'boolean') throw new ConditionError(optr, 'exists expects true or false');
      return operand
        ? (e) => {
            const v = get(e);
            return v !== undefined && v !== null;
          }
        : (e) => {
            const v = get(e);
            return v === undefined || v === null;
          };
    }
    case 'mask_any':
    case 'mask_all': {
      if (!Array.isArray(operand) || operand.length === 0) throw new ConditionError(optr, `${op} expects a non-empty array of masks`);
      const masks = operand.map((m, i) => {
        const n = toNum(m);
        if (n === undefined || !Number.isInteger(n) || n < 0) throw new ConditionError(`${optr}/${i}`, `mask ${JSON.stringify(m)} is not a non-negative integer`);
        return BigInt(n);
      });
      return (e) =>
        some(get(e), (x) => {
          const n = toNum(x);
          if (n === undefined || !Number.isInteger(n) || n < 0) return false;
          const b = BigInt(n);
          return op === 'mask_any' ? masks.some((m) => (b & m) !== 0n) : masks.every((m) => (b & m) === m);
        });
    }
    case 'equals_field':
    case 'not_equals_field': {
      if (typeof operand !== 'string') throw new ConditionError(optr, `${op} expects a field path`);
      let other: Getter;
      try {
        other = compileGetter(operand);
      } catch (err) {
        throw new ConditionError(optr, (err as Error).message);
      }
      const want = op === 'equals_field';
      return (e) => {
        const a = get(e);
        const b = other(e);
        if (a === undefined || a === null || b === undefined || b === null) return false;
        const eq = some(a, (x) => some(b, (y) => looseEquals(x, y, cased)));
        return eq === want;
      };
    }
    case 'equals_bound':
    case 'not_equals_bound': {
      const ref = parseBoundRef(operand, optr, ctx);
      const want = op === 'equals_bound';
      return (e, bound) => {
        if (bound === null) return false;
        const subj = bound(ref.step);
        if (subj === undefined) return false;
        const a = get(e);
        const b = ref.get(subj);
        if (a === undefined || a === null || b === undefined || b === null) return false;
        const eq = some(a, (x) => some(b, (y) => looseEquals(x, y, cased)));
        return eq === want;
      };
    }
    default:
      throw new ConditionError(optr, `unsupported operator ${op}`);
  }
}

function compileNode(cond: unknown, ptr: string, ctx: ConditionContext, depth: number): Test {
  if (!isRec(cond)) throw new ConditionError(ptr, 'a condition must be an object');
  if (ctx.delegate && !containsBound(cond, ctx.macros)) {
    const t = ctx.delegate(cond, ptr, { lists: ctx.lists, macros: ctx.macros });
    return (e) => t(e);
  }
  const keys = Object.keys(cond);
  const structural = keys.filter((k) => k === 'all' || k === 'any' || k === 'not' || k === 'n_of' || k === 'macro');
  if (structural.length > 0) {
    if (keys.length !== 1) throw new ConditionError(ptr, `"${structural[0] ?? ''}" must be the only key of its object`);
    const k = structural[0] as string;
    const v = cond[k];
    if (k === 'all' || k === 'any') {
      if (!Array.isArray(v) || v.length === 0) throw new ConditionError(`${ptr}/${k}`, `"${k}" expects a non-empty array of conditions`);
      const parts = v.map((c, i) => compileNode(c, `${ptr}/${k}/${i}`, ctx, depth));
      if (k === 'all') {
        return (e, b) => {
          for (const t of parts) if (!t(e, b)) return false;
          return true;
        };
      }
      return (e, b) => {
        for (const t of parts) if (t(e, b)) return true;
        return false;
      };
    }
    if (k === 'not') {
      const inner = compileNode(v, `${ptr}/not`, ctx, depth);
      return (e, b) => !inner(e, b);
    }
    if (k === 'n_of') {
      if (!isRec(v) || typeof v['n'] !== 'number' || !Number.isInteger(v['n']) || v['n'] < 1 || !Array.isArray(v['of'])) {
        throw new ConditionError(`${ptr}/n_of`, 'n_of expects { "n": <integer ≥ 1>, "of": [conditions] }');
      }
      const n = v['n'];
      const parts = v['of'].map((c, i) => compileNode(c, `${ptr}/n_of/of/${i}`, ctx, depth));
      if (n > parts.length) throw new ConditionError(`${ptr}/n_of/n`, `n (${n}) is larger than the ${parts.length} conditions`);
      return (e, b) => {
        let hits = 0;
        for (const t of parts) if (t(e, b) && ++hits >= n) return true;
        return false;
      };
    }
    // macro
    if (typeof v !== 'string') throw new ConditionError(`${ptr}/macro`, 'macro expects a name');
    if (depth >= MAX_MACRO_DEPTH) throw new ConditionError(`${ptr}/macro`, `macro "${v}" nests more than ${MAX_MACRO_DEPTH} deep (a cycle?)`);
    if (!(v in ctx.macros)) throw new ConditionError(`${ptr}/macro`, `unknown macro "${v}"`);
    return compileNode(ctx.macros[v], `${ptr}/macro:${v}`, ctx, depth + 1);
  }
  return compilePredicate(cond, ptr, ctx);
}

/** Compile a condition; throws ConditionError naming the JSON pointer of the fault. */
export function compileCorrCondition(cond: unknown, pointer: string, ctx: ConditionContext): CorrCondition {
  const test = compileNode(cond, pointer, ctx, 0);
  return { test, usesBound: containsBound(cond, ctx.macros) };
}
