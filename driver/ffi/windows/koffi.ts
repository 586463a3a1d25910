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

/** koffi, imported on first use (never on import of this module) and configured. */
export function windowsKoffi(): Promise<Koffi> {
  loaded ??= import('koffi').then(({ default: koffi }) => {
    const current = koffi.config();
    if ((current.max_async_calls ?? 0) < MAX_ASYNC_CALLS) koffi.config({ ...current, max_async_calls: MAX_ASYNC_CALLS });
    return koffi;
  });
  return loaded;
}
