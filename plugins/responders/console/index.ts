import type { ResponderPlugin } from '../../../core/index.js';
import { consoleConfigSchema, type ConsoleConfig } from './config.js';
import { ConsoleResponder } from './responder.js';

/** Prints each detection as a short, readable block on stdout or stderr. */
export const plugin: ResponderPlugin<ConsoleConfig> = {
  manifest: {
    id: 'console',
    kind: 'responder',
    apiVersion: '2.0.0',
    version: '0.1.0',
    description: 'Prints detections as readable lines (time, severity, rule, actor, host) on the console.',
    platforms: ['any'],
    produces: [],
    consumes: ['detection'],
    actions: ['alert'],
    configSchema: consoleConfigSchema,
  },
  create(ctx) {
    return new ConsoleResponder(ctx);
  },
};

export { consoleConfigSchema, CONSOLE_DEFAULTS } from './config.js';
export type { ConsoleConfig, ColorMode, ConsoleStreamName } from './config.js';
export { ConsoleResponder, colorEnabled } from './responder.js';
export type { ConsoleOutput } from './responder.js';
export { formatDetection, createPalette, sanitize } from './format.js';
