/**
 * JSON Schema of a correlation rule file (published beside this file as
 * correlation-rule.schema.json; a test keeps the two identical). Conditions are checked
 * structurally here and in depth by the condition compiler, which names the JSON pointer.
 */
const ID = { type: 'string', pattern: '^[a-z0-9_.-]+$', minLength: 1, maxLength: 200 };
const SEVERITY = { enum: ['informational', 'low', 'medium', 'high', 'critical'] };
/** Key paths; empty means one global key (Sigma correlations without group-by). */
const KEY_PATHS = { type: 'array', items: { type: 'string', minLength: 1 } };
const EVENT_TYPES = { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 };
const CONDITION = { type: 'object' };
const DURATION = {
  anyOf: [
    { type: 'number', exclusiveMinimum: 0 },
    { type: 'string', pattern: '^\\d+(\\.\\d+)?(ms|s|m|h|d)$' },
  ],
};
const RULE_REF = {
  anyOf: [
    { type: 'string', minLength: 1 },
    { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 },
  ],
};
const FIXTURE_ITEM = {
  type: 'object',
  anyOf: [
    { required: ['type', 'time'], properties: { type: { type: 'string' }, time: { type: 'number' } } },
    {
      required: ['detection'],
      properties: {
        detection: { type: 'string', minLength: 1 },
        event: { type: 'object', required: ['type', 'time'] },
        evidence: { type: 'array', items: { type: 'object', required: ['type', 'time'] } },
      },
    },
  ],
};
const FIXTURES = {
  type: 'object',
  additionalProperties: false,
  properties: {
    positive: { type: 'array', items: { type: 'array', items: FIXTURE_ITEM, minItems: 1 } },
    negative: { type: 'array', items: { type: 'array', items: FIXTURE_ITEM, minItems: 1 } },
  },
};
const RESPONSE = {
  type: 'array',
  items: {
    type: 'object',
    required: ['action'],
    additionalProperties: false,
    properties: { action: { type: 'string', minLength: 1 }, params: { type: 'object' } },
  },
};
const COMMON = {
  id: ID,
  title: { type: 'string', minLength: 1 },
  description: { type: 'string' },
  version: { type: 'string' },
  severity: SEVERITY,
  tags: { type: 'array', items: { type: 'string' } },
  enabled: { type: 'boolean' },
  response: RESPONSE,
  references: { type: 'array', items: { type: 'string' } },
  fixtures: FIXTURES,
  author: { type: 'string' },
};

const STEP = {
  type: 'object',
  additionalProperties: false,
  required: ['by'],
  properties: {
    name: { type: 'string', pattern: '^[A-Za-z][A-Za-z0-9_-]*$' },
    rule: RULE_REF,
    match: CONDITION,
    event: EVENT_TYPES,
    by: KEY_PATHS,
    join_on: KEY_PATHS,
    absent: { type: 'boolean' },
  },
};

const SEQUENCE = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'title', 'severity', 'kind', 'steps'],
  properties: {
    ...COMMON,
    kind: { const: 'sequence' },
    steps: { type: 'array', items: STEP, minItems: 2 },
    maxspan_ms: { type: 'number', exclusiveMinimum: 0 },
    maxspan: DURATION,
    until: {
      type: 'object',
      additionalProperties: false,
      required: ['match'],
      properties: { event: EVENT_TYPES, match: CONDITION, by: KEY_PATHS },
    },
  },
};

const COUNT_CONDITION = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: {
    gt: { type: 'number' },
    gte: { type: 'number' },
    lt: { type: 'number' },
    lte: { type: 'number' },
    eq: { type: 'number' },
  },
};

const COUNT = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'title', 'severity', 'kind', 'group_by', 'condition'],
  properties: {
    ...COMMON,
    kind: { const: 'count' },
    event: EVENT_TYPES,
    rule: RULE_REF,
    match: CONDITION,
    group_by: { type: 'array', items: { type: 'string', minLength: 1 } },
    group_by_rule: { type: 'object', additionalProperties: KEY_PATHS },
    timespan: DURATION,
    timespan_ms: { type: 'number', exclusiveMinimum: 0 },
    condition: COUNT_CONDITION,
    value_count: { type: 'string', minLength: 1 },
  },
};

/** Schema of one correlation rule (sequence or count). */
export const CORRELATION_RULE_SCHEMA = {
  $id: 'https://vigil.dev/schemas/correlation-rule.json',
  title: 'Vigil correlation rule file',
  description: 'One correlation rule, or a pack { lists, macros, rules }.',
  definitions: { sequence: SEQUENCE, count: COUNT },
  anyOf: [
    { $ref: '#/definitions/sequence' },
    { $ref: '#/definitions/count' },
    {
      type: 'object',
      additionalProperties: false,
      required: ['rules'],
      properties: {
        lists: { type: 'object', additionalProperties: { type: 'array', items: { type: ['string', 'number', 'boolean'] } } },
        macros: { type: 'object', additionalProperties: CONDITION },
        rules: {
          type: 'array',
          items: {
            type: 'object',
            required: ['kind'],
            properties: { kind: { enum: ['sequence', 'count'] } },
          },
        },
      },
    },
  ],
} as const;

/** Schema of a single rule, chosen by its `kind` (better errors than the anyOf above). */
export const SEQUENCE_RULE_SCHEMA = { $id: 'https://vigil.dev/schemas/correlation-sequence.json', ...SEQUENCE } as const;
export const COUNT_RULE_SCHEMA = { $id: 'https://vigil.dev/schemas/correlation-count.json', ...COUNT } as const;
