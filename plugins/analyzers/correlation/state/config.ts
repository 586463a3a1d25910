/** The state memory's two config keys, without the code behind them (the manifest reads them). */

export interface StateMemoryConfig {
  /** Prepare the state's memory blocks on a helper thread (page faults off the event loop). */
  prefault_memory: boolean;
  /** Linux with glibc: fix the mmap threshold so that blocks the state gives up leave the process. */
  return_freed_memory: boolean;
}

/** The keys' JSON Schema, spread into the plugin's config schema `properties`. */
export const STATE_MEMORY_PROPERTIES = {
  prefault_memory: { type: 'boolean', default: true },
  return_freed_memory: { type: 'boolean', default: true },
} as const;
