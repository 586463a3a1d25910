/**
 * koffi for the Windows bindings, configured once before the first `koffi.load`: sensors
 * park foreign threads in blocking calls (EvtNext, ProcessTrace, waits), and more than
 * `max_async_calls` (default 256) of them at once aborts node.
 */
import type koffiModule from 'koffi';

export type Koffi = typeof koffiModule;

/** Raised from koffi's default of 256; the maximum koffi accepts is 4096. */
export const MAX_ASYNC_CALLS = 1024;

let loaded: Promise<Koffi> | undefined;

/**
 * koffi, imported on first use (never on import of this module) and configured. Every
 * Windows binding gets koffi here: koffi refuses a config change once any library is loaded.
 */
export function windowsKoffi(): Promise<Koffi> {
  loaded ??= import('koffi').then(({ default: koffi }) => {
    const current = koffi.config();
    if ((current.max_async_calls ?? 0) >= MAX_ASYNC_CALLS) return koffi;
    try {
      koffi.config({ ...current, max_async_calls: MAX_ASYNC_CALLS });
    } catch (err) {
      throw new Error(
        `koffi was used to load a library before the Windows bindings could raise max_async_calls to ${MAX_ASYNC_CALLS} (it is ${current.max_async_calls}): load koffi through driver/ffi/windows/koffi.ts`,
        { cause: err },
      );
    }
    return koffi;
  });
  return loaded;
}
