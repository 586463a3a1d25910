/**
 * Two kinds of "not loaded". A file or rule that is broken — unreadable, not YAML, not a
 * Sigma document, an invalid detection or condition — is a load error: the operator wrote
 * something the pack cannot mean, and it must be seen (counted as an error, logged at warn).
 * A valid rule that uses what Vigil does not support (a log source without a sensor, a
 * modifier, an aggregation) is an intended skip. The reason's `<kind>:` prefix says which.
 */

/** Reason kinds that mean the file or rule is broken. Every other kind is an intended skip. */
export const SIGMA_ERROR_KINDS: ReadonlySet<string> = new Set([
  'read-error',
  'untrusted',
  'yaml-error',
  'bad-collection',
  'bad-rule',
  'bad-detection',
  'bad-condition',
  'bad-value',
  'bad-correlation',
  'not-a-detection',
  'duplicate-id',
  'internal-error',
]);

/** The `<kind>` of a `<kind>: <detail>` reason. */
export function sigmaReasonKind(reason: string): string {
  const i = reason.indexOf(':');
  return i > 0 ? reason.slice(0, i) : reason;
}

/** True when a skip reason is a load error (broken content), false for an intended skip. */
export function isSigmaLoadError(reason: string): boolean {
  return SIGMA_ERROR_KINDS.has(sigmaReasonKind(reason));
}
