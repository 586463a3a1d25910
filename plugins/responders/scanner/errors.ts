import { VigilError, defineErrorCodes } from '../../../core/index.js';

/** Stable codes for scanner failures a user can act on (listed in docs/error-codes.md). */
export const SCANNER_ERRORS = defineErrorCodes({
  VIGIL_ERR_SCANNER_RULES:
    'The YARA rule set cannot be used: a rule path is unreadable, or a configured engine refuses to compile it (the engine, file and reason are named). Fix the rules or the engine list (yara.engine, yara.check_engines).',
  VIGIL_ERR_SCANNER_ENGINE: 'No configured YARA engine loads on this machine (the reason per engine is named): install @litko/yara-x for this platform or use libyara-wasm.',
  VIGIL_ERR_SCANNER_TARGET: 'The scan target cannot be scanned: no such process, no identity, or a file that cannot be read.',
});

export type ScannerErrorCode = keyof typeof SCANNER_ERRORS;

/** A scanner error with a code and a message that says what to do; the cause is chained. */
export class ScannerError extends VigilError {
  declare readonly code: ScannerErrorCode;

  constructor(code: ScannerErrorCode, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(code, message, options);
    this.name = 'ScannerError';
  }
}

export { errorKind } from '../../../core/index.js';
