import { VigilError, defineErrorCodes } from '../../../core/index.js';

/** Why the driver sensor could not start or stopped (listed in docs/error-codes.md). */
export const DRIVER_ERRORS = defineErrorCodes({
  VIGIL_ERR_DRIVER_PLATFORM: 'The driver sensor runs on Windows only.',
  VIGIL_ERR_DRIVER_OPEN:
    "The driver's device could not be opened: the driver is not loaded (sc start VigilDrv), the agent is not elevated, or another client holds it (one at a time).",
  VIGIL_ERR_DRIVER_PROTOCOL: "The driver speaks another major protocol version than the agent: install the driver of the agent's release.",
  VIGIL_ERR_DRIVER_POLICY: 'The driver refused the protection policy (the error is in the message).',
  VIGIL_ERR_DRIVER_READ: 'A read from the driver failed (other than a cancellation); the sensor stops and is restarted by the core.',
});

export type DriverErrorCode = keyof typeof DRIVER_ERRORS;

export class DriverSensorError extends VigilError {
  declare readonly code: DriverErrorCode;

  constructor(code: DriverErrorCode, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(code, message, options);
    this.name = 'DriverSensorError';
  }
}
