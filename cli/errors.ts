import { defineErrorCodes } from '../core/errors/index.js';

/** The `vigil` command's own error codes (listed in docs/error-codes.md). */
export const CLI_ERRORS = defineErrorCodes({
  VIGIL_ERR_CLI_USAGE: 'The command line is wrong. See --help.',
  VIGIL_ERR_REPLAY_NO_SENSOR: 'No replay sensor is available to read the given paths.',
  VIGIL_ERR_REPLAY_INPUT: 'A replay path does not exist or cannot be read.',
  VIGIL_ERR_WATCHDOG_RESTART:
    'The watchdog restarted the agent process: it stopped beating for agent.watchdog_stall_seconds (stall), grew past agent.watchdog_max_rss_mb (memory) or exited without being asked (exit). The log line names the plugin and method that held the event loop when known; the next agent process raises it as a health detection and shows it in `vigil status`.',
  VIGIL_ERR_WATCHDOG_DISABLED:
    'A plugin was named as the culprit of agent.watchdog_disable_after restarts; the watchdog disables it from the next start (`vigil status` lists it as skipped, with the reason). Fix or remove the plugin, then restart vigil.',
  VIGIL_ERR_WATCHDOG_GAVE_UP:
    'The agent needed more than agent.watchdog_max_restarts restarts within agent.watchdog_restart_window_seconds; the watchdog exits 1 so that the service manager notices.',
});
