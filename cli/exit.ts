import { describeError, isVigilError } from '../core/errors/index.js';

/** Exit codes (documented in docs/cli.md): 0 ok, 1 runtime failure, 2 usage or config error. */
export const EXIT = { OK: 0, FAILURE: 1, USAGE: 2 } as const;

const CONFIG_ERRORS = new Set<string>([
  'VIGIL_ERR_CONFIG_READ',
  'VIGIL_ERR_CONFIG_PARSE',
  'VIGIL_ERR_CONFIG_UNTRUSTED',
  'VIGIL_ERR_CONFIG_INVALID',
  'VIGIL_ERR_PLUGIN_NOT_FOUND',
  'VIGIL_ERR_PLUGIN_MANIFEST',
  'VIGIL_ERR_PLUGIN_API_VERSION',
  'VIGIL_ERR_PLUGIN_DUPLICATE',
  'VIGIL_ERR_PLUGIN_EXCLUSIVE',
  'VIGIL_ERR_PLUGIN_CONFIG',
  'VIGIL_ERR_PLUGIN_LOAD',
  'VIGIL_ERR_PLUGIN_SERVICE',
  'VIGIL_ERR_PLUGIN_CAPABILITY',
  'VIGIL_ERR_CLI_USAGE',
  'VIGIL_ERR_REPLAY_INPUT',
  'VIGIL_ERR_REPLAY_NO_SENSOR',
]);

/** The exit code an error deserves: 2 for usage and config errors, else 1. */
export function exitCodeOf(err: unknown): number {
  return isVigilError(err) && CONFIG_ERRORS.has(err.code) ? EXIT.USAGE : EXIT.FAILURE;
}

/** Print an error for an operator and return the exit code it deserves. */
export function reportError(err: unknown): number {
  if (isVigilError(err)) {
    process.stderr.write(`vigil: ${err.code}: ${describeError(err).replace(/^VIGIL_ERR_[A-Z_]+: /, '')}\n`);
  } else {
    process.stderr.write(`vigil: ${describeError(err)}\n`);
  }
  return exitCodeOf(err);
}
