/**
 * Positional reads of /proc/<pid>/mem through one FileHandle. A page the kernel cannot read
 * (EIO: a hole, a page past the end of its file, a VM_IO mapping) is skipped and counted, not
 * a failure; a read of 0 bytes means the target's address space is gone (it exited), because
 * the open file is bound to the mm it was opened on.
 */
import type { FileHandle } from 'node:fs/promises';

/** One read syscall at most this long: bounds the time between abort checks. */
export const READ_CHUNK = 1 << 20;
/** The skip step after EIO: the smallest page size Linux uses, so no readable byte is skipped. */
export const PAGE = 4096n;

export interface RegionBytes {
  /** `length` bytes; unreadable pages are left as zeros so offsets stay addresses. */
  readonly data: Buffer;
  readonly unreadable: number;
  /** The address space vanished during the read (the target exited). */
  readonly gone: boolean;
}

export function errnoOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Read `length` bytes from address `start` of the target. EIO skips to the next page. */
export async function readRegion(mem: FileHandle, start: bigint, length: number, signal?: AbortSignal): Promise<RegionBytes> {
  const data = Buffer.alloc(length);
  let off = 0;
  let unreadable = 0;
  let gone = false;
  while (off < length) {
    signal?.throwIfAborted();
    const want = Math.min(READ_CHUNK, length - off);
    const addr = start + BigInt(off);
    try {
      // User addresses are below 2^47 on x86-64 and 2^52 elsewhere: exact as a number.
      const { bytesRead } = await mem.read(data, off, want, Number(addr));
      if (bytesRead === 0) {
        gone = true;
        unreadable += length - off;
        break;
      }
      off += bytesRead;
    } catch (err) {
      if (errnoOf(err) !== 'EIO') throw err;
      const next = (addr / PAGE + 1n) * PAGE;
      const skip = Math.min(Number(next - addr), length - off);
      unreadable += skip;
      off += skip;
    }
  }
  return { data, unreadable, gone };
}
