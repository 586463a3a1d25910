import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { JsonSchema } from '../plugin/types.js';

/** One thing wrong with a config document, said so an operator can fix it. */
export interface ConfigFinding {
  /** JSON path of the offending value, e.g. `/plugins/console/config/colour`. */
  path: string;
  /** What the schema expected. */
  expected: string;
  /** What the document holds. */
  found: string;
  /** 1-based line in the file when known. */
  line?: number;
}

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, allowUnionTypes: true });
const cache = new WeakMap<object, ValidateFunction>();

/** Compile (once per schema object) and run a schema; applies defaults in place. */
export function validateWithSchema(schema: JsonSchema, data: unknown): ConfigFinding[] {
  let validate = cache.get(schema);
  if (!validate) {
    validate = ajv.compile(schema as Record<string, unknown>);
    cache.set(schema, validate);
  }
  if (validate(data)) return [];
  return (validate.errors ?? []).map((e) => describe(e, schema, data));
}

/** Check that a JSON Schema compiles (manifest checks). Returns the error message or undefined. */
export function schemaCompileError(schema: unknown): string | undefined {
  try {
    ajv.compile(schema as Record<string, unknown>);
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

function describe(e: ErrorObject, rootSchema: JsonSchema, data: unknown): ConfigFinding {
  const base = e.instancePath || '';
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String((e.params as { additionalProperty?: unknown }).additionalProperty);
      const allowed = allowedKeys(rootSchema, base);
      return {
        path: `${base}/${key}`,
        expected: allowed.length ? `one of the keys: ${allowed.join(', ')}` : 'no such key',
        found: `unknown key "${key}"`,
      };
    }
    case 'required': {
      const key = String((e.params as { missingProperty?: unknown }).missingProperty);
      return { path: `${base}/${key}`, expected: 'a value (required)', found: 'nothing' };
    }
    case 'enum':
      return {
        path: base || '/',
        expected: `one of ${JSON.stringify((e.params as { allowedValues?: unknown }).allowedValues)}`,
        found: show(valueAt(data, base)),
      };
    case 'propertyNames':
      return { path: base || '/', expected: `property names ${e.message ?? ''}`.trim(), found: show(e.params) };
    default:
      return { path: base || '/', expected: e.message ?? e.keyword, found: show(valueAt(data, base)) };
  }
}

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  const t = Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v;
  return `${t} ${s && s.length > 80 ? s.slice(0, 77) + '...' : s}`;
}

function valueAt(data: unknown, pointer: string): unknown {
  let cur = data;
  for (const part of pointer.split('/').slice(1)) {
    const key = part.replace(/~1/g, '/').replace(/~0/g, '~');
    if (cur && typeof cur === 'object') cur = (cur as Record<string, unknown>)[key];
    else return undefined;
  }
  return cur;
}

/** Keys a schema allows at an instance path (following properties / additionalProperties). */
export function allowedKeys(schema: JsonSchema, pointer: string): string[] {
  let cur: unknown = schema;
  for (const part of pointer.split('/').slice(1)) {
    if (!cur || typeof cur !== 'object') return [];
    const s = cur as { properties?: Record<string, unknown>; additionalProperties?: unknown; items?: unknown };
    if (s.properties && part in s.properties) cur = s.properties[part];
    else if (/^\d+$/.test(part) && s.items) cur = s.items;
    else if (s.additionalProperties && typeof s.additionalProperties === 'object') cur = s.additionalProperties;
    else return [];
  }
  const props = (cur as { properties?: Record<string, unknown> } | undefined)?.properties;
  return props ? Object.keys(props).sort() : [];
}
