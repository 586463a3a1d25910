export { WorkerPool, type WorkerPoolOptions, type RunOptions } from './worker-pool.js';
