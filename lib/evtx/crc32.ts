/** CRC-32 (IEEE, reflected, as zlib) used by EVTX file and chunk headers. */
import zlib from 'node:zlib';

/** zlib.crc32 exists from Node 20.15 / 22.2; it is several times faster than the JS table. */
const nativeCrc = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

const TABLE = (() => {
  const t = new Int32Array(256 * 4);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  // Slicing-by-4 tables: a chunk's record area (up to 64 KiB) is checked once per chunk.
  for (let n = 0; n < 256; n++) {
    let c = t[n] as number;
    for (let k = 1; k < 4; k++) {
      c = (t[c & 0xff] as number) ^ (c >>> 8);
      t[k * 256 + n] = c;
    }
  }
  return t;
})();

/** Continue a CRC over buf[start, end); pass the previous result to chain ranges. */
export function crc32(buf: Uint8Array, start: number, end: number, prev = 0): number {
  if (nativeCrc !== undefined) return nativeCrc(buf.subarray(start, end), prev) >>> 0;
  return crc32Js(buf, start, end, prev);
}

/** Table-driven fallback (and reference for the tests). */
export function crc32Js(buf: Uint8Array, start: number, end: number, prev = 0): number {
  let c = ~prev;
  let i = start;
  const t = TABLE;
  for (; i + 4 <= end; i += 4) {
    c ^= (buf[i] as number) | ((buf[i + 1] as number) << 8) | ((buf[i + 2] as number) << 16) | ((buf[i + 3] as number) << 24);
    c =
      (t[768 + (c & 0xff)] as number) ^
      (t[512 + ((c >>> 8) & 0xff)] as number) ^
      (t[256 + ((c >>> 16) & 0xff)] as number) ^
      (t[c >>> 24] as number);
  }
  for (; i < end; i++) c = (t[(c ^ (buf[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return ~c >>> 0;
}
