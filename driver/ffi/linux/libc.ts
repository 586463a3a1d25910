/**
 * glibc bindings (Linux). The only place Vigil calls the C library directly; like every
 * binding, it lives under driver/ffi, the one folder that imports koffi.
 */
import koffi from 'koffi';

/** glibc's mallopt parameter M_MMAP_THRESHOLD (malloc.h). */
export const M_MMAP_THRESHOLD = -3;

/** `int mallopt(int param, int value)`: 1 on success, 0 when glibc refuses the value. */
export type Mallopt = (param: number, value: number) => number;

/** Bind glibc's mallopt; throws when libc.so.6 or the symbol cannot be loaded. */
export function bindMallopt(): Mallopt {
  return koffi.load('libc.so.6').func('int mallopt(int param, int value)') as Mallopt;
}
