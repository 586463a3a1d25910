import { VigilError, defineErrorCodes, type VigilErrorCode } from '../../../core/index.js';

/** Stable codes for scanner failures a user can act on (listed in docs/error-codes.md). */
export const SCANNER_ERRORS = defineErrorCodes({
  VIGIL_ERR_SCANNER_RULES:
    'The YARA rule set cannot be used: a rule path is unreadable, or a configured engine refuses to compile it (the engine, file and reason are named). Fix the rules or the engine list (yara.engine, yara.check_engines).',
  VIGIL_ERR_SCANNER_ENGINE: 'No configured YARA engine loads on this machine (the reason per engine is named): install @litko/yara-x for this platform or use libyara-wasm.',
  VIGIL_ERR_SCANNER_TARGET: 'The scan target cannot be scanned: no such process, no identity, or a file that cannot be read.',
});

export type ScannerErrorCode = keyof typeof SCANNER_ERRORS;

/**
 * The base of each of this plugin's error classes (the scanner's, the Linux memory scanner's,
 * the PE-sieve runner's): a VigilError whose code is one of `C` and whose name is `name`.
 */
export function scannerErrorClass<C extends VigilErrorCode>(name: string) {
  return class extends VigilError {
    declare readonly code: C;

    constructor(code: C, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
      super(code, message, options);
      this.name = name;
    }
  };
}

/** A scanner error with a code and a message that says what to do; the cause is chained. */
export class ScannerError extends scannerErrorClass<ScannerErrorCode>('ScannerError') {}

export { errorKind } from '../../../core/index.js';
