/**
 * YARA matches over one region's bytes → ScanMatch with absolute addresses. The bytes are
 * sliced from the scanned buffer (never an engine's own string, which YARA-X makes lossy
 * UTF-8). Kept small and private to the scanner; lib/yara's shared toScanMatches does the
 * same for every scanner.
 */
import type { ScanMatch, ScanMatchString } from '../../../../core/index.js';
import type { YaraRuleMatch } from '../../../../lib/yara/types.js';

/** At most this many matched bytes are carried as hex per string (ScanMatchString.data_hex). */
export const MATCH_HEX_BYTES = 64;

/**
 * `base` is the absolute address of data[0]. A string's offset beyond the buffer (an engine
 * bug) yields empty hex rather than bytes of another place.
 */
export function regionMatches(
  matches: readonly YaraRuleMatch[],
  data: Uint8Array,
  base: bigint,
  engine: string,
  maxStrings: number,
): { matches: ScanMatch[]; stringsDropped: number } {
  let stringsDropped = 0;
  const region = `0x${base.toString(16)}`;
  const out = matches.map((m): ScanMatch => {
    const kept = m.strings.slice(0, maxStrings);
    stringsDropped += m.strings.length - kept.length;
    const strings = kept.map((s): ScanMatchString => {
      const from = Math.min(Math.max(0, s.offset), data.length);
      const to = Math.min(from + Math.min(s.length, MATCH_HEX_BYTES), data.length);
      return { identifier: s.identifier, offset: Number(base + BigInt(s.offset)), length: s.length, data_hex: Buffer.from(data.buffer, data.byteOffset + from, to - from).toString('hex') };
    });
    return { rule: m.rule, namespace: m.namespace, tags: [...m.tags], meta: { ...m.meta }, strings, region, engine };
  });
  return { matches: out, stringsDropped };
}
