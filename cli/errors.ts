import { defineErrorCodes } from '../core/errors/index.js';

/** The `vigil` command's own error codes (listed in docs/error-codes.md). */
export const CLI_ERRORS = defineErrorCodes({
  VIGIL_ERR_CLI_USAGE: 'The command line is wrong. See --help.',
  VIGIL_ERR_REPLAY_NO_SENSOR: 'No replay sensor is available to read the given paths.',
  VIGIL_ERR_REPLAY_INPUT: 'A replay path does not exist or cannot be read.',
});
