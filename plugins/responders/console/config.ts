import { SEVERITIES, type Severity, type JsonSchema } from '../../../core/index.js';

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
