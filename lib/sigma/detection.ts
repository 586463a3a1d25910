/**
 * Sigma `detection` → native condition: search identifiers (maps, lists of maps, keyword
 * lists), field modifiers, and the condition expression.
 */
import RE2 from 're2';
import { isIP } from 'node:net';
import { parseCondition, selectIdentifiers, type ConditionNode } from './condition-parser.js';
import {
  base64Encode,
  base64OffsetEncode,
  fromEncoded,
  toEncoded,
  utf16Encode,
  windashVariants,
  type EncodedValue,
} from './encoders.js';
import { STAR, classifyValue, concat, literal, parseSigmaString, type Part } from './sigma-string.js';
import type { Condition, Literal, Predicate } from '../rules/index.js';
import { SigmaConversionError } from './types.js';

export interface DetectionContext {
  /** Sigma field name → event path. */
  mapField(name: string): string;
  placeholders: Readonly<Record<string, readonly string[]>>;
}

const KNOWN_MODIFIERS = new Set([
  'contains', 'startswith', 'endswith', 'all', 'base64', 'base64offset', 'utf16le', 'utf16be', 'utf16', 'wide',
  'windash', 're', 'i', 'm', 's', 'ignorecase', 'multiline', 'dotall', 'cidr', 'exists', 'cased', 'fieldref',
  'lt', 'lte', 'gt', 'gte', 'neq', 'expand',
]);
const TIME_MODIFIERS = new Set(['minute', 'hour', 'day', 'week', 'month', 'year']);
const REGEX_FLAG_MODIFIERS: Readonly<Record<string, 'i' | 'm' | 's'>> = {
  i: 'i', ignorecase: 'i', m: 'm', multiline: 'm', s: 's', dotall: 's',
};
const COMPARE_MODIFIERS = ['lt', 'lte', 'gt', 'gte'] as const;
type CompareOp = (typeof COMPARE_MODIFIERS)[number];

/** One way a single value can match; several atoms of one value are alternatives. */
type Atom =
  | { op: 'equals'; value: Literal }
  | { op: 'contains' | 'startswith' | 'endswith' | 'glob' | 'cidr'; value: string }
  | { op: 'regex'; value: string; flags: string; cased: boolean }
  | { op: 'exists'; value: boolean }
  | { op: CompareOp; value: number }
  | { op: 'fieldref'; value: string };

function fail(kind: string, message: string): never {
  throw new SigmaConversionError(kind, message);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

function scalarText(v: unknown, where: string): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v instanceof Date) return v.toISOString();
  return fail('bad-value', `${where}: expected a string or number, found ${v === null ? 'null' : typeof v}`);
}

/** Check a pattern compiles in RE2 with the flags the engine will use (it refuses what RE2 cannot run). */
function checkRegex(pattern: string, flags: string, cased: boolean, where: string): void {
  try {
    new RE2(pattern, flags.replace('i', '') + (cased ? '' : 'i'));
  } catch (err) {
    fail('unsupported-regex', `${where}: RE2 cannot compile /${pattern}/ (${err instanceof Error ? err.message : String(err)})`);
  }
}

function validCidr(s: string): boolean {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(s);
  if (!m) return isIP(s) !== 0;
  const v = isIP(m[1]!);
  const bits = Number(m[2]);
  return (v === 4 && bits <= 32) || (v === 6 && bits <= 128);
}

/** Replace `%name%` placeholders with every configured value (all combinations). */
function expandPlaceholders(raw: string, ctx: DetectionContext, where: string): Part[][] {
  const pieces = raw.split(/(%[A-Za-z0-9_.-]+%)/);
  let acc: Part[][] = [[]];
  for (const piece of pieces) {
    if (piece === '') continue;
    const m = /^%([A-Za-z0-9_.-]+)%$/.exec(piece);
    if (!m) {
      const parsed = parseSigmaString(piece);
      acc = acc.map((a) => concat(a, parsed));
      continue;
    }
    const name = m[1]!;
    const values = ctx.placeholders[name] ?? ctx.placeholders[piece];
    if (!values || values.length === 0) {
      fail('placeholder-not-configured', `${where}: placeholder %${name}% has no configured values`);
    }
    const next: Part[][] = [];
    for (const a of acc) for (const v of values) next.push(concat(a, parseSigmaString(v)));
    acc = next;
  }
  return acc;
}

interface FieldSpec {
  field: string | null;
  mods: string[];
}

function parseFieldSpec(key: string): FieldSpec {
  const [name, ...mods] = key.split('|');
  for (const m of mods) {
    if (TIME_MODIFIERS.has(m)) fail('unsupported-modifier', `modifier |${m} (time part) in "${key}" is not supported`);
    if (!KNOWN_MODIFIERS.has(m)) fail('unsupported-modifier', `unknown modifier |${m} in "${key}"`);
  }
  return { field: name === undefined || name === '' ? null : name, mods };
}

