/**
 * Durations as written in rules: a number of milliseconds, or Sigma's `<n><unit>` text
 * (`500ms`, `30s`, `10m`, `2h`, `1d`). Lower-case units only, as the Sigma spec requires.
 */
const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds for a duration, or an error message saying what was expected. */
export function parseDuration(v: unknown): number | string {
  if (typeof v === 'number') {
    return Number.isFinite(v) && v > 0 ? v : `expected a positive number of milliseconds, found ${String(v)}`;
  }
  if (typeof v !== 'string') return `expected a duration such as "60s" or a number of milliseconds, found ${typeof v}`;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(v.trim());
  if (!m) return `expected a duration such as "500ms", "60s", "10m", "2h" or "1d", found "${v}"`;
  const n = Number(m[1]) * (UNIT_MS[m[2] ?? ''] ?? Number.NaN);
  return n > 0 ? n : `duration "${v}" must be greater than zero`;
}
