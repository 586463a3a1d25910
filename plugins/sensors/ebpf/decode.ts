/**
 * The records of driver/linux/vigil.bpf.c, decoded with a DataView. The view given by the
 * ring buffer is read-only native memory valid only during the callback: decode reads it once
 * and returns plain values (strings are decoded, i.e. copied).
 */

export const ABI_VERSION = 1;
export const HEADER_BYTES = 96;

export const FLAG_ARGS_TRUNC = 1;
export const FLAG_IMAGE_TRUNC = 2;
export const FLAG_CWD_TRUNC = 4;

/** Slots of the per-CPU `vigil_stats` map. */
export const STAT_SLOTS = {
  exec_seen: 0,
  exec_dropped: 1,
  fork_seen: 2,
  fork_dropped: 3,
  exit_seen: 4,
  exit_dropped: 5,
  args_truncated: 6,
  path_truncated: 7,
  filtered: 8,
} as const;
export type StatName = keyof typeof STAT_SLOTS;
export type KernelStats = Record<StatName, number>;

export type RecordKind = 'exec' | 'fork' | 'exit';
const KINDS: Readonly<Record<number, RecordKind>> = { 1: 'exec', 2: 'fork', 3: 'exit' };

export interface KernelRecord {
  kind: RecordKind;
  pid: number;
  tid: number;
  ppid: number;
  flags: number;
  /** Nanoseconds since boot (CLOCK_BOOTTIME) at the process's start. */
  startNs: bigint;
  parentStartNs: bigint;
  timeNs: bigint;
  uid: number;
  gid: number;
  euid: number;
  egid: number;
  /** Raw wait status of an exit (exit code << 8 | signal). */
  exitStatus: number;
  comm: string;
  image?: string;
  argv?: string[];
  cwd?: string;
}

export class RecordDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RecordDecodeError';
  }
}

const utf8 = new TextDecoder('utf-8');

function text(view: DataView, off: number, len: number): string {
  return utf8.decode(new Uint8Array(view.buffer, view.byteOffset + off, len));
}

function cString(view: DataView, off: number, max: number): string {
  let end = 0;
  while (end < max && view.getUint8(off + end) !== 0) end++;
  return text(view, off, end);
}

/** Decode one record; throws RecordDecodeError for a short record or an unknown kind or ABI. */
export function decodeRecord(view: DataView): KernelRecord {
  if (view.byteLength < HEADER_BYTES) throw new RecordDecodeError(`record of ${view.byteLength} bytes is shorter than its header`);
  const kind = KINDS[view.getUint32(0, true)];
  if (kind === undefined) throw new RecordDecodeError(`unknown record kind ${view.getUint32(0, true)}`);
  const abi = view.getUint32(4, true);
  if (abi !== ABI_VERSION) throw new RecordDecodeError(`record ABI ${abi}, expected ${ABI_VERSION}`);
  const rec: KernelRecord = {
    kind,
    pid: view.getUint32(8, true),
    tid: view.getUint32(12, true),
    ppid: view.getUint32(16, true),
    flags: view.getUint32(20, true),
    startNs: view.getBigUint64(24, true),
    parentStartNs: view.getBigUint64(32, true),
    timeNs: view.getBigUint64(40, true),
    uid: view.getUint32(48, true),
    gid: view.getUint32(52, true),
    euid: view.getUint32(56, true),
    egid: view.getUint32(60, true),
    exitStatus: view.getUint32(64, true),
    comm: cString(view, 80, 16),
  };
  if (kind === 'exec') {
    const imageLen = view.getUint32(68, true);
    const argsLen = view.getUint32(72, true);
    const cwdLen = view.getUint32(76, true);
    if (HEADER_BYTES + imageLen + argsLen + cwdLen > view.byteLength) {
      throw new RecordDecodeError(`exec record of ${view.byteLength} bytes declares ${imageLen}+${argsLen}+${cwdLen} bytes of strings`);
    }
    rec.image = text(view, HEADER_BYTES, imageLen);
    let args = text(view, HEADER_BYTES + imageLen, argsLen);
    if (args.endsWith('\0')) args = args.slice(0, -1);
    rec.argv = args.length === 0 ? [] : args.split('\0');
    if (cwdLen > 0) rec.cwd = text(view, HEADER_BYTES + imageLen + argsLen, cwdLen);
  }
  return rec;
}

/** Sum a per-CPU u64 value array (8 bytes per possible CPU). */
export function sumPerCpu(value: Uint8Array, cpus: number): number {
  const dv = new DataView(value.buffer, value.byteOffset, value.byteLength);
  let total = 0n;
  for (let c = 0; c < cpus; c++) total += dv.getBigUint64(c * 8, true);
  return Number(total);
}
