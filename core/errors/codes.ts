import { defineErrorCodes } from './define.js';

/**
 * The core's error codes, with what each means and what to do. The CLI, libraries and
 * plugins declare their own beside their code (defineErrorCodes); docs/error-codes.md lists
 * every room's codes and test/core/error-codes.test.ts keeps it in step with the code.
 */
export const ERROR_CODES = defineErrorCodes({
  VIGIL_ERR_CONFIG_READ: 'The config file could not be read. Check the path and its permissions.',
  VIGIL_ERR_CONFIG_PARSE:
    'The config file is not valid YAML, or its aliases expand past the limit (an alias bomb). Fix the syntax at the line shown.',
  VIGIL_ERR_CONFIG_UNTRUSTED:
    'The config file, or a folder above it, is writable by group or others or owned by another user than root and the agent user. chown it to root or the agent user and chmod go-w it and its folders (docs/security.md).',
  VIGIL_ERR_CONFIG_INVALID:
    'The config does not match the schema. Each finding names the JSON path, what was expected and what was found.',
  VIGIL_ERR_PLUGIN_NOT_FOUND: 'A plugin named in the config is neither built in nor loadable from its path or package.',
  VIGIL_ERR_PLUGIN_LOAD: 'A plugin module failed to import. The cause is chained.',
  VIGIL_ERR_PLUGIN_MANIFEST: 'A plugin manifest is invalid. Each finding names the manifest field.',
  VIGIL_ERR_PLUGIN_API_VERSION:
    "A plugin was written for an incompatible plugin API (majors must match; the core's minor must be >= the plugin's).",
  VIGIL_ERR_PLUGIN_DUPLICATE: 'Two plugins declare the same id.',
  VIGIL_ERR_PLUGIN_EXCLUSIVE: 'Two enabled plugins claim the same exclusive resource (an ETW session, a device).',
  VIGIL_ERR_PLUGIN_CONFIG: "A plugin's config block does not match its schema.",
  VIGIL_ERR_PLUGIN_SERVICE:
    "A plugin declares a service the core does not offer, or resolves one its manifest does not declare in `services`. The message names the service.",
  VIGIL_ERR_PLUGIN_CAPABILITY:
    "A plugin's instance and its manifest disagree: a declared input has no handler (e.g. `consumes: ['detection']` without `onDetections`) or a handler has no declaration. The message names the missing half.",
  VIGIL_ERR_PLUGIN_CREATE: "A plugin's create() threw.",
  VIGIL_ERR_PLUGIN_START: "A plugin's start() failed.",
  VIGIL_ERR_PLUGIN_START_TIMEOUT: "A plugin's start() did not finish within start_timeout_seconds.",
  VIGIL_ERR_PLUGIN_STOP: "A plugin's stop() or one of its disposers failed.",
  VIGIL_ERR_PLUGIN_UNDECLARED_TYPE: 'A plugin emitted an event type it did not declare in its manifest `produces`.',
  VIGIL_ERR_PLUGIN_DETACHED: 'A plugin failed repeatedly and was detached; its input is now discarded and counted.',
  VIGIL_ERR_PLUGIN_CRASH:
    'An uncaught exception or an unhandled rejection came from a plugin (named by its stack or by the plugin call it was made in); it is handled as the plugin\'s failure (restart with backoff, then detach).',
  VIGIL_ERR_PLUGIN_EXIT: 'A plugin called process.exit; the call was refused and counted as the plugin\'s failure.',
  VIGIL_ERR_PLUGIN_FLUSH_TIMEOUT: "A responder's flush() did not finish within agent.flush_timeout_seconds; the stop went on without it.",
  VIGIL_ERR_PLUGIN_RELOAD_TIMEOUT: "An analyzer's reload() did not finish within agent.reload_timeout_seconds; the previous content stays active.",
  VIGIL_ERR_AGENT_UNCAUGHT: 'An uncaught exception or unhandled rejection named no plugin; it was logged with its stack and counted, and the agent went on.',
  VIGIL_ERR_EVENT_INVALID: 'A sensor handed over an event without a valid type or time.',
  VIGIL_ERR_WORKER_QUEUE_FULL: 'The worker pool queue is full; the task was refused and counted.',
  VIGIL_ERR_WORKER_TIMEOUT: 'A worker task exceeded its timeout and was cancelled.',
  VIGIL_ERR_WORKER_FAILED: 'A worker task threw or its worker crashed.',
  VIGIL_ERR_STATUS_UNAVAILABLE: 'No running agent answered on the status socket. Is `vigil run` running with the same config?',
  VIGIL_ERR_STATUS_LISTEN: 'The status socket or metrics endpoint could not be opened.',
  VIGIL_ERR_STATUS_SOCKET_PATH:
    'status.socket_path names something that is not a socket (a regular file, a folder, a link, a socket of another user); it was left as it is. Remove it yourself or set status.socket_path to a free path.',
  VIGIL_ERR_DATA_NOT_PRIVATE:
    'A data file or folder (data_dir, alert store, JSONL output, metrics file) is open to other users and could not be tightened to 0600 / 0700. chown it to the agent user, chmod it, or choose another path.',
  VIGIL_ERR_ERRORS_DECLARATION:
    'A room declares an error code that is not VIGIL_ERR_<AREA>_<WHAT>, has no meaning, or was already declared with another meaning (a plugin reusing a core code).',
});

/** A code of the core's own table. */
export type ErrorCode = keyof typeof ERROR_CODES;
