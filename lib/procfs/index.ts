/**
 * The /proc file system as Linux sensors read it: parsers for its text formats, uid → user
 * names, clock ticks, the process identity every Linux source shares (`pid@start_time`, the
 * start time in ms since the epoch derived from /proc's clock ticks), and a one-shot walk of
 * the running processes.
 */
export {
  parseStat,
  parseBootTime,
  parseStatusUids,
  exitStatusRaw,
  parseCmdline,
  parsePasswd,
  ticksToEpochMs,
  ProcParseError,
  PF_KTHREAD,
  type ProcStat,
} from './parse.js';
export { UserNames } from './user-names.js';
export { DEFAULT_CLOCK_TICKS, readClockTicks } from './clock-ticks.js';
export { processGuid } from './identity.js';
export { walkProcesses, type ProcSnapshotEntry } from './walk.js';
export { readProcessClock, loadUserNames, type ProcessClock } from './process-clock.js';
