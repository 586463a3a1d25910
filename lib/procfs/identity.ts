/**
 * The process identity shared by every Linux source: `pid@start_time`, with the start time
 * in ms since the epoch as /proc gives it (boot time + start clock ticks). A sensor that
 * knows the start in nanoseconds since boot (eBPF's `start_boottime`) converts it to the same
 * clock ticks first, so that two sensors name one process alike.
 */
export function processGuid(pid: number, startTimeMs: number): string {
  return `${pid}@${startTimeMs}`;
}
