import { execFile } from 'node:child_process';

/** USER_HZ on every mainstream architecture: the unit of /proc/<pid>/stat's start time. */
export const DEFAULT_CLOCK_TICKS = 100;

/** `getconf CLK_TCK`, once; undefined when it cannot be read (the caller falls back to 100). */
export function readClockTicks(signal: AbortSignal): Promise<number | undefined> {
  return new Promise((resolve) => {
    execFile('getconf', ['CLK_TCK'], { timeout: 2000, signal }, (err, stdout) => {
      if (err) {
        resolve(undefined);
        return;
      }
      const v = Number(stdout.trim());
      resolve(Number.isSafeInteger(v) && v > 0 ? v : undefined);
    });
  });
}
