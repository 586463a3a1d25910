import 'reflect-metadata';
export { container, inject, injectable, singleton, type DependencyContainer, type InjectionToken } from 'tsyringe';
export { WORKER_POOL, PROCESS_TABLE } from './tokens.js';
