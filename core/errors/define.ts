/**
 * Every room that raises errors (the core, the CLI, each library and plugin) declares its
 * own codes with `defineErrorCodes`, beside its code. The declarations meet in one registry
 * so that `VigilError.hint` can say what any code means, and so that two rooms cannot give
 * one code two meanings.
 */

/** The shape of every error code: `VIGIL_ERR_<AREA>_<WHAT>`. */
export type VigilErrorCode = `VIGIL_ERR_${string}`;

/** A room's codes, each with what it means and what to do. */
export type ErrorCodeTable = Readonly<Record<VigilErrorCode, string>>;

const CODE_PATTERN = /^VIGIL_ERR_[A-Z][A-Z0-9]*_[A-Z0-9]+(?:_[A-Z0-9]+)*$/;
const meanings = new Map<string, string>();

/** The code of the Error thrown for a declaration that breaks the rules (in the core's table). */
export const BAD_DECLARATION = 'VIGIL_ERR_ERRORS_DECLARATION';

/** The problem with one declared code, or undefined when it may be declared. */
export function errorCodeProblem(code: string, meaning: unknown): string | undefined {
  if (!CODE_PATTERN.test(code)) return `error code ${code} is not VIGIL_ERR_<AREA>_<WHAT> (capitals, digits and underscores)`;
  if (typeof meaning !== 'string' || meaning.trim() === '') return `error code ${code} has no meaning (say what it means and what to do)`;
  const known = meanings.get(code);
  if (known !== undefined && known !== meaning) return `error code ${code} is already declared with another meaning: "${known}"`;
  return undefined;
}

/**
 * Declare a room's error codes: `{ VIGIL_ERR_<AREA>_<WHAT>: 'what it means and what to do' }`.
 * Returns the table frozen. A malformed code, an empty meaning or a code another room
 * declared with a different meaning throws (an Error with code VIGIL_ERR_ERRORS_DECLARATION),
 * so a plugin that collides with the core fails when it is imported.
 */
export function defineErrorCodes<const T extends ErrorCodeTable>(codes: T): Readonly<T> {
  const entries = Object.entries(codes);
  const problems = entries.map(([code, meaning]) => errorCodeProblem(code, meaning)).filter((p): p is string => p !== undefined);
  if (problems.length > 0) {
    throw Object.assign(new Error(`${BAD_DECLARATION}: ${problems.join('; ')}`), { code: BAD_DECLARATION });
  }
  for (const [code, meaning] of entries) meanings.set(code, meaning);
  return Object.freeze({ ...codes });
}

/** What a declared code means ('' for a code no loaded room declares). */
export function errorCodeMeaning(code: string): string {
  return meanings.get(code) ?? '';
}
