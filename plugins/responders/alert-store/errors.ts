import { VigilError, defineErrorCodes } from '../../../core/index.js';

/**
 * Stable codes for alert-store failures a user can act on (listed in docs/error-codes.md).
 * SQLite's own errors are translated into these where they enter (opening, reading the schema).
 */
export const ALERT_STORE_ERRORS = defineErrorCodes({
  VIGIL_ERR_ALERTS_NO_DB: 'The alert store database does not exist yet. Has the agent run with the alert-store plugin? Use --db or --config.',
  VIGIL_ERR_ALERTS_OPEN: 'The alert store database could not be opened (permissions, lock, not an SQLite file).',
  VIGIL_ERR_ALERTS_SCHEMA: 'The database is not a Vigil alert store, or was written by a newer Vigil.',
  VIGIL_ERR_ALERTS_BAD_OPTION: 'An option of `vigil alerts` has a wrong value (--since, --severity, --limit).',
});

export type AlertStoreErrorCode = keyof typeof ALERT_STORE_ERRORS;

/** An alert-store error with a code and a message that says what to do; the cause is chained. */
export class AlertStoreError extends VigilError {
  declare readonly code: AlertStoreErrorCode;

  constructor(code: AlertStoreErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, options);
    this.name = 'AlertStoreError';
  }
}

/** A short kind for counters: the error's code, or its class name. */
export { errorKind } from '../../../core/index.js';
