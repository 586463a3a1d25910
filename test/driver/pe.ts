/** A minimal PE32+ reader for the driver checks: the optional header and the import table. */
export interface PeInfo {
  machine: number;
  subsystem: number;
  dllCharacteristics: number;
  imports: Map<string, string[]>;
  /** A security directory (an Authenticode signature) is present. */
  signed: boolean;
}

export const IMAGE_SUBSYSTEM_NATIVE = 1;
export const IMAGE_DLLCHARACTERISTICS_FORCE_INTEGRITY = 0x0080;

export function readPe(buf: Buffer): PeInfo {
  if (buf.readUInt16LE(0) !== 0x5a4d) throw new Error('not an MZ image');
  const pe = buf.readUInt32LE(0x3c);
  if (buf.readUInt32LE(pe) !== 0x4550) throw new Error('no PE signature');
  const machine = buf.readUInt16LE(pe + 4);
  const sections = buf.readUInt16LE(pe + 6);
  const optSize = buf.readUInt16LE(pe + 20);
  const opt = pe + 24;
  if (buf.readUInt16LE(opt) !== 0x20b) throw new Error('not PE32+');
  const subsystem = buf.readUInt16LE(opt + 68);
  const dllCharacteristics = buf.readUInt16LE(opt + 70);
  const dirs = opt + 112;
  const importRva = buf.readUInt32LE(dirs + 8);
  const securitySize = buf.readUInt32LE(dirs + 4 * 8 + 4);
  const secTable = opt + optSize;
  const toOff = (rva: number): number => {
    for (let i = 0; i < sections; i++) {
      const s = secTable + i * 40;
      const va = buf.readUInt32LE(s + 12);
      const size = Math.max(buf.readUInt32LE(s + 8), buf.readUInt32LE(s + 16));
      if (rva >= va && rva < va + size) return rva - va + buf.readUInt32LE(s + 20);
    }
    throw new Error(`rva ${rva.toString(16)} in no section`);
  };
  const cstr = (off: number): string => buf.toString('latin1', off, buf.indexOf(0, off));
  const imports = new Map<string, string[]>();
  if (importRva !== 0) {
    for (let d = toOff(importRva); ; d += 20) {
      const nameRva = buf.readUInt32LE(d + 12);
      if (nameRva === 0) break;
      const thunkRva = buf.readUInt32LE(d) || buf.readUInt32LE(d + 16);
      const names: string[] = [];
      for (let t = toOff(thunkRva); ; t += 8) {
        const v = buf.readBigUInt64LE(t);
        if (v === 0n) break;
        names.push(v & 0x8000000000000000n ? `#${v & 0xffffn}` : cstr(toOff(Number(v & 0x7fffffffn)) + 2));
      }
      imports.set(cstr(toOff(nameRva)), names);
    }
  }
  return { machine, subsystem, dllCharacteristics, imports, signed: securitySize > 0 };
}
