/**
 * The little of ELF the patched-code check needs: the file ranges the PT_LOAD segments map
 * (p_offset .. p_offset + p_filesz), so that a region is compared with the file only where
 * the file really supplies its bytes. Pure: parses buffers the caller read.
 */

/** One PT_LOAD segment's file range and flags. */
export interface ElfLoad {
  readonly offset: bigint;
  readonly filesz: bigint;
  /** PF_X 1, PF_W 2, PF_R 4. */
  readonly flags: number;
}

export interface ElfHeader {
  readonly is64: boolean;
  readonly little: boolean;
  readonly phoff: bigint;
  readonly phentsize: number;
  readonly phnum: number;
}

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const DT_NULL = 0n;
const DT_TEXTREL = 22n;
const DT_FLAGS = 30n;
const DF_TEXTREL = 4n;
/** A dynamic section larger than this is not read (real ones are a few hundred bytes). */
export const MAX_DYNAMIC_BYTES = 64 * 1024;
/** More program headers than any real object has: a larger count is a malformed file. */
export const MAX_PHNUM = 4096;

/** The ELF header's program-header table location, or undefined when `buf` is not an ELF file. */
export function parseElfHeader(buf: Uint8Array): ElfHeader | undefined {
  if (buf.length < 52 || buf[0] !== 0x7f || buf[1] !== 0x45 || buf[2] !== 0x4c || buf[3] !== 0x46) return undefined;
  const cls = buf[4];
  const data = buf[5];
  if ((cls !== 1 && cls !== 2) || (data !== 1 && data !== 2)) return undefined;
  const is64 = cls === 2;
  const little = data === 1;
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (is64) {
    if (buf.length < 64) return undefined;
    return { is64, little, phoff: dv.getBigUint64(32, little), phentsize: dv.getUint16(54, little), phnum: dv.getUint16(56, little) };
  }
  return { is64, little, phoff: BigInt(dv.getUint32(28, little)), phentsize: dv.getUint16(42, little), phnum: dv.getUint16(44, little) };
}

/** The size of the program-header table to read after the header, or undefined when it is implausible. */
export function programHeadersSize(h: ElfHeader): number | undefined {
  const min = h.is64 ? 56 : 32;
  if (h.phentsize < min || h.phnum === 0 || h.phnum > MAX_PHNUM) return undefined;
  return h.phentsize * h.phnum;
}

/** The PT_LOAD segments of a program-header table (`table` starts at e_phoff). */
export function parseLoads(h: ElfHeader, table: Uint8Array): ElfLoad[] {
  const dv = new DataView(table.buffer, table.byteOffset, table.byteLength);
  const out: ElfLoad[] = [];
  for (let i = 0; i < h.phnum; i++) {
    const at = i * h.phentsize;
    if (at + (h.is64 ? 56 : 32) > table.length) break;
    if (dv.getUint32(at, h.little) !== PT_LOAD) continue;
    if (h.is64) {
      out.push({ flags: dv.getUint32(at + 4, h.little), offset: dv.getBigUint64(at + 8, h.little), filesz: dv.getBigUint64(at + 32, h.little) });
    } else {
      out.push({ offset: BigInt(dv.getUint32(at + 4, h.little)), filesz: BigInt(dv.getUint32(at + 16, h.little)), flags: dv.getUint32(at + 24, h.little) });
    }
  }
  return out;
}

/** The PT_DYNAMIC segment's file range (offset, size), or undefined when there is none. */
export function dynamicSegment(h: ElfHeader, table: Uint8Array): FileRange | undefined {
  const dv = new DataView(table.buffer, table.byteOffset, table.byteLength);
  for (let i = 0; i < h.phnum; i++) {
    const at = i * h.phentsize;
    if (at + (h.is64 ? 56 : 32) > table.length) break;
    if (dv.getUint32(at, h.little) !== PT_DYNAMIC) continue;
    const offset = h.is64 ? dv.getBigUint64(at + 8, h.little) : BigInt(dv.getUint32(at + 4, h.little));
    const size = h.is64 ? dv.getBigUint64(at + 32, h.little) : BigInt(dv.getUint32(at + 16, h.little));
    return { from: offset, to: offset + size };
  }
  return undefined;
}

/**
 * Whether a dynamic section asks for text relocations (DT_TEXTREL, or DF_TEXTREL in
 * DT_FLAGS): the loader then writes into the object's text, which the comparison with the
 * file reports as patched bytes.
 */
export function hasTextRel(h: ElfHeader, dynamic: Uint8Array): boolean {
  const dv = new DataView(dynamic.buffer, dynamic.byteOffset, dynamic.byteLength);
  const size = h.is64 ? 16 : 8;
  for (let at = 0; at + size <= dynamic.length; at += size) {
    const tag = h.is64 ? dv.getBigInt64(at, h.little) : BigInt(dv.getInt32(at, h.little));
    const val = h.is64 ? dv.getBigUint64(at + 8, h.little) : BigInt(dv.getUint32(at + 4, h.little));
    if (tag === DT_NULL) break;
    if (tag === DT_TEXTREL) return true;
    if (tag === DT_FLAGS && (val & DF_TEXTREL) !== 0n) return true;
  }
  return false;
}

/** A half-open file range [from, to). */
export interface FileRange {
  readonly from: bigint;
  readonly to: bigint;
}

/**
 * Which bytes of a mapping (file offset `mapOffset`, `mapLength` bytes) hold file content that
 * must equal memory: the mapping's range cut at the end of the file, and, for an ELF file, cut
 * to the PT_LOAD segments' file bytes (the tail of a page past p_filesz may be zeroed by the
 * loader, and a page past the end of the file reads as zeros). Sorted, disjoint.
 */
export function compareRanges(mapOffset: bigint, mapLength: bigint, fileSize: bigint, loads: readonly ElfLoad[] | undefined): FileRange[] {
  const end = mapOffset + mapLength < fileSize ? mapOffset + mapLength : fileSize;
  if (end <= mapOffset) return [];
  if (loads === undefined) return [{ from: mapOffset, to: end }];
  const cut: FileRange[] = [];
  for (const l of loads) {
    const from = l.offset > mapOffset ? l.offset : mapOffset;
    const lEnd = l.offset + l.filesz;
    const to = lEnd < end ? lEnd : end;
    if (to > from) cut.push({ from, to });
  }
  cut.sort((a, b) => (a.from < b.from ? -1 : a.from > b.from ? 1 : 0));
  const out: FileRange[] = [];
  for (const r of cut) {
    const last = out[out.length - 1];
    if (last && r.from <= last.to) out[out.length - 1] = { from: last.from, to: r.to > last.to ? r.to : last.to };
    else out.push(r);
  }
  return out;
}
