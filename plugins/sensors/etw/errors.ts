import { VigilError, defineErrorCodes } from '../../../core/index.js';

/** Why the ETW sensor could not start or went on (listed in docs/error-codes.md); each says what to do. */
export const ETW_ERRORS = defineErrorCodes({
  VIGIL_ERR_ETW_PLATFORM: 'The ETW sensor runs on Windows only.',
  VIGIL_ERR_ETW_BIND: 'advapi32.dll / tdh.dll (or koffi) could not be loaded; the reason is in the message.',
  VIGIL_ERR_ETW_ACCESS_DENIED:
    'Starting an ETW trace session needs an elevated agent (Administrator, or a member of Performance Log Users): run `vigil run` from an elevated prompt or as a service under LocalSystem.',
  VIGIL_ERR_ETW_SESSION_IN_USE:
    'The ETW session name is in use by another trace session that could not be stopped (another agent, or a tool started with the same name): stop it (`logman stop NAME -ets`) or configure another session_name.',
  VIGIL_ERR_ETW_START:
    'StartTraceW failed (the Win32 error is in the message; 1450 means all 64 system-wide sessions are in use: `logman query -ets` lists them).',
  VIGIL_ERR_ETW_ENABLE: 'EnableTraceEx2 refused a configured provider (the GUID and Win32 error are in the message).',
  VIGIL_ERR_ETW_OPEN: 'OpenTraceW could not open the real-time session for consuming (the Win32 error is in the message).',
  VIGIL_ERR_ETW_PROCESS: 'ProcessTrace ended or the trace thread failed while the sensor ran; the sensor stops and is restarted by the core.',
  VIGIL_ERR_ETW_CONFIG: 'A value of the etw sensor config is invalid (a provider GUID, keywords as hex, the session name); the value is in the message.',
});

export type EtwErrorCode = keyof typeof ETW_ERRORS;

/** An ETW sensor error with a code and a message that says what to do; the cause is chained. */
export class EtwError extends VigilError {
  declare readonly code: EtwErrorCode;

  constructor(code: EtwErrorCode, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(code, message, options);
    this.name = 'EtwError';
  }
}
