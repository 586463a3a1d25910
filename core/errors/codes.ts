/**
 * Every error code Vigil raises, with what it means and what to do. docs/error-codes.md is
 * kept in step with this table by a test (test/error-codes.test.ts).
 */
export const ERROR_CODES = {
  VIGIL_ERR_CONFIG_READ: 'The config file could not be read. Check the path and its permissions.',
  VIGIL_ERR_CONFIG_PARSE:
    'The config file is not valid YAML, or its aliases expand past the limit (an alias bomb). Fix the syntax at the line shown.',
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
  VIGIL_ERR_PLUGIN_CREATE: "A plugin's create() threw.",
  VIGIL_ERR_PLUGIN_START: "A plugin's start() failed.",
  VIGIL_ERR_PLUGIN_START_TIMEOUT: "A plugin's start() did not finish within start_timeout_seconds.",
  VIGIL_ERR_PLUGIN_STOP: "A plugin's stop() or one of its disposers failed.",
  VIGIL_ERR_PLUGIN_UNDECLARED_TYPE: 'A plugin emitted an event type it did not declare in its manifest `produces`.',
  VIGIL_ERR_PLUGIN_DETACHED: 'A plugin failed repeatedly and was detached; its input is now discarded and counted.',
  VIGIL_ERR_EVENT_INVALID: 'A sensor handed over an event without a valid type or time.',
  VIGIL_ERR_WORKER_QUEUE_FULL: 'The worker pool queue is full; the task was refused and counted.',
  VIGIL_ERR_WORKER_TIMEOUT: 'A worker task exceeded its timeout and was cancelled.',
  VIGIL_ERR_WORKER_FAILED: 'A worker task threw or its worker crashed.',
  VIGIL_ERR_STATUS_UNAVAILABLE: 'No running agent answered on the status socket. Is `vigil run` running with the same config?',
  VIGIL_ERR_STATUS_LISTEN: 'The status socket or metrics endpoint could not be opened.',
  VIGIL_ERR_REPLAY_NO_SENSOR: 'No replay sensor is available to read the given paths.',
  VIGIL_ERR_REPLAY_INPUT: 'A replay path does not exist or cannot be read.',
  VIGIL_ERR_USAGE: 'The command line is wrong. See --help.',
  VIGIL_ERR_EVTX_NOT_EVTX: 'The file is not an EVTX event log (no "ElfFile" signature) or is empty.',
  VIGIL_ERR_EVTX_TRUNCATED: 'The EVTX file ends inside its header; nothing can be read from it.',
  VIGIL_ERR_EVTX_IO: 'The EVTX file could not be opened or read.',
  VIGIL_ERR_ALERTS_NO_DB: 'The alert store database does not exist yet. Has the agent run with the alert-store plugin? Use --db or --config.',
  VIGIL_ERR_ALERTS_OPEN: 'The alert store database could not be opened (permissions, lock, not an SQLite file).',
  VIGIL_ERR_ALERTS_SCHEMA: 'The database is not a Vigil alert store, or was written by a newer Vigil.',
  VIGIL_ERR_ALERTS_BAD_OPTION: 'An option of `vigil alerts` has a wrong value (--since, --severity, --limit).',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;
