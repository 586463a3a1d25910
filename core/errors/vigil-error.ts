// Loaded for its side effect: the core's codes are declared before any error asks for a hint.
import './codes.js';
import { errorCodeMeaning, type VigilErrorCode } from './define.js';

/**
 * An error with a stable code, a message that says what to do, and the cause chained.
 * The code is one of the core's (ERROR_CODES) or one a room declared with defineErrorCodes.
 */
export class VigilError extends Error {
  readonly code: VigilErrorCode;
  /** Structured context (file, JSON path, plugin id …) for logs and status. */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: VigilErrorCode, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'VigilError';
    this.code = code;
    this.details = options.details ?? {};
  }

  /** What the code means in general (from its room's declaration; '' if none is loaded). */
  get hint(): string {
    return errorCodeMeaning(this.code);
  }
}

export function isVigilError(err: unknown): err is VigilError {
  return err instanceof VigilError;
}

/** A short kind for counters: the Vigil code, or the error's class name. */
export function errorKind(err: unknown): string {
  if (err instanceof VigilError) return err.code;
  if (err instanceof Error) return (err as { code?: unknown }).code ? String((err as { code?: unknown }).code) : err.name;
  return typeof err;
}

/** Message with the cause chain, one line per cause. */
export function describeError(err: unknown): string {
  const parts: string[] = [];
  let cur: unknown = err;
  for (let depth = 0; cur !== undefined && depth < 8; depth++) {
    if (cur instanceof VigilError) parts.push(`${cur.code}: ${cur.message}`);
    else if (cur instanceof Error) parts.push(cur.message);
    else parts.push(String(cur));
    cur = cur instanceof Error ? cur.cause : undefined;
  }
  return parts.join('\n  caused by: ');
}
