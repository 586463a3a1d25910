/**
 * The records of driver/linux/vigil.bpf.c, decoded with a DataView. The view given by the
 * ring buffer is read-only native memory valid only during the callback: decode reads it once
 * and returns plain values (strings are decoded, i.e. copied).
 */

export const ABI_VERSION = 2;
export const HEADER_BYTES = 96;
/** The target / address block after the header of ptrace, vm-write and connect records. */
export const EXT_BYTES = 88;

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
  ptrace_seen: 9,
  ptrace_dropped: 10,
  vm_write_seen: 11,
  vm_write_dropped: 12,
  connect_seen: 13,
  connect_dropped: 14,
  file_seen: 15,
  file_dropped: 16,
  mem_open_seen: 17,
  mem_open_dropped: 18,
  memfd_seen: 19,
  memfd_dropped: 20,
  module_seen: 21,
  module_dropped: 22,
  mem_open_self: 23,
} as const;

/** Most watched path prefixes, and the longest one in bytes (the kernel's vigil_prefixes). */
export const MAX_FILE_PREFIXES = 16;
export const MAX_FILE_PREFIX_BYTES = 63;
export const FILE_OP_OPEN = 1;
export const FILE_OP_DELETE = 2;
export type StatName = keyof typeof STAT_SLOTS;
export type KernelStats = Record<StatName, number>;

export type RecordKind = 'exec' | 'fork' | 'exit' | 'ptrace' | 'vm_write' | 'connect' | 'file' | 'mem_open' | 'memfd' | 'module';
export const RECORD_KINDS: readonly RecordKind[] = ['exec', 'fork', 'exit', 'ptrace', 'vm_write', 'connect', 'file', 'mem_open', 'memfd', 'module'];
const KINDS: Readonly<Record<number, RecordKind>> = {
  1: 'exec',
  2: 'fork',
  3: 'exit',
  4: 'ptrace',
  5: 'vm_write',
  6: 'connect',
  7: 'file',
  8: 'mem_open',
  9: 'memfd',
  10: 'module',
};
export const MODULE_INIT = 1;
export const MODULE_FINIT = 2;

/** An open of another process's /proc/<pid>/mem (at syscall entry). */
export interface RecordMemOpen {
  /** The pid the path names, in the caller's pid namespace. */
  targetPid: number;
  /** The caller's pid-namespace level (0: the initial namespace, pids are the kernel's). */
  nsLevel: number;
  flags: number;
  path: string;
}

/** memfd_create(name, flags). */
export interface RecordMemfd {
  name: string;
  flags: number;
}

/** init_module / finit_module at entry. */
export interface RecordModule {
  syscall: 'init_module' | 'finit_module';
  /** finit_module: the file behind the fd ('' when it could not be resolved). */
  path: string;
  /** finit_module's flags. */
  flags: number;
  /** init_module: bytes of the image. */
  size: number;
}

/** An open, create or delete of a path under a watched prefix (at syscall entry). */
export interface RecordFile {
  op: 'open' | 'delete';
  flags: number;
  mode: number;
  path: string;
}

/** ptrace: who is attached to; vm_write: the pid written into; connect: the addresses. */
export interface RecordExt {
  targetPid: number;
  request: number;
  family: number;
  sport: number;
  dport: number;
  saddr: string;
  daddr: string;
}

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
  ext?: RecordExt;
  file?: RecordFile;
  memOpen?: RecordMemOpen;
  memfd?: RecordMemfd;
  module?: RecordModule;
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
  if (kind === 'ptrace' || kind === 'vm_write' || kind === 'connect') {
    if (view.byteLength < HEADER_BYTES + EXT_BYTES) throw new RecordDecodeError(`${kind} record of ${view.byteLength} bytes is shorter than ${HEADER_BYTES + EXT_BYTES}`);
    const family = view.getUint32(HEADER_BYTES + 20, true);
    rec.ext = {
      targetPid: view.getUint32(HEADER_BYTES, true),
      request: Number(view.getBigInt64(HEADER_BYTES + 8, true)),
      family,
      sport: view.getUint16(HEADER_BYTES + 32, true),
      dport: view.getUint16(HEADER_BYTES + 34, true),
      saddr: family === AF_INET6 ? ipv6(view, HEADER_BYTES + 40) : family === AF_INET ? ipv4(view, HEADER_BYTES + 40) : '',
      daddr: family === AF_INET6 ? ipv6(view, HEADER_BYTES + 56) : family === AF_INET ? ipv4(view, HEADER_BYTES + 56) : '',
    };
  }
  if (kind === 'file' || kind === 'mem_open' || kind === 'memfd' || kind === 'module') {
    // One layout: op, flags, mode, path_len, path (vigil.bpf.c, struct file_record).
    if (view.byteLength < HEADER_BYTES + 16) throw new RecordDecodeError(`${kind} record of ${view.byteLength} bytes is shorter than ${HEADER_BYTES + 16}`);
    const op = view.getUint32(HEADER_BYTES, true);
    const flags = view.getUint32(HEADER_BYTES + 4, true);
    const mode = view.getUint32(HEADER_BYTES + 8, true);
    const pathLen = view.getUint32(HEADER_BYTES + 12, true);
    if (HEADER_BYTES + 16 + pathLen > view.byteLength) throw new RecordDecodeError(`${kind} record of ${view.byteLength} bytes declares a path of ${pathLen}`);
    const path = text(view, HEADER_BYTES + 16, pathLen);
    if (kind === 'file') rec.file = { op: op === FILE_OP_DELETE ? 'delete' : 'open', flags, mode, path };
    else if (kind === 'mem_open') rec.memOpen = { targetPid: mode, nsLevel: op, flags, path };
    else if (kind === 'memfd') rec.memfd = { name: path, flags };
    else rec.module = { syscall: op === MODULE_INIT ? 'init_module' : 'finit_module', path, flags, size: mode };
  }
  return rec;
}

export const AF_INET = 2;
export const AF_INET6 = 10;

function ipv4(view: DataView, off: number): string {
  return `${view.getUint8(off)}.${view.getUint8(off + 1)}.${view.getUint8(off + 2)}.${view.getUint8(off + 3)}`;
}

/** RFC 5952 text: lower-case hex, the longest run of two or more zero groups as `::`. */
function ipv6(view: DataView, off: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(view.getUint16(off + i * 2, false));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/** Sum a per-CPU u64 value array (8 bytes per possible CPU). */
export function sumPerCpu(value: Uint8Array, cpus: number): number {
  const dv = new DataView(value.buffer, value.byteOffset, value.byteLength);
  let total = 0n;
  for (let c = 0; c < cpus; c++) total += dv.getBigUint64(c * 8, true);
  return Number(total);
}
