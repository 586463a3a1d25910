/**
 * Sigma string values: `*` (any run) and `?` (one character) are wildcards; a backslash
 * escapes `*`, `?` and itself; before any other character a backslash is literal (so
 * Windows paths need no doubling). This is how the reference implementation reads values.
 */
import { escapeRegex } from './condition-parser.js';

export type Wildcard = { readonly wild: '*' | '?' };
export type Part = string | Wildcard;

export const STAR: Wildcard = Object.freeze({ wild: '*' });
export const QMARK: Wildcard = Object.freeze({ wild: '?' });

/** A value as a list of literal runs and wildcards (adjacent literals merged). */
export type SigmaString = readonly Part[];

function push(parts: Part[], p: Part): void {
  const last = parts[parts.length - 1];
  if (typeof p === 'string') {
    if (p === '') return;
    if (typeof last === 'string') parts[parts.length - 1] = last + p;
    else parts.push(p);
  } else {
    parts.push(p);
  }
}

export function parseSigmaString(s: string): Part[] {
  const parts: Part[] = [];
  let acc = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\') {
      const n = s[i + 1];
      if (n === '*' || n === '?' || n === '\\') {
        acc += n;
        i++;
      } else {
        acc += c;
      }
    } else if (c === '*' || c === '?') {
      push(parts, acc);
      acc = '';
      push(parts, c === '*' ? STAR : QMARK);
    } else {
      acc += c;
    }
  }
  push(parts, acc);
  return parts;
}

/** A literal value with no wildcards. */
export function literal(s: string): Part[] {
  return s === '' ? [] : [s];
}

export function concat(...lists: SigmaString[]): Part[] {
  const out: Part[] = [];
  for (const l of lists) for (const p of l) push(out, p);
  return out;
}

export function hasWildcards(v: SigmaString): boolean {
  return v.some((p) => typeof p !== 'string');
}

export function plainText(v: SigmaString): string {
  return v.map((p) => (typeof p === 'string' ? p : p.wild)).join('');
}

/** How a (possibly wildcarded) value is best matched by a native operator. */
export type ValueMatch =
  | { op: 'equals' | 'contains' | 'startswith' | 'endswith' | 'glob'; value: string }
  | { op: 'regex'; value: string }
  | { op: 'any' };

/**
 * Pick the cheapest operator that expresses the value exactly: a leading and/or trailing `*`
 * around a literal becomes endswith / startswith / contains; other shapes need a glob, or a
 * regex when a literal itself holds `*` or `?` (the glob syntax has no escape).
 */
export function classifyValue(v: SigmaString): ValueMatch {
  let start = 0;
  let end = v.length;
  while (start < end && v[start] === STAR) start++;
  while (end > start && v[end - 1] === STAR) end--;
  const lead = start > 0;
  const trail = end < v.length;
  const core = v.slice(start, end);
  if (core.length === 0) return lead || trail ? { op: 'any' } : { op: 'equals', value: '' };
  if (core.length === 1 && typeof core[0] === 'string') {
    const text = core[0];
    if (lead && trail) return { op: 'contains', value: text };
    if (lead) return { op: 'endswith', value: text };
    if (trail) return { op: 'startswith', value: text };
    return { op: 'equals', value: text };
  }
  const literalHasGlobChars = v.some((p) => typeof p === 'string' && /[*?]/.test(p));
  if (!literalHasGlobChars) return { op: 'glob', value: plainText(v) };
  return { op: 'regex', value: toAnchoredRegex(v) };
}

/** Whole-value regex for a wildcarded value (used with the `s` flag so `*` spans newlines). */
export function toAnchoredRegex(v: SigmaString): string {
  return '^' + v.map((p) => (typeof p === 'string' ? escapeRegex(p) : p.wild === '*' ? '.*' : '.')).join('') + '$';
}
