import type { ResponderPlugin } from '../../../core/index.js';
import type { ConsoleConfig } from './config.js';
import { manifest } from './manifest.js';
import { ConsoleResponder } from './responder.js';

/** Prints each detection as a short, readable block on stdout or stderr. */
export const plugin: ResponderPlugin<ConsoleConfig> = {
  manifest,
  create(ctx) {
    return new ConsoleResponder(ctx);
  },
};

export { consoleConfigSchema, CONSOLE_DEFAULTS } from './config.js';
export { manifest } from './manifest.js';
export type { ConsoleConfig, ColorMode, ConsoleStreamName } from './config.js';
export { ConsoleResponder, colorEnabled } from './responder.js';
export type { ConsoleOutput } from './responder.js';
export { formatDetection, createPalette, sanitize } from './format.js';
