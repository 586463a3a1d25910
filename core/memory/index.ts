export { BlockPool, PLAIN_BLOCKS, type BlockSource, type BlockPoolCounters, type BlockPoolOptions } from './block-pool.js';
