import type { ResponderPlugin } from '../../../core/index.js';
import type { ProcessActionsConfig } from './config.js';
import { manifest } from './manifest.js';
import { ProcessActionsResponder, type ProcessActionsOptions } from './responder.js';

/** Build the responder with non-config options (a pidfd or Windows implementation, another /proc); `create` does no I/O. */
export function processActionsPlugin(options: ProcessActionsOptions = {}): ResponderPlugin<ProcessActionsConfig> {
  return {
    manifest,
    create(ctx) {
      return new ProcessActionsResponder(ctx, options);
    },
  };
}

/** Kill, kill_tree, suspend and resume on Linux through pidfds and on Windows through a checked handle, with the identity re-checked. */
export const plugin: ResponderPlugin<ProcessActionsConfig> = processActionsPlugin();

export { manifest, PROCESS_ACTIONS } from './manifest.js';
export { processActionsConfigSchema, type ProcessActionsConfig } from './config.js';
export { expectedStart, type Outcome, type ProcessActionBackend } from './actions.js';
export { ProcessActions, errnoName, type ActionEnv } from './linux.js';
export { WindowsProcessActions, windowsLineage, normalizeImage, CRITICAL_IMAGES, KILL_EXIT_CODE, type WindowsActionEnv } from './windows.js';
export { ProcessActionsResponder, type ProcessActionsOptions } from './responder.js';
export { PROCESS_ACTIONS_ERRORS, ProcessActionsError } from './errors.js';
