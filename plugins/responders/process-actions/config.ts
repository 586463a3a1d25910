import type { JsonSchema } from '../../../core/index.js';

/** The `process-actions` responder's config block (after schema defaults). */
export type ProcessActionsConfig = {
  confirm_timeout_seconds: number;
  max_tree_processes: number;
};

export const processActionsConfigSchema: JsonSchema = Object.freeze({
  type: 'object',
  additionalProperties: false,
  properties: {
    confirm_timeout_seconds: {
      type: 'number',
      exclusiveMinimum: 0,
      maximum: 300,
      default: 5,
      description: 'How long an exit (kill) or a stop (suspend) is waited for before the action is reported failed.',
    },
    max_tree_processes: {
      type: 'integer',
      minimum: 1,
      maximum: 100000,
      default: 1024,
      description: 'kill_tree refuses a tree larger than this (and resumes what it suspended).',
    },
  },
});
