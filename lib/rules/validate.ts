/** ajv validation of rule files with errors that name the JSON path, expected and found. */
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { describe } from './compile.js';
import { PACK_ENVELOPE_SCHEMA, RULE_ENVELOPE_SCHEMA, RULE_SCHEMA } from './schema.js';

export interface SchemaError {
  /** JSON pointer of the offending value. */
  path: string;
  message: string;
  expected?: string;
  found?: string;
}

let cache: { rule: ValidateFunction; pack: ValidateFunction; full: ValidateFunction } | undefined;

function validators(): { rule: ValidateFunction; pack: ValidateFunction; full: ValidateFunction } {
  if (!cache) {
    // strict off: the schema uses if/then/else and oneOf-of-required, which strict mode flags.
    const ajv = new Ajv2020({ allErrors: true, strict: false });
    cache = { rule: ajv.compile(RULE_ENVELOPE_SCHEMA), pack: ajv.compile(PACK_ENVELOPE_SCHEMA), full: ajv.compile(RULE_SCHEMA) };
  }
  return cache;
}

function escapePointer(s: string): string {
  return s.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** The value at a JSON pointer, or undefined. */
export function atPointer(root: unknown, pointer: string): unknown {
  if (pointer === '') return root;
  let cur: unknown = root;
  for (const raw of pointer.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[seg];
  }
  return cur;
}

function convert(e: ErrorObject, data: unknown, prefix: string): SchemaError {
  const path = prefix + e.instancePath;
  const here = atPointer(data, e.instancePath);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String(p['additionalProperty']);
      return { path: `${path}/${escapePointer(key)}`, message: `unknown property "${key}"`, expected: 'a documented property (or an x_* extension)', found: key };
    }
    case 'required': {
      const key = String(p['missingProperty']);
      return { path, message: `missing required property "${key}"`, expected: key, found: 'absent' };
    }
    case 'type':
      return { path, message: `wrong type`, expected: String(p['type']), found: describe(here) };
    case 'enum':
      return { path, message: 'value not allowed', expected: (p['allowedValues'] as unknown[]).map(String).join(' | '), found: describe(here) };
    case 'pattern':
      return { path, message: `does not match ${String(p['pattern'])}`, expected: `pattern ${String(p['pattern'])}`, found: describe(here) };
    default:
      return { path, message: e.message ?? e.keyword, expected: `${e.keyword} ${JSON.stringify(p)}`, found: describe(here) };
  }
}

function run(v: ValidateFunction, data: unknown, prefix: string): SchemaError[] {
  if (v(data)) return [];
  const errors = (v.errors ?? []).filter((e) => e.keyword !== 'if');
  const seen = new Set<string>();
  const out: SchemaError[] = [];
  for (const e of errors) {
    const c = convert(e, data, prefix);
    const k = `${c.path}|${c.message}`;
    if (!seen.has(k)) {
      seen.add(k);
      out.push(c);
    }
  }
  return out;
}

/** Validate a rule's envelope (its conditions are checked by the compiler). */
export function validateRuleEnvelope(rule: unknown, pointer = ''): SchemaError[] {
  return run(validators().rule, rule, pointer);
}

/** Validate a pack's envelope (its rules are validated one by one). */
export function validatePackEnvelope(pack: unknown): SchemaError[] {
  return run(validators().pack, pack, '');
}

/** Validate a whole file against the published RULE_SCHEMA (what an editor would report). */
export function validateRuleFile(doc: unknown): SchemaError[] {
  return run(validators().full, doc, '');
}
