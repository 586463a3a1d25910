import { statSync } from 'node:fs';
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

/** What validation may look at beyond the document itself. */
export interface ValidationContext {
  /** Resolves a config path as the plugin will (`ctx.resolvePath`); enables `x-vigil-path` checks. */
  resolvePath(path: string): string;
}

/**
 * Schema keyword for a string that names a file or folder: `"x-vigil-path": "existing"` means
 * it must exist when the config is loaded. A rule path that names nothing would otherwise load
 * no rules at all, and the agent would run blind while reporting itself healthy. The check runs
 * only when the caller supplies a ValidationContext (the kernel's load, and so `config check`).
 */
export const PATH_KEYWORD = 'x-vigil-path';

interface PathError {
  keyword: string;
  message: string;
  params: { resolved: string; found: string };
}

function checkPath(this: ValidationContext | undefined, _kind: unknown, data: unknown): boolean {
  const self = checkPath as typeof checkPath & { errors?: PathError[] };
  self.errors = [];
  if (this === undefined || typeof this.resolvePath !== 'function' || typeof data !== 'string') return true;
  const resolved = this.resolvePath(data);
  let found: string | undefined;
  try {
    if (statSync(resolved, { throwIfNoEntry: false }) === undefined) found = `no such file or folder ${resolved}`;
  } catch (err) {
    found = `${resolved}, which cannot be examined (${(err as NodeJS.ErrnoException).code ?? String(err)})`;
  }
  if (found === undefined) return true;
  self.errors = [{ keyword: PATH_KEYWORD, message: 'an existing file or folder', params: { resolved, found } }];
  return false;
}

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, allowUnionTypes: true, passContext: true });
ajv.addKeyword({ keyword: PATH_KEYWORD, type: 'string', metaSchema: { enum: ['existing'] }, errors: true, validate: checkPath });
const cache = new WeakMap<object, ValidateFunction>();

/**
 * Compile (once per schema object) and run a schema; applies defaults in place. With a
 * context, paths marked `x-vigil-path` are checked too (after defaults are applied).
 */
export function validateWithSchema(schema: JsonSchema, data: unknown, context?: ValidationContext): ConfigFinding[] {
  let validate = cache.get(schema);
  if (!validate) {
    validate = ajv.compile(schema as Record<string, unknown>);
    cache.set(schema, validate);
  }
  if (validate.call(context, data)) return [];
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
    case PATH_KEYWORD: {
      const p = e.params as PathError['params'];
      return { path: base || '/', expected: 'an existing file or folder', found: p.found };
    }
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
