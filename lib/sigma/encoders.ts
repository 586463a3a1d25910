/**
 * Value transformations of the Sigma modifiers that rewrite literals: windash, the UTF-16
 * family and base64 / base64offset. They work on plain literal text; a value that holds
 * wildcards cannot be encoded (its encoded form is unknowable), as the specification says.
 */
import { SigmaConversionError } from './types.js';
import { hasWildcards, plainText, type Part, type SigmaString } from './sigma-string.js';

/** The replacement characters for a command-line switch dash, in Sigma's order. */
export const WINDASH_CHARS = ['-', '/', '\u2013', '\u2014', '\u2015'] as const;

const MAX_WINDASH_POSITIONS = 5;
const WORD = /[\p{L}\p{N}_]/u;

/**
 * All permutations of a value where each `-` or `/` that starts a switch (no word character
 * before it, a word character after it) takes each of the five dash forms.
 */
export function windashVariants(v: SigmaString): Part[][] {
  type Slot = { part: number; index: number };
  const slots: Slot[] = [];
  v.forEach((p, part) => {
    if (typeof p !== 'string') return;
    for (let i = 0; i < p.length; i++) {
      const c = p[i]!;
      if (c !== '-' && c !== '/') continue;
      const before = i > 0 ? p[i - 1]! : '';
      const after = p[i + 1] ?? '';
      if ((before === '' || !WORD.test(before)) && after !== '' && WORD.test(after)) slots.push({ part, index: i });
    }
  });
  if (slots.length === 0) return [[...v]];
  if (slots.length > MAX_WINDASH_POSITIONS) {
    throw new SigmaConversionError(
      'unsupported-value',
      `windash on "${plainText(v)}" would produce ${WINDASH_CHARS.length ** slots.length} variants (limit: ${MAX_WINDASH_POSITIONS} switch positions)`,
    );
  }
  const out: Part[][] = [];
  const total = WINDASH_CHARS.length ** slots.length;
  for (let n = 0; n < total; n++) {
    const chars = v.map((p) => (typeof p === 'string' ? p.split('') : p));
    let k = n;
    for (const s of slots) {
      const arr = chars[s.part] as string[];
      arr[s.index] = WINDASH_CHARS[k % WINDASH_CHARS.length]!;
      k = Math.floor(k / WINDASH_CHARS.length);
    }
    out.push(chars.map((c) => (Array.isArray(c) ? c.join('') : c)));
  }
  return out;
}

export type Utf16Kind = 'utf16le' | 'utf16be' | 'utf16';

/** A literal value carried through the encoding modifiers as text or as bytes. */
export interface EncodedValue {
  text: string;
  /** When set, `text` holds one byte per character (latin1) rather than Unicode text. */
  bytes: boolean;
}

function requirePlain(v: SigmaString, modifier: string): string {
  if (hasWildcards(v)) {
    throw new SigmaConversionError('unsupported-value', `the ${modifier} modifier cannot encode a value with wildcards ("${plainText(v)}")`);
  }
  return plainText(v);
}

export function toEncoded(v: SigmaString, modifier: string): EncodedValue {
  return { text: requirePlain(v, modifier), bytes: false };
}

function bytesOf(v: EncodedValue): Buffer {
  return Buffer.from(v.text, v.bytes ? 'latin1' : 'utf8');
}

/** UTF-16 encoding of text; `utf16` puts the little-endian byte order mark first. */
export function utf16Encode(v: EncodedValue, kind: Utf16Kind): EncodedValue {
  if (v.bytes) throw new SigmaConversionError('unsupported-modifier', `${kind} cannot follow another encoding modifier`);
  const le = Buffer.from(v.text, 'utf16le');
  let out: Buffer;
  if (kind === 'utf16le') out = le;
  else if (kind === 'utf16be') out = Buffer.from(le).swap16();
  else out = Buffer.concat([Buffer.from([0xff, 0xfe]), le]);
  return { text: out.toString('latin1'), bytes: true };
}

export function base64Encode(v: EncodedValue): string {
  return bytesOf(v).toString('base64');
}

/**
 * The three base64 forms of a value that sits at byte offset 0, 1 or 2 of a larger encoded
 * blob: encode with 0–2 leading filler bytes, then cut the characters that depend on the
 * neighbouring (unknown) bytes from both ends.
 */
export function base64OffsetEncode(v: EncodedValue): string[] {
  const data = bytesOf(v);
  const startCut = [0, 2, 3] as const;
  const endCut = [undefined, -3, -2] as const;
  const out: string[] = [];
  for (let i = 0; i < 3; i++) {
    const b64 = Buffer.concat([Buffer.alloc(i, 0x20), data]).toString('base64');
    out.push(b64.slice(startCut[i], endCut[(data.length + i) % 3]));
  }
  return out;
}

/** A finished encoding back into a value (bytes become one char per byte). */
export function fromEncoded(v: EncodedValue): Part[] {
  return v.text === '' ? [] : [v.text];
}

