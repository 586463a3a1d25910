/** Worker task modules for the worker pool test (run inside piscina workers). */

/** Sum the bytes of a transferred buffer. */
export default function sum(input: { buf: ArrayBuffer }): number {
  const view = new Uint8Array(input.buf);
  let s = 0;
  for (const b of view) s += b;
  return s;
}

/** Block the worker for `ms` (a runaway scan). */
export function spin(input: { ms: number }): string {
  const end = Date.now() + input.ms;
  while (Date.now() < end) {
    /* busy on purpose */
  }
  return 'finished';
}

export function fail(): never {
  throw new Error('task failed on purpose');
}
