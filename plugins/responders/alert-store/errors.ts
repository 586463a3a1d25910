import { VigilError } from '../../../core/index.js';
/** Stable codes for alert-store failures a user can act on. */
export type AlertStoreErrorCode =
  | 'VIGIL_ERR_ALERTS_NO_DB'
  | 'VIGIL_ERR_ALERTS_OPEN'
  | 'VIGIL_ERR_ALERTS_SCHEMA'
  | 'VIGIL_ERR_ALERTS_BAD_OPTION';

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