/** String-like values of one field item through the ordered value modifiers. */
function stringAtoms(value: unknown, spec: FieldSpec, ctx: DetectionContext, keyword: boolean, where: string): Atom[] {
  const has = (m: string): boolean => spec.mods.includes(m);
  const transforming = spec.mods.some((m) =>
    ['contains', 'startswith', 'endswith', 'base64', 'base64offset', 'utf16le', 'utf16be', 'utf16', 'wide', 'windash', 'expand'].includes(m),
  );
  if ((typeof value === 'number' || typeof value === 'boolean') && !transforming && !keyword) {
    return [{ op: 'equals', value: typeof value === 'boolean' ? String(value) : value }];
  }
  const text = scalarText(value, where);
  type Alt = { parts: Part[]; enc?: EncodedValue };
  let alts: Alt[] = has('expand')
    ? expandPlaceholders(text, ctx, where).map((parts) => ({ parts }))
    : [{ parts: parseSigmaString(text) }];
  const encoded = (a: Alt, m: string): EncodedValue => a.enc ?? toEncoded(a.parts, m);
  for (const m of spec.mods) {
    switch (m) {
      case 'windash':
        alts = alts.flatMap((a) => {
          if (a.enc) fail('unsupported-modifier', `${where}: windash cannot follow an encoding modifier`);
          return windashVariants(a.parts).map((parts) => ({ parts }));
        });
        break;
      case 'wide':
      case 'utf16le':
        alts = alts.map((a) => ({ parts: a.parts, enc: utf16Encode(encoded(a, m), 'utf16le') }));
        break;
      case 'utf16be':
        alts = alts.map((a) => ({ parts: a.parts, enc: utf16Encode(encoded(a, m), 'utf16be') }));
        break;
      case 'utf16':
        alts = alts.map((a) => ({ parts: a.parts, enc: utf16Encode(encoded(a, m), 'utf16') }));
        break;
      case 'base64':
        alts = alts.map((a) => ({ parts: literal(base64Encode(encoded(a, m))) }));
        break;
      case 'base64offset':
        alts = alts.flatMap((a) => base64OffsetEncode(encoded(a, m)).map((s) => ({ parts: literal(s) })));
        break;
      default:
        break;
    }
  }
  const contains = has('contains') || (keyword && !has('startswith') && !has('endswith'));
  const atoms: Atom[] = [];
  for (const a of alts) {
    let parts = a.enc ? fromEncoded(a.enc) : a.parts;
    if (contains) {
      if (parts[0] !== STAR) parts = concat([STAR], parts);
      if (parts[parts.length - 1] !== STAR) parts = concat(parts, [STAR]);
    } else if (has('startswith')) {
      if (parts[parts.length - 1] !== STAR) parts = concat(parts, [STAR]);
    } else if (has('endswith')) {
      if (parts[0] !== STAR) parts = concat([STAR], parts);
    }
    const c = classifyValue(parts);
    if (c.op === 'any') atoms.push({ op: 'exists', value: true });
    else if (c.op === 'regex') atoms.push({ op: 'regex', value: c.value, flags: 's', cased: has('cased') });
    else atoms.push({ op: c.op, value: c.value });
  }
  return atoms;
}

function regexAtom(value: unknown, spec: FieldSpec, where: string): Atom {
  let pattern = scalarText(value, where);
  const flags = [...new Set(spec.mods.map((m) => REGEX_FLAG_MODIFIERS[m]).filter((f): f is 'i' | 'm' | 's' => f !== undefined))]
    .sort()
    .join('');
  for (const m of spec.mods) {
    if (!['re', 'i', 'm', 's', 'ignorecase', 'multiline', 'dotall', 'contains', 'startswith', 'endswith', 'all', 'cased', 'neq'].includes(m)) {
      fail('unsupported-modifier', `${where}: |${m} cannot be combined with |re`);
    }
  }
  // Patterns match anywhere in the value (search semantics); anchors make startswith/endswith.
  if (spec.mods.includes('startswith')) pattern = `^(?:${pattern})`;
  if (spec.mods.includes('endswith')) pattern = `(?:${pattern})$`;
  // Sigma regexes are case-sensitive unless the i flag is given.
  const cased = !flags.includes('i');
  checkRegex(pattern, flags, cased, where);
  return { op: 'regex', value: pattern, flags, cased };
}

function numberOf(v: unknown, where: string): number {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return fail('bad-value', `${where}: expected a number, found ${JSON.stringify(v)}`);
}

