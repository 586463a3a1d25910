import { VigilError, defineErrorCodes } from '../../../core/index.js';

/** Why the Sysmon sensor cannot read the event log (listed in docs/error-codes.md); each says what to do. */
export const SYSMON_ERRORS = defineErrorCodes({
  VIGIL_ERR_SYSMON_ACCESS_DENIED:
    'The event log refused the subscription (ERROR_ACCESS_DENIED): reading Microsoft-Windows-Sysmon/Operational needs an elevated agent. Run `vigil run` as Administrator or as the SYSTEM service.',
  VIGIL_ERR_SYSMON_CHANNEL_NOT_FOUND:
    'The channel does not exist (ERROR_EVT_CHANNEL_NOT_FOUND): Sysmon is not installed, or `channel` is misspelt. Install Sysmon (`sysmon64 -accepteula -i config.xml`) or fix the channel name.',
  VIGIL_ERR_SYSMON_WEVTAPI: 'wevtapi.dll / kernel32.dll cannot be bound (koffi not loading its win32 build, or a DLL missing an export); the reason is chained.',
  VIGIL_ERR_SYSMON_SUBSCRIBE: 'EvtSubscribe / EvtQuery failed for another reason (a bad XPath query, an unreadable .evtx in `from`); the Win32 error and the event log text are in the message.',
  VIGIL_ERR_SYSMON_READ: 'Reading events (EvtNext / EvtRender) failed, or the reader thread ended unasked; the sensor stops and is restarted by the core.',
  VIGIL_ERR_SYSMON_BOOKMARK: 'The bookmark file in the plugin data folder cannot be written: after a restart events would be repeated or lost, so the sensor stops.',
});

export type SysmonErrorCode = keyof typeof SYSMON_ERRORS;

/** A Sysmon sensor error with a code and a message that says what to do; the cause is chained. */
export class SysmonError extends VigilError {
  declare readonly code: SysmonErrorCode;

  constructor(code: SysmonErrorCode, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(code, message, options);
    this.name = 'SysmonError';
  }
}
