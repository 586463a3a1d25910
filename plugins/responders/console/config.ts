import { SEVERITIES, type Severity } from '../../../core/events/detection.js';
import type { JsonSchema } from '../../../core/plugin/types.js';

export type ColorMode = 'auto' | 'always' | 'never';
export type ConsoleStreamName = 'stdout' | 'stderr';

/** The `console` responder's config block (after schema defaults). */
export type ConsoleConfig = {
  color: ColorMode;
  min_severity: Severity;
  stream: ConsoleStreamName;
};

export const CONSOLE_DEFAULTS: Readonly<ConsoleConfig> = Object.freeze({
  color: 'auto',
  min_severity: 'informational',
  stream: 'stdout',
});

export const consoleConfigSchema: JsonSchema = Object.freeze({
  type: 'object',
  additionalProperties: false,
  properties: {
    color: {
      enum: ['auto', 'always', 'never'],
      default: CONSOLE_DEFAULTS.color,
      description: 'auto: colour only when the stream is a terminal (and NO_COLOR is unset).',
    },
    min_severity: {
      enum: [...SEVERITIES],
      default: CONSOLE_DEFAULTS.min_severity,
      description: 'Detections below this severity are not printed (counted as intended discards).',
    },
    stream: {
      enum: ['stdout', 'stderr'],
      default: CONSOLE_DEFAULTS.stream,
    },
  },
});

/**
 * The core hands over a validated config with defaults; this fills gaps anyway and refuses
 * wrong values with a clear message, so tools embedding the plugin without the core's
 * validation get the same behaviour.
 */
export function resolveConsoleConfig(raw: Readonly<Partial<ConsoleConfig>> | undefined): ConsoleConfig {
  const c: Readonly<Record<string, unknown>> = raw ?? {};
  for (const key of Object.keys(c)) {
    if (!(key in CONSOLE_DEFAULTS)) throw new TypeError(`console responder: unknown config key "${key}"`);
  }
  return {
    color: pick(c, 'color', ['auto', 'always', 'never'] as const),
    min_severity: pick(c, 'min_severity', SEVERITIES),
    stream: pick(c, 'stream', ['stdout', 'stderr'] as const),
  };
}

function pick<K extends keyof ConsoleConfig, V extends ConsoleConfig[K]>(
  c: Readonly<Record<string, unknown>>,
  key: K,
  allowed: readonly V[],
): V {
  const v = c[key];
  if (v === undefined) return CONSOLE_DEFAULTS[key] as V;
  const hit = allowed.find((a) => a === v);
  if (hit === undefined) {
    throw new TypeError(`console responder: config.${key} must be one of ${allowed.join(', ')}; got ${JSON.stringify(v)}`);
  }
  return hit;
}
