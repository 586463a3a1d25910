/**
 * JSON Schema (draft 2020-12) of a rule file: one rule object or a pack of lists, macros and
 * rules. Published as rule.schema.json (a test keeps the two identical).
 */
import { SEVERITIES } from '../../core/index.js';
import { OPERATORS } from './compile.js';

export const RULE_SCHEMA_ID = 'https://vigil.dev/schemas/rule.schema.json';

const literal = { type: ['string', 'number', 'boolean'] };
const strArray = { type: 'array', items: { type: 'string' }, minItems: 1 };
const strOrNumArray = { type: 'array', items: { type: ['string', 'number'] }, minItems: 1 };

const operatorSchemas: Record<(typeof OPERATORS)[number], Record<string, unknown>> = {
  equals_any: { type: 'array', items: literal, minItems: 1 },
  contains_any: strOrNumArray,
  contains_all: strOrNumArray,
  startswith_any: strOrNumArray,
  endswith_any: strOrNumArray,
  regex_any: strArray,
  glob_any: strArray,
  cidr_any: strArray,
  lt: { type: ['number', 'string'] },
  lte: { type: ['number', 'string'] },
  gt: { type: ['number', 'string'] },
  gte: { type: ['number', 'string'] },
  exists: { type: 'boolean' },
  mask_any: strOrNumArray,
  mask_all: strOrNumArray,
  in_list: { type: 'string', minLength: 1 },
  equals_field: { type: 'string', minLength: 1 },
  not_equals_field: { type: 'string', minLength: 1 },
};

const predicate = {
  type: 'object',
  required: ['field'],
  properties: {
    field: { type: 'string', minLength: 1, description: 'Dotted path into the event, raw.<Name>, or * (any value in raw).' },
    cased: { type: 'boolean', default: false, description: 'Case-sensitive string comparison.' },
    regex_flags: { type: 'string', pattern: '^[ims]*$' },
    ...operatorSchemas,
  },
  additionalProperties: false,
  // Exactly one operator key.
  oneOf: OPERATORS.map((op) => ({ required: [op] })),
};

const conditionDefs = {
  condition: {
    oneOf: [
      { $ref: '#/$defs/all' },
      { $ref: '#/$defs/any' },
      { $ref: '#/$defs/not' },
      { $ref: '#/$defs/n_of' },
      { $ref: '#/$defs/macro' },
      { $ref: '#/$defs/predicate' },
    ],
  },
  all: {
    type: 'object',
    required: ['all'],
    properties: { all: { type: 'array', items: { $ref: '#/$defs/condition' } } },
    additionalProperties: false,
  },
  any: {
    type: 'object',
    required: ['any'],
    properties: { any: { type: 'array', items: { $ref: '#/$defs/condition' } } },
    additionalProperties: false,
  },
  not: {
    type: 'object',
    required: ['not'],
    properties: { not: { $ref: '#/$defs/condition' } },
    additionalProperties: false,
  },
  n_of: {
    type: 'object',
    required: ['n_of'],
    properties: {
      n_of: {
        type: 'object',
        required: ['n', 'of'],
        properties: { n: { type: 'integer', minimum: 0 }, of: { type: 'array', items: { $ref: '#/$defs/condition' } } },
        additionalProperties: false,
      },
    },
    additionalProperties: false,
  },
  macro: {
    type: 'object',
    required: ['macro'],
    properties: { macro: { type: 'string', minLength: 1 } },
    additionalProperties: false,
  },
  predicate,
};

const eventDraft = {
  type: 'object',
  required: ['type', 'time'],
  properties: { type: { type: 'string', minLength: 1 }, time: { type: 'number' } },
};

function ruleSchema(conditionRef: Record<string, unknown>): Record<string, unknown> {
  return {
    type: 'object',
    required: ['id', 'title', 'severity', 'event', 'match'],
    properties: {
      id: { type: 'string', pattern: '^[a-z0-9_.-]+$', maxLength: 200 },
      title: { type: 'string', minLength: 1 },
      description: { type: 'string' },
      version: { type: 'string', minLength: 1 },
      severity: { enum: [...SEVERITIES] },
      tags: { type: 'array', items: { type: 'string', minLength: 1 } },
      event: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 },
      match: conditionRef,
      exceptions: { type: 'array', items: conditionRef },
      enabled: { type: 'boolean', default: true },
      min_engine_version: { type: 'string', pattern: '^\\d+\\.\\d+\\.\\d+' },
      response: {
        type: 'array',
        items: {
          type: 'object',
          required: ['action'],
          properties: { action: { type: 'string', pattern: '^[a-z][a-z0-9_.-]*$' }, params: { type: 'object' } },
          additionalProperties: false,
        },
      },
      references: { type: 'array', items: { type: 'string' } },
      author: { type: 'string' },
      status: { type: 'string' },
      falsepositives: { type: 'array', items: { type: 'string' } },
      origin: { enum: ['native', 'sigma'] },
      fixtures: {
        type: 'object',
        properties: { positive: { type: 'array', items: eventDraft }, negative: { type: 'array', items: eventDraft } },
        additionalProperties: false,
      },
    },
    patternProperties: { '^x_': {} },
    additionalProperties: false,
  };
}

function packSchema(conditionRef: Record<string, unknown>, ruleRef: Record<string, unknown>): Record<string, unknown> {
  return {
    type: 'object',
    properties: {
      $schema: { type: 'string' },
      lists: {
        type: 'object',
        propertyNames: { pattern: '^[A-Za-z0-9_.-]+$' },
        additionalProperties: { type: 'array', items: literal },
      },
      macros: {
        type: 'object',
        propertyNames: { pattern: '^[A-Za-z0-9_.-]+$' },
        additionalProperties: conditionRef,
      },
      rules: { type: 'array', items: ruleRef },
    },
    patternProperties: { '^x_': {} },
    additionalProperties: false,
  };
}

/** The published schema of a rule file (one rule, or a pack). */
export const RULE_SCHEMA: Readonly<Record<string, unknown>> = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: RULE_SCHEMA_ID,
  title: 'Vigil rule file',
  description: 'One Vigil rule, or a pack { lists, macros, rules }. See docs/rule-format.md.',
  if: { type: 'object', required: ['id'] },
  then: { $ref: '#/$defs/rule' },
  else: { $ref: '#/$defs/pack' },
  $defs: {
    rule: ruleSchema({ $ref: '#/$defs/condition' }),
    pack: packSchema({ $ref: '#/$defs/condition' }, { $ref: '#/$defs/rule' }),
    ...conditionDefs,
  },
};

/**
 * Schemas the loader validates with: conditions and pack rules are left open here because
 * the condition compiler reports their errors more precisely, and a bad rule in a pack must
 * not reject the whole file.
 */
export const RULE_ENVELOPE_SCHEMA: Readonly<Record<string, unknown>> = ruleSchema({});
export const PACK_ENVELOPE_SCHEMA: Readonly<Record<string, unknown>> = packSchema({}, { type: 'object' });
