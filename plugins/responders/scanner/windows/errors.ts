import { defineErrorCodes } from '../../../../core/index.js';
import { scannerErrorClass } from '../errors.js';

/** Stable codes for the PE-sieve / HollowsHunter runner (listed in docs/error-codes.md). */
export const PESIEVE_ERRORS = defineErrorCodes({
  VIGIL_ERR_PESIEVE_ARGS:
    'The extra arguments configured for PE-sieve / HollowsHunter are refused: Vigil passes /pid, /quiet, /json and /dir itself, and HollowsHunter\'s /pname, /loop, /uniqd, /kill and /suspend are not allowed (Vigil scans one pid into its own folder and kills with its own identity checks). Remove the argument named in the message.',
  VIGIL_ERR_PESIEVE_REPORT_DIR:
    'The per-scan report folder for PE-sieve / HollowsHunter cannot be used: it cannot be created, or it already holds files from another scan. Check the folder named in the message and its permissions.',
});

export type PeSieveErrorCode = keyof typeof PESIEVE_ERRORS;

/** A PE-sieve runner error with a code and a message that says what to do; the cause is chained. */
export class PeSieveError extends scannerErrorClass<PeSieveErrorCode>('PeSieveError') {}
