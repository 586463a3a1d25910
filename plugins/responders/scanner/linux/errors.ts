import { defineErrorCodes } from '../../../../core/index.js';
import { scannerErrorClass } from '../errors.js';

/**
 * Why the Linux memory-region scanner could not do its work (listed in docs/error-codes.md).
 * A problem of the target (it exited, it may not be read) is never an error: it is a
 * `verdict: 'error'` ScanInfo with a reason. These codes are the scanner's own problems.
 */
export const MEMSCAN_ERRORS = defineErrorCodes({
  VIGIL_ERR_MEMSCAN_OPTIONS:
    'An option of the Linux memory scanner is out of range (pid a positive integer; maxRegionBytes, maxTotalBytes and maxCompareBytes positive integers; jitAllow a list of names). Fix the scanner config.',
  VIGIL_ERR_MEMSCAN_MAPS:
    'A line of /proc/<pid>/maps could not be parsed (the line number and text are in the message). The scan answers verdict error rather than guess at the regions.',
  VIGIL_ERR_MEMSCAN_READ:
    'Reading /proc/<pid>/maps, /proc/<pid>/mem or a mapped file failed with an unexpected error (not ENOENT, ESRCH, EACCES, EPERM or EIO); the errno is chained. The scan answers verdict error.',
  VIGIL_ERR_MEMSCAN_YARA:
    'The YARA engine failed on a region\'s bytes; the engine and the region are in the message. The scan answers verdict error (it cannot say clean), keeping the regions it flagged.',
});

export type MemscanErrorCode = keyof typeof MEMSCAN_ERRORS;

/** A memory-scanner error with a code and a message that says what to do; the cause is chained. */
export class MemscanError extends scannerErrorClass<MemscanErrorCode>('MemscanError') {}