function atomsForValue(value: unknown, spec: FieldSpec, ctx: DetectionContext, keyword: boolean, where: string): Atom[] {
  const has = (m: string): boolean => spec.mods.includes(m);
  if (has('exists')) {
    if (spec.mods.length > 1 && !(spec.mods.length === 2 && has('neq'))) fail('unsupported-modifier', `${where}: |exists takes no other modifier`);
    if (keyword) fail('bad-value', `${where}: |exists needs a field name`);
    const b = value === true || value === 'true' ? true : value === false || value === 'false' ? false : undefined;
    if (b === undefined) fail('bad-value', `${where}: |exists needs true or false, found ${JSON.stringify(value)}`);
    return [{ op: 'exists', value: b }];
  }
  if (value === null) {
    if (keyword) fail('bad-value', `${where}: a keyword cannot be null`);
    return [{ op: 'exists', value: false }];
  }
  if (isRecord(value) || Array.isArray(value)) fail('bad-value', `${where}: nested ${Array.isArray(value) ? 'list' : 'map'} value is not allowed`);
  if (has('fieldref')) {
    if (keyword) fail('bad-value', `${where}: |fieldref needs a field name`);
    for (const m of spec.mods) {
      if (!['fieldref', 'neq', 'all', 'cased'].includes(m)) fail('unsupported-modifier', `${where}: |fieldref cannot be combined with |${m}`);
    }
    return [{ op: 'fieldref', value: ctx.mapField(scalarText(value, where)) }];
  }
  const cmp = COMPARE_MODIFIERS.filter((m) => has(m));
  if (cmp.length > 0) {
    if (cmp.length > 1 || spec.mods.some((m) => !COMPARE_MODIFIERS.includes(m as CompareOp) && m !== 'all' && m !== 'neq')) {
      fail('unsupported-modifier', `${where}: |${cmp.join('|')} cannot be combined with other modifiers`);
    }
    return [{ op: cmp[0]!, value: numberOf(value, where) }];
  }
  if (has('cidr')) {
    const s = scalarText(value, where);
    if (!validCidr(s)) fail('bad-value', `${where}: "${s}" is not an IPv4 or IPv6 CIDR`);
    return [{ op: 'cidr', value: s }];
  }
  if (has('re')) return [regexAtom(value, spec, where)];
  for (const m of spec.mods) {
    if (REGEX_FLAG_MODIFIERS[m] !== undefined) fail('unsupported-modifier', `${where}: |${m} is only valid after |re`);
  }
  return stringAtoms(value, spec, ctx, keyword, where);
}

/** Predicates for a set of atoms that are alternatives (OR), grouped by operator. */
function orOfAtoms(field: string, atoms: Atom[], cased: boolean, negate: boolean): Condition {
  const out: Condition[] = [];
  const lists = new Map<string, { pred: Predicate; values: Literal[] }>();
  const stringOp = (op: string): boolean => ['equals', 'contains', 'startswith', 'endswith', 'glob'].includes(op);
  for (const a of atoms) {
    if (a.op === 'exists') out.push({ field, exists: a.value });
    else if (a.op === 'lt' || a.op === 'lte' || a.op === 'gt' || a.op === 'gte') out.push({ field, [a.op]: a.value });
    else if (a.op === 'fieldref') out.push(negate ? { field, not_equals_field: a.value } : { field, equals_field: a.value });
    else {
      const key = a.op === 'regex' ? `regex/${a.flags}/${a.cased}` : a.op;
      let entry = lists.get(key);
      if (!entry) {
        const pred: Predicate = { field };
        if (a.op === 'regex') {
          if (a.flags) pred.regex_flags = a.flags;
          if (a.cased) pred.cased = true;
        } else if (cased && stringOp(a.op)) {
          pred.cased = true;
        }
        entry = { pred, values: [] };
        lists.set(key, entry);
        out.push(pred);
      }
      if (!entry.values.some((v) => v === a.value)) entry.values.push(a.value);
    }
  }
  for (const [key, { pred, values }] of lists) {
    const op = key.startsWith('regex/') ? 'regex' : key;
    // Fill the operator key now that all values are known; property order keeps `field` first.
    const withOp = pred as unknown as Record<string, unknown>;
    withOp[`${op}_any`] = values;
    reorder(withOp);
  }
  return out.length === 1 ? out[0]! : { any: out };
}

/** Put the operator before the secondary keys (`cased`, `regex_flags`) for readable output. */
function reorder(p: Record<string, unknown>): void {
  for (const k of ['regex_flags', 'cased']) {
    if (k in p) {
      const v = p[k];
      delete p[k];
      p[k] = v;
    }
  }
}

