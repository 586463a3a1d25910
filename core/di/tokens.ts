import type { InjectionToken } from 'tsyringe';
import type { WorkerPool } from '../workers/worker-pool.js';
import type { ProcessTable } from '../process-table/process-table.js';

/**
 * DI tokens of the services the core offers plugins. A plugin declares the ones it needs in
 * its manifest (`services`, see core/plugin/services.ts) and resolves them from ctx.container.
 */
export const WORKER_POOL: InjectionToken<WorkerPool> = Symbol.for('vigil.WorkerPool');
export const PROCESS_TABLE: InjectionToken<ProcessTable> = Symbol.for('vigil.ProcessTable');
