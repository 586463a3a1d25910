/** The correlation analyzer's configuration (`plugins.correlation` in the config file). */
import type { ClockKind } from './clock.js';
import { DEFAULT_SLICE_MS } from './defaults.js';
import { STATE_MEMORY_PROPERTIES, type StateMemoryConfig } from './state/config.js';

export interface CorrelationConfig extends StateMemoryConfig {
  rule_paths: string[];
  sigma_paths: string[];
  max_partial_per_rule: number;
  max_partial_total: number;
  clock: ClockKind;
  /** Wall clock only: how often expiry runs without new events. */
  tick_ms: number;
  /** The longest the analyzer works before yielding to the event loop (ms). */
  slice_ms: number;
}

export const CONFIG_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    rule_paths: { type: 'array', items: { type: 'string', 'x-vigil-path': 'existing' }, default: ['rules/correlation'] },
    sigma_paths: { type: 'array', items: { type: 'string', 'x-vigil-path': 'existing' }, default: [] },
    max_partial_per_rule: { type: 'integer', minimum: 1, default: 200_000 },
    max_partial_total: { type: 'integer', minimum: 1, default: 1_000_000 },
    clock: { enum: ['event', 'wall'], default: 'event' },
    tick_ms: { type: 'integer', minimum: 10, default: 250 },
    slice_ms: { type: 'number', minimum: 0.5, maximum: 50, default: DEFAULT_SLICE_MS },
    ...STATE_MEMORY_PROPERTIES,
  },
} as const;
