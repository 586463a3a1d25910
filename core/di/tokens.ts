import type { InjectionToken } from 'tsyringe';
import type { WorkerPool } from '../workers/worker-pool.js';
import type { ProcessTable } from '../process-table/process-table.js';
import type { Logger } from '../telemetry/logger.js';
import type { VigilConfig } from '../config/types.js';

/** DI tokens the core registers in the root container; plugins resolve them from ctx.container. */
export const WORKER_POOL: InjectionToken<WorkerPool> = Symbol.for('vigil.WorkerPool');
export const PROCESS_TABLE: InjectionToken<ProcessTable> = Symbol.for('vigil.ProcessTable');
export const ROOT_LOGGER: InjectionToken<Logger> = Symbol.for('vigil.Logger');
export const AGENT_CONFIG: InjectionToken<Readonly<VigilConfig>> = Symbol.for('vigil.AgentConfig');
