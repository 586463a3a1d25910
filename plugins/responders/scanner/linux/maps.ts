/**
 * /proc/<pid>/maps as a list of regions, and which of them the scanner flags. Pure: no I/O,
 * so every corner of the format (paths with spaces, ` (deleted)`, memfd, the kernel's own
 * pseudo-regions) is tested on strings.
 *
 * A line is `start-end perms offset dev inode[ padding path]` (fs/proc/task_mmu.c,
 * show_map_vma). The path runs to the end of the line and may hold spaces; the kernel
 * escapes only a newline in it (as `\012`), and appends ` (deleted)` when the file was
 * unlinked. Addresses are bigint: [vsyscall] sits at 0xffffffffff600000, above 2^53.
 */
import { MemscanError } from './errors.js';

/** What backs a region. */
export type MapsBacking =
  /** No file: private or shared anonymous memory, [heap], [stack], `[anon:name]`, SysV shm. */
  | 'anon'
  /** A region the kernel itself provides: [vdso], [vvar], [vsyscall], [uprobes] … */
  | 'kernel'
  /** A memfd (`/memfd:name (deleted)`): a file that never had a name on disk. */
  | 'memfd'
  /** A file (possibly deleted since it was mapped). */
  | 'file'
  /** Anything else (`anon_inode:[…]`, a socket, a device). */
  | 'other';

export interface MapsRegion {
  readonly start: bigint;
  readonly end: bigint;
  /** As the kernel spells them: `r-xp`, `rwxs` … */
  readonly perms: string;
  readonly read: boolean;
  readonly write: boolean;
  readonly exec: boolean;
  /** `s` (shared) rather than `p` (private, copy-on-write). */
  readonly shared: boolean;
  /** Offset of the mapping in its file (bytes). */
  readonly offset: bigint;
  /** `major:minor` in hex, as printed. */
  readonly dev: string;
  readonly inode: bigint;
  /** The path or pseudo-path exactly as printed ('' for an unnamed anonymous region). */
  readonly path: string;
  /** The path ended in ` (deleted)`. */
  readonly deleted: boolean;
  readonly backing: MapsBacking;
  /** 1-based line number in the maps text, for messages. */
  readonly line: number;
}

/** The region kinds the Linux scanner reports (ScanRegion.kind). */
export type RegionKind = 'anon_exec' | 'wx' | 'deleted_exec' | 'memfd_exec' | 'patched_code';

/**
 * Pseudo-regions the kernel maps into every process (or on demand, as the uprobes XOL page):
 * executable by design, never an injection.
 */
const KERNEL_REGIONS = new Set(['[vdso]', '[vvar]', '[vvar_vclock]', '[vsyscall]', '[uprobes]', '[sigpage]', '[vectors]']);

const DELETED = ' (deleted)';
const LINE = /^([0-9a-f]+)-([0-9a-f]+) ([r-])([w-])([x-])([ps]) ([0-9a-f]+) ([0-9a-f]+:[0-9a-f]+) (\d+)(?: +(.*))?$/;

function backingOf(path: string, inode: bigint, deleted: boolean): MapsBacking {
  if (path === '') return 'anon';
  if (KERNEL_REGIONS.has(path)) return 'kernel';
  // [heap], [stack], [stack:tid] (old kernels), [anon:name] (PR_SET_VMA_ANON_NAME), [anon_shmem:name].
  if (path.startsWith('[')) return 'anon';
  if (path.startsWith('/memfd:') || path.startsWith('memfd:')) return 'memfd';
  // A shared anonymous mapping is shown as the deleted /dev/zero its shmem file stands for;
  // a SysV segment as /SYSV<key> (deleted). Both are anonymous memory, not a deleted program.
  if (deleted && (path === `/dev/zero${DELETED}` || /^\/SYSV[0-9a-f]{8}/.test(path))) return 'anon';
  if (path.startsWith('/')) return inode === 0n && !deleted ? 'other' : 'file';
  return 'other';
}

/** Parse one maps line; undefined for an empty line. Throws VIGIL_ERR_MEMSCAN_MAPS when malformed. */
export function parseMapsLine(text: string, line = 1): MapsRegion | undefined {
  if (text === '') return undefined;
  const m = LINE.exec(text);
  if (!m) throw new MemscanError('VIGIL_ERR_MEMSCAN_MAPS', `maps line ${line} is not "start-end perms offset dev inode path": ${JSON.stringify(text.slice(0, 200))}`);
  const [, s, e, r, w, x, p, off, dev, ino, rawPath] = m as unknown as [string, string, string, string, string, string, string, string, string, string, string | undefined];
  const start = BigInt(`0x${s}`);
  const end = BigInt(`0x${e}`);
  if (end <= start) throw new MemscanError('VIGIL_ERR_MEMSCAN_MAPS', `maps line ${line}: end ${e} is not above start ${s}`);
  const path = rawPath ?? '';
  const inode = BigInt(ino);
  const deleted = path.endsWith(DELETED);
  return {
    start,
    end,
    perms: `${r}${w}${x}${p}`,
    read: r === 'r',
    write: w === 'w',
    exec: x === 'x',
    shared: p === 's',
    offset: BigInt(`0x${off}`),
    dev,
    inode,
    path,
    deleted,
    backing: backingOf(path, inode, deleted),
    line,
  };
}

/** Every region of a maps text, in address order as the kernel lists them. */
export function parseMaps(text: string): MapsRegion[] {
  const out: MapsRegion[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const r = parseMapsLine(lines[i] ?? '', i + 1);
    if (r) out.push(r);
  }
  return out;
}

/** The path without the kernel's ` (deleted)` suffix. */
export function livePath(path: string): string {
  return path.endsWith(DELETED) ? path.slice(0, -DELETED.length) : path;
}

/**
 * The kinds a region is flagged with from its line alone (patched_code needs the bytes):
 * anonymous executable memory (not the kernel's vdso/vsyscall), writable and executable at
 * once, and executable mappings of a deleted file or of a memfd.
 */
export function lineKinds(r: MapsRegion): RegionKind[] {
  if (!r.exec) return [];
  const out: RegionKind[] = [];
  if (r.backing === 'anon') out.push('anon_exec');
  if (r.write) out.push('wx');
  if (r.backing === 'file' && r.deleted) out.push('deleted_exec');
  if (r.backing === 'memfd') out.push('memfd_exec');
  return out;
}

/** Whether a region's bytes can be compared with the file it maps (an executable file-backed region). */
export function comparable(r: MapsRegion): boolean {
  return r.exec && r.backing === 'file';
}

/** `0x…` lower-case hex, as ScanRegion and ScanMatch spell addresses. */
export function hexAddress(v: bigint | number): string {
  return `0x${v.toString(16)}`;
}

/** The region's `/proc/<pid>/map_files/` entry name (`start-end` in hex, no padding). */
export function mapFilesName(r: MapsRegion): string {
  return `${r.start.toString(16)}-${r.end.toString(16)}`;
}
