/** Engine matches turned into the `scan.matches` of a scan.result event. */
import type { ScanMatch, ScanMatchString } from '../../core/index.js';
import type { YaraEngineName, YaraRuleMatch } from './types.js';

/** Bytes of a match shown in an event (the offset and length say where the rest is). */
export const MATCH_DATA_BYTES = 64;

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

function address(a: number | bigint): string {
  return `0x${a.toString(16)}`;
}

/**
 * `matches` as ScanMatch: offsets moved by `baseAddress` (a region's start for a memory scan,
 * 0 for a file), bytes sliced from `data` (the buffer that was scanned, never the engine's
 * string) and shown as hex, at most MATCH_DATA_BYTES of them; `region` is the start of the
 * region the buffer came from, when it came from one.
 */
export function toScanMatches(matches: readonly YaraRuleMatch[], data: Uint8Array, baseAddress: number | bigint, engine: YaraEngineName, region?: number | bigint | string): ScanMatch[] {
  const base = Number(baseAddress);
  const regionText = region === undefined ? undefined : typeof region === 'string' ? region : address(region);
  return matches.map((m) => {
    const strings: ScanMatchString[] = m.strings.map((s) => {
      const start = Math.min(s.offset, data.length);
      const end = Math.min(s.offset + Math.min(s.length, MATCH_DATA_BYTES), data.length);
      return { identifier: s.identifier, offset: base + s.offset, length: s.length, data_hex: hex(data.subarray(start, end)) };
    });
    return { rule: m.rule, namespace: m.namespace, tags: [...m.tags], meta: { ...m.meta }, strings, ...(regionText === undefined ? {} : { region: regionText }), engine };
  });
}
