/**
 * The correlation state: where live partial matches and count groups are kept, off the JS
 * heap, and the memory that holds them. The engine sees it through `StateStore`; the plugin
 * wires its memory through `StateMemory`.
 */
export { createStateStore, type StateStore, type RuleRecords, type CountGroups, type ChainItem } from './store.js';
export { StateMemory, STATE_MEMORY_PROPERTIES, type StateMemoryConfig, type StateMemoryContext } from './lifecycle.js';
export { BlockPool, PLAIN_BLOCKS, type BlockSource, type BlockPoolCounters, type BlockPoolOptions } from './block-pool.js';
export { fixMmapThreshold, nativeHeapStatus, DEFAULT_MMAP_THRESHOLD, type NativeHeapStatus } from './native-heap.js';
