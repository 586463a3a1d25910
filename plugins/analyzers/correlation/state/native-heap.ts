/**
 * Freed off-heap memory goes back to the system (Linux with glibc).
 *
 * glibc's malloc gives an allocation of at least its mmap threshold a mapping of its own,
 * unmapped when it is freed. But the threshold is dynamic: each time such a mapping is freed
 * it rises to that size (up to 32 MiB), so after the first block of state memory is given up,
 * the next 1 MiB blocks come from the heap instead, and freed memory in the middle of the heap
 * stays in the process. After a burst of partial matches the state gives its blocks back
 * (seq-store.ts), yet the process would keep the burst's peak (bench/notes/correlation-pauses.md
 * has the figures).
 *
 * `mallopt(M_MMAP_THRESHOLD, n)` fixes the threshold, which also turns the dynamic rise off.
 * The binding is driver/ffi/linux/libc.ts, which loads koffi's native module only when it is
 * asked to bind, so it is called only on Linux with glibc; elsewhere, or when it does not
 * load, nothing changes and the reason is reported (the plugin logs it; its gauge
 * `native_heap_mmap_threshold_bytes` stays 0).
 */
import { bindMallopt, M_MMAP_THRESHOLD, type Mallopt } from '../../../../driver/ffi/linux/libc.js';

/** What was done to the C allocator's settings, and why not when nothing was. */
export interface NativeHeapStatus {
  /** The fixed mmap threshold in bytes; null when it was not set. */
  mmap_threshold_bytes: number | null;
  /** Why the threshold was not set; null when it was. */
  reason: string | null;
}

/**
 * Below the 1 MiB blocks of the state (block-pool.ts) and above the buffers Node
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
  let mallopt: Mallopt;
  try {
    mallopt = await bindMallopt();
  } catch (err) {
    return not(`koffi could not bind mallopt: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (mallopt(M_MMAP_THRESHOLD, bytes) !== 1) return not(`mallopt(M_MMAP_THRESHOLD, ${bytes}) refused`);
  return { mmap_threshold_bytes: bytes, reason: null };
}
