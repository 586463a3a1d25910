import { VigilError, defineErrorCodes } from '../../core/index.js';
import type { YaraEngineName } from './types.js';

/** lib/yara's codes (listed in docs/error-codes.md). */
export const YARA_ERRORS = defineErrorCodes({
  VIGIL_ERR_YARA_COMPILE: 'A YARA rule set does not compile with an engine; the message names the engine, the file and the line or reason.',
  VIGIL_ERR_YARA_ENGINE_UNAVAILABLE: 'The YARA engine asked for does not load on this platform (its native or wasm package is missing or fails to load).',
  VIGIL_ERR_YARA_READ: 'A YARA rule file or folder could not be read.',
  VIGIL_ERR_YARA_SCAN: 'A YARA engine failed while scanning a buffer (engine error, buffer too large for the engine).',
  VIGIL_ERR_YARA_SETTING: 'The YARA engine setting names no known engine.',
});

export type YaraErrorCode = keyof typeof YARA_ERRORS;

export class YaraError extends VigilError {
  declare readonly code: YaraErrorCode;
  readonly engine: YaraEngineName | undefined;

  constructor(code: YaraErrorCode, message: string, options: { engine?: YaraEngineName; cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(code, message, {
      ...(options.cause === undefined ? {} : { cause: options.cause }),
      details: { ...(options.engine === undefined ? {} : { engine: options.engine }), ...(options.details ?? {}) },
    });
    this.name = 'YaraError';
    this.engine = options.engine;
  }
}
