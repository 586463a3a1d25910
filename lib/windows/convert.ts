/**
 * Value converters for the field kinds of field-map.ts. They run once per mapped field per
 * event, so they avoid regular expressions and return `undefined` (never throw) for values
 * they cannot read; the caller then leaves the value in `raw` only.
 *
 * Inputs may be strings (rendered XML, evtxexport-style EVTX parsers, JSON) or already
 * typed values (numbers, booleans, bigints from typed parsers or JSON).
 */
import type { Hashes } from '../../core/index.js';
import type { FieldKind } from './field-map.js';

export type Converter = (value: unknown) => unknown;

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);

function fromBigInt(v: bigint): number | undefined {
  return v <= MAX_SAFE && v >= MIN_SAFE ? Number(v) : undefined;
}

/** Parse an unsigned hex digit string (without prefix); undefined on any non-hex character. */
function parseHexDigits(s: string, start: number): number | undefined {
  if (start >= s.length) return undefined;
  let n = 0;
  for (let i = start; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let d: number;
    if (c >= 48 && c <= 57) d = c - 48;
    else if (c >= 97 && c <= 102) d = c - 87;
    else if (c >= 65 && c <= 70) d = c - 55;
    else return undefined;
    n = n * 16 + d;
  }
  return n <= Number.MAX_SAFE_INTEGER ? n : undefined;
}

/** Parse an optionally signed decimal integer string; undefined on anything else. */
function parseDecimal(s: string): number | undefined {
  let i = 0;
  let neg = false;
  if (s.charCodeAt(0) === 45 /* - */) {
    neg = true;
    i = 1;
  }
  if (i >= s.length) return undefined;
  let n = 0;
  for (; i < s.length; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return undefined;
    n = n * 10 + d;
  }
  if (n > Number.MAX_SAFE_INTEGER) return undefined;
  return neg ? -n : n;
}

function isHexPrefixed(s: string): boolean {
  return s.length > 2 && s.charCodeAt(0) === 48 && (s.charCodeAt(1) === 120 || s.charCodeAt(1) === 88);
}

/** `int`: a decimal integer (a `0x…` string is read as hex, as Windows sometimes renders ids). */
export function toInt(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) ? value : undefined;
  if (typeof value === 'string') {
    const s = value.length > 0 && (value.charCodeAt(0) === 32 || value.charCodeAt(value.length - 1) === 32) ? value.trim() : value;
    return isHexPrefixed(s) ? parseHexDigits(s, 2) : parseDecimal(s);
  }
  if (typeof value === 'bigint') return fromBigInt(value);
  return undefined;
}

/** `hex`: a `0x…` hex string (Sysmon GrantedAccess, Security NewProcessId) or a decimal. */
export function toHex(value: unknown): number | undefined {
  return toInt(value);
}

/** `bool`: true/false in any case, 1/0, or a boolean. */
export function toBool(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') {
    switch (value.length) {
      case 4:
        return value.toLowerCase() === 'true' ? true : undefined;
      case 5:
        return value.toLowerCase() === 'false' ? false : undefined;
      case 1:
        return value === '1' ? true : value === '0' ? false : undefined;
      default:
        return undefined;
    }
  }
  if (typeof value === 'number') return value === 1 ? true : value === 0 ? false : undefined;
  return undefined;
}

function digits2(s: string, i: number): number {
  const a = s.charCodeAt(i) - 48;
  const b = s.charCodeAt(i + 1) - 48;
  if (a < 0 || a > 9 || b < 0 || b > 9) return -1;
  return a * 10 + b;
}

/**
 * UTC `YYYY-MM-DD hh:mm:ss[.fffffff]` (Sysmon UtcTime) or ISO `YYYY-MM-DDThh:mm:ss[.f…]Z`
 * (System TimeCreated) → ms since the epoch, fractions of a ms kept to the microsecond.
 * Anything else (time zone offsets, other layouts) falls back to Date.parse.
 */
export function parseUtcTime(s: string): number | undefined {
  if (s.length < 19) return undefined;
  const y1 = digits2(s, 0);
  const y2 = digits2(s, 2);
  const mo = digits2(s, 5);
  const d = digits2(s, 8);
  const h = digits2(s, 11);
  const mi = digits2(s, 14);
  const se = digits2(s, 17);
  const sep = s.charCodeAt(10);
  if (
    y1 < 0 || y2 < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 ||
    se < 0 || se > 60 || s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || (sep !== 32 && sep !== 84) ||
    s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58
  ) {
    return undefined;
  }
  let i = 19;
  let frac = 0;
  if (i < s.length && s.charCodeAt(i) === 46 /* . */) {
    i++;
    let scale = 100;
    const start = i;
    for (; i < s.length; i++) {
      const c = s.charCodeAt(i) - 48;
      if (c < 0 || c > 9) break;
      frac += c * scale;
      scale /= 10;
    }
    if (i === start) return undefined;
  }
  if (i < s.length) {
    const rest = s.length - i;
    if (!(rest === 1 && s.charCodeAt(i) === 90 /* Z */)) {
      const t = Date.parse(s);
      return Number.isFinite(t) ? t : undefined;
    }
  }
  const ms = Date.UTC(y1 * 100 + y2, mo - 1, d, h, mi, se);
  // Keep microseconds; deeper digits are float noise.
  return frac === 0 ? ms : ms + Math.round(frac * 1000) / 1000;
}

/** `time`: a UTC time string, ms since the epoch as a number, or a Date. */
export function toTime(value: unknown): number | undefined {
  if (typeof value === 'string') return parseUtcTime(value);
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (value instanceof Date) {
    const t = value.getTime();
    return Number.isFinite(t) ? t : undefined;
  }
  return undefined;
}

/**
 * `hashes`: `SHA1=…,MD5=…,SHA256=…,IMPHASH=…` → `{ sha1, md5, sha256, imphash }` (keys lower
 * case, values as written). A single `SHA256=…` works too; a string with no `ALG=value`
 * pair is unreadable.
 */
export function toHashes(value: unknown): Hashes | undefined {
  if (typeof value === 'string') {
    let out: Hashes | undefined;
    let start = 0;
    const n = value.length;
    while (start < n) {
      let end = value.indexOf(',', start);
      if (end < 0) end = n;
      const eq = value.indexOf('=', start);
      if (eq > start && eq < end - 1) {
        const alg = value.slice(start, eq).trim().toLowerCase();
        const hash = value.slice(eq + 1, end).trim();
        if (alg.length > 0 && hash.length > 0) (out ??= {})[alg] = hash;
      }
      start = end + 1;
    }
    return out;
  }
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    let out: Hashes | undefined;
    for (const [k, v] of Object.entries(value)) if (typeof v === 'string' && v.length > 0) (out ??= {})[k.toLowerCase()] = v;
    return out;
  }
  return undefined;
}

/** `str`: strings as they are; numbers, booleans and bigints as their decimal text. */
export function toStr(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
    case 'boolean':
    case 'bigint':
      return String(value);
    default:
      return undefined;
  }
}

export const CONVERTERS: Readonly<Record<FieldKind, Converter>> = {
  str: toStr,
  int: toInt,
  hex: toHex,
  bool: toBool,
  time: toTime,
  hashes: toHashes,
};

/** The file name of a Windows or POSIX path (`C:\\Windows\\cmd.exe` → `cmd.exe`). */
export function baseName(path: string): string {
  const i = Math.max(path.lastIndexOf('\\'), path.lastIndexOf('/'));
  return i < 0 ? path : path.slice(i + 1);
}
