/**
 * Freed off-heap memory goes back to the system (Linux with glibc).
 *
 * glibc's malloc gives an allocation of at least its mmap threshold a mapping of its own,
 * unmapped when it is freed. But the threshold is dynamic: each time such a mapping is freed
 * it rises to that size (up to 32 MiB), so after the first block of state memory is given up,
 * the next 1 MiB blocks come from the heap instead, and freed memory in the middle of the heap
 * stays in the process. After a burst of partial matches the state gives its blocks back
 * (plugins/analyzers/correlation/seq-store.ts), yet the process would keep the burst's peak:
 * B2 at 10^6 keys, once every key had ended, measured a resident size of 303 MB (sequence)
 * and 492 MB (count) with the dynamic threshold (B2_MALLOC=glibc-default), 211 / 211 MB with
 * a fixed one (the Map peer: 101–123 MB).
 *
 * `mallopt(M_MMAP_THRESHOLD, n)` fixes the threshold, which also turns the dynamic rise off.
 * The binding is driver/ffi/linux/libc.ts (koffi), loaded only here and only on Linux with
 * glibc; elsewhere, or when it does not load, nothing changes and the reason is reported
 * (`vigil status`: `native_heap`).
 */

/** What was done to the C allocator's settings, and why not when nothing was. */
export interface NativeHeapStatus {
  /** The fixed mmap threshold in bytes; null when it was not set. */
  mmap_threshold_bytes: number | null;
  /** Why the threshold was not set; null when it was. */
  reason: string | null;
}

/**
 * Below the 1 MiB blocks of the state (core/memory/block-pool.ts) and above the buffers Node
 * allocates all the time, which stay in the heap.
 */
export const DEFAULT_MMAP_THRESHOLD = 512 * 1024;

let done: Promise<NativeHeapStatus> | undefined;

/**
 * Fix glibc's mmap threshold at `bytes`, once per process (later calls return the first
 * outcome, whatever they ask).
 */
export function fixMmapThreshold(bytes = DEFAULT_MMAP_THRESHOLD): Promise<NativeHeapStatus> {
  done ??= apply(bytes);
  return done;
}

/** The outcome of fixMmapThreshold, or null when it has not been called. */
export function nativeHeapStatus(): Promise<NativeHeapStatus> | null {
  return done ?? null;
}

async function apply(bytes: number): Promise<NativeHeapStatus> {
  const not = (reason: string): NativeHeapStatus => ({ mmap_threshold_bytes: null, reason });
  if (process.platform !== 'linux') return not(`not Linux (${process.platform}): the C allocator is left as it is`);
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  if (header?.glibcVersionRuntime === undefined) return not('no glibc (another C library): the C allocator is left as it is');
  let libc: typeof import('../../driver/ffi/linux/libc.js');
  let mallopt: import('../../driver/ffi/linux/libc.js').Mallopt;
  try {
    // Loaded here, not at the top: koffi's native module is needed only on this path.
    libc = await import('../../driver/ffi/linux/libc.js');
    mallopt = libc.bindMallopt();
  } catch (err) {
    return not(`koffi could not bind mallopt: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (mallopt(libc.M_MMAP_THRESHOLD, bytes) !== 1) return not(`mallopt(M_MMAP_THRESHOLD, ${bytes}) refused`);
  return { mmap_threshold_bytes: bytes, reason: null };
}
