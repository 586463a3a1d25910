import { VigilError, defineErrorCodes } from '../../../core/index.js';

/** Why the driver-enforce responder could not start (listed in docs/error-codes.md). */
export const DRIVER_ENFORCE_ERRORS = defineErrorCodes({
  VIGIL_ERR_DRIVER_ENFORCE_PLATFORM: 'The driver-enforce responder runs on Windows only.',
});

export type DriverEnforceErrorCode = keyof typeof DRIVER_ENFORCE_ERRORS;

export class DriverEnforceError extends VigilError {
  declare readonly code: DriverEnforceErrorCode;

  constructor(code: DriverEnforceErrorCode, message: string) {
    super(code, message);
    this.name = 'DriverEnforceError';
  }
}
