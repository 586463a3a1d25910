/**
 * glibc bindings (Linux). The only place Vigil calls the C library directly; like every
 * binding, it lives under driver/ffi, the one folder that imports koffi.
 *
 * koffi is loaded when a binding is asked for, not when this module is imported: callers
 * import it statically on every platform, and a system where koffi's native module does not
 * load gets a rejected bind (with the reason) instead of a module that fails to import.
 */

/** glibc's mallopt parameter M_MMAP_THRESHOLD (malloc.h). */
export const M_MMAP_THRESHOLD = -3;

/** `int mallopt(int param, int value)`: 1 on success, 0 when glibc refuses the value. */
export type Mallopt = (param: number, value: number) => number;

/** Bind glibc's mallopt; rejects when koffi, libc.so.6 or the symbol cannot be loaded. */
export async function bindMallopt(): Promise<Mallopt> {
  const { default: koffi } = await import('koffi');
  return koffi.load('libc.so.6').func('int mallopt(int param, int value)') as Mallopt;
}
