import type { ResponderPlugin } from '../../../core/index.js';
import type { ProcessActionsConfig } from './config.js';
import { manifest } from './manifest.js';
import { ProcessActionsResponder, type ProcessActionsOptions } from './responder.js';

/** Build the responder with non-config options (a pidfd implementation, another /proc); `create` does no I/O. */
export function processActionsPlugin(options: ProcessActionsOptions = {}): ResponderPlugin<ProcessActionsConfig> {
  return {
    manifest,
    create(ctx) {
      return new ProcessActionsResponder(ctx, options);
    },
  };
}

/** Kill, kill_tree, suspend and resume on Linux through pidfds, with the identity re-checked. */
export const plugin: ResponderPlugin<ProcessActionsConfig> = processActionsPlugin();

export { manifest, PROCESS_ACTIONS } from './manifest.js';
export { processActionsConfigSchema, type ProcessActionsConfig } from './config.js';
export { ProcessActions, expectedStart, errnoName, type ActionEnv, type Outcome } from './actions.js';
export { ProcessActionsResponder, type ProcessActionsOptions } from './responder.js';
export { PROCESS_ACTIONS_ERRORS, ProcessActionsError } from './errors.js';
