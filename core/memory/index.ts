export { BlockPool, PLAIN_BLOCKS, type BlockSource, type BlockPoolCounters, type BlockPoolOptions } from './block-pool.js';
export { fixMmapThreshold, nativeHeapStatus, DEFAULT_MMAP_THRESHOLD, type NativeHeapStatus } from './native-heap.js';
