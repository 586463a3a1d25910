import { VigilError, defineErrorCodes } from '../../../core/index.js';

/** Stable codes for process-actions failures a user can act on (listed in docs/error-codes.md). */
export const PROCESS_ACTIONS_ERRORS = defineErrorCodes({
  VIGIL_ERR_PROCACT_PIDFD:
    'pidfd_open / pidfd_send_signal cannot be used: an architecture without known syscall numbers, a kernel older than 5.3, or koffi not loading. Process actions stay off; the reason is chained.',
  VIGIL_ERR_PROCACT_WINAPI:
    'kernel32 / ntdll process calls cannot be bound (koffi not loading its win32 build, or a DLL missing an export). Process actions stay off on Windows; the reason is chained.',
  VIGIL_ERR_PROCACT_PROCFS: 'procfs cannot date process starts (/proc/stat has no btime line): process identities cannot be checked, so no action is taken.',
});

export type ProcessActionsErrorCode = keyof typeof PROCESS_ACTIONS_ERRORS;

/** A process-actions error with a code and a message that says what to do; the cause is chained. */
export class ProcessActionsError extends VigilError {
  declare readonly code: ProcessActionsErrorCode;

  constructor(code: ProcessActionsErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, options);
    this.name = 'ProcessActionsError';
  }
}

export { errorKind } from '../../../core/index.js';