function convertFieldItem(key: string, rawValue: unknown, ctx: DetectionContext, where: string): Condition {
  const spec = parseFieldSpec(key);
  const keyword = spec.field === null;
  const field = keyword ? '*' : ctx.mapField(spec.field!);
  const values = Array.isArray(rawValue) ? rawValue : [rawValue];
  if (values.length === 0) fail('bad-value', `${where}: "${key}" has an empty value list`);
  const all = spec.mods.includes('all');
  const cased = spec.mods.includes('cased');
  const neq = spec.mods.includes('neq');
  const perValue = values.map((v, i) => atomsForValue(v, spec, ctx, keyword, `${where}.${key}[${i}]`));
  let cond: Condition;
  if (all && values.length > 1) {
    const everyContains = perValue.every((atoms) => atoms.length === 1 && atoms[0]!.op === 'contains');
    if (everyContains && !keyword) {
      const pred: Predicate = { field, contains_all: [...new Set(perValue.map((atoms) => String(atoms[0]!.value)))] };
      if (cased) pred.cased = true;
      cond = pred;
    } else {
      cond = { all: perValue.map((atoms) => orOfAtoms(field, atoms, cased, neq)) };
    }
  } else {
    cond = orOfAtoms(field, perValue.flat(), cased, neq);
  }
  const fieldrefNeq = neq && spec.mods.includes('fieldref');
  return neq && !fieldrefNeq ? { not: cond } : cond;
}

function convertMap(map: Record<string, unknown>, ctx: DetectionContext, where: string): Condition {
  const entries = Object.entries(map);
  if (entries.length === 0) fail('bad-detection', `${where} is an empty map`);
  const items = entries.map(([k, v]) => convertFieldItem(k, v, ctx, where));
  return items.length === 1 ? items[0]! : { all: items };
}

function convertKeywords(values: unknown[], ctx: DetectionContext, where: string): Condition {
  return convertFieldItem('', values, ctx, where);
}

/** One search identifier's value → condition. */
export function convertSearchIdentifier(value: unknown, ctx: DetectionContext, where: string): Condition {
  if (isRecord(value)) return convertMap(value, ctx, where);
  if (Array.isArray(value)) {
    if (value.length === 0) fail('bad-detection', `${where} is an empty list`);
    if (value.every((v) => !isRecord(v) && !Array.isArray(v))) return convertKeywords(value, ctx, where);
    const items = value.map((v, i) => {
      if (isRecord(v)) return convertMap(v, ctx, `${where}[${i}]`);
      if (Array.isArray(v)) fail('bad-detection', `${where}[${i}] is a nested list`);
      return convertKeywords([v], ctx, `${where}[${i}]`);
    });
    return items.length === 1 ? items[0]! : { any: items };
  }
  if (typeof value === 'string' || typeof value === 'number') return convertKeywords([value], ctx, where);
  return fail('bad-detection', `${where} must be a map, a list or a keyword, found ${value === null ? 'null' : typeof value}`);
}

function flatten(kind: 'all' | 'any', items: Condition[]): Condition {
  const out: Condition[] = [];
  for (const c of items) {
    if (kind === 'all' && 'all' in c) out.push(...c.all);
    else if (kind === 'any' && 'any' in c) out.push(...c.any);
    else out.push(c);
  }
  return out.length === 1 ? out[0]! : kind === 'all' ? { all: out } : { any: out };
}

/** Convert a whole Sigma `detection` section. */
export function convertDetection(detection: unknown, ctx: DetectionContext): Condition {
  if (!isRecord(detection)) fail('bad-detection', 'detection must be a map');
  const rawCond = detection['condition'];
  const conditions = typeof rawCond === 'string' ? [rawCond] : Array.isArray(rawCond) ? rawCond : undefined;
  if (!conditions || conditions.length === 0 || conditions.some((c) => typeof c !== 'string')) {
    fail('bad-condition', 'detection.condition must be a string (or a list of strings)');
  }
  const names = Object.keys(detection).filter((k) => k !== 'condition' && k !== 'timeframe');
  const cache = new Map<string, Condition>();
  const identifier = (name: string): Condition => {
    let c = cache.get(name);
    if (!c) {
      if (!names.includes(name)) fail('bad-condition', `the condition names "${name}", which the detection does not define`);
      c = convertSearchIdentifier(detection[name], ctx, `detection.${name}`);
      cache.set(name, c);
    }
    return c;
  };
  const build = (node: ConditionNode): Condition => {
    switch (node.kind) {
      case 'id':
        return identifier(node.name);
      case 'and':
        return flatten('all', node.items.map(build));
      case 'or':
        return flatten('any', node.items.map(build));
      case 'not':
        return { not: build(node.item) };
      case 'of': {
        const selected = selectIdentifiers(node.pattern, names);
        if (selected.length === 0) fail('bad-condition', `"${node.quantifier === 'all' ? 'all' : '1'} of ${node.pattern}" matches no search identifier`);
        return flatten(node.quantifier === 'all' ? 'all' : 'any', selected.map(identifier));
      }
    }
  };
  const trees = (conditions as string[]).map((c) => build(parseCondition(c)));
  return flatten('any', trees);
}

