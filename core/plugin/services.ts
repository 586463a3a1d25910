import type { DependencyContainer, InjectionToken } from 'tsyringe';
import { PROCESS_TABLE, WORKER_POOL } from '../di/tokens.js';
import { VigilError } from '../errors/index.js';
import type { ProcessTable } from '../process-table/process-table.js';
import type { WorkerPool } from '../workers/worker-pool.js';
import type { PluginManifest } from './types.js';

/** A service the core offers plugins: the DI token it is resolved by, typed by what it yields. */
export interface ServiceToken<T> {
  readonly token: InjectionToken<T>;
  /** Never set: carries the service's type. */
  readonly type?: T;
}

function service<T>(token: InjectionToken<T>): ServiceToken<T> {
  return { token };
}

/**
 * The closed set of services a plugin may declare in its manifest (`services`). A plugin's
 * container holds exactly the services it declares; a new service is one line here.
 */
export const PLUGIN_SERVICES = Object.freeze({
  'worker-pool': service<WorkerPool>(WORKER_POOL),
  'process-table': service<ProcessTable>(PROCESS_TABLE),
});

/** The name a manifest uses for a service (`services: ['worker-pool']`). */
export type ServiceName = keyof typeof PLUGIN_SERVICES;

/** The service a name stands for. */
export type ServiceOf<K extends ServiceName> = (typeof PLUGIN_SERVICES)[K] extends ServiceToken<infer T> ? T : never;

/** What a host can hand plugins: a factory per service, called once per plugin that declares it. */
export type ServiceProviders = { readonly [K in ServiceName]?: () => ServiceOf<K> };

/** Every service name, in a stable order. */
export const SERVICE_NAMES: readonly ServiceName[] = Object.freeze(Object.keys(PLUGIN_SERVICES) as ServiceName[]);

function isServiceName(name: string): name is ServiceName {
  return Object.prototype.hasOwnProperty.call(PLUGIN_SERVICES, name);
}

/** The declared services that the core does not offer (an empty list when all are known). */
export function unknownServices(manifest: Pick<PluginManifest, 'services'>): string[] {
  return (manifest.services ?? []).filter((s) => !isServiceName(s));
}

/** Refuse a manifest that declares a service the core does not offer, naming it. */
export function checkServices(manifest: Pick<PluginManifest, 'id' | 'services'>): void {
  const unknown = unknownServices(manifest);
  if (unknown.length > 0) {
    throw new VigilError(
      'VIGIL_ERR_PLUGIN_SERVICE',
      `plugin ${manifest.id} declares the service${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}, which the core does not offer (it offers ${SERVICE_NAMES.join(', ')})`,
      { details: { plugin: manifest.id, unknown, offered: [...SERVICE_NAMES] } },
    );
  }
}

/**
 * The plugin's own child container: the services its manifest declares are registered in it
 * (each made once, on first resolve), and every other service token is registered to throw
 * VIGIL_ERR_PLUGIN_SERVICE naming what to declare, so an undeclared dependency fails clearly
 * instead of as tsyringe's "unregistered dependency token". Throws at once for a declared
 * service that is unknown or that `providers` lacks.
 */
export function createPluginContainer(
  parent: DependencyContainer,
  manifest: Pick<PluginManifest, 'id' | 'services'>,
  providers: ServiceProviders,
): DependencyContainer {
  checkServices(manifest);
  const declared = new Set<string>(manifest.services ?? []);
  const missing = [...declared].filter((name) => isServiceName(name) && providers[name] === undefined);
  if (missing.length > 0) {
    throw new VigilError('VIGIL_ERR_PLUGIN_SERVICE', `plugin ${manifest.id} needs the service${missing.length > 1 ? 's' : ''} ${missing.join(', ')}, which this host does not provide`, {
      details: { plugin: manifest.id, missing },
    });
  }
  const child = parent.createChildContainer();
  for (const name of SERVICE_NAMES) register(child, manifest.id, name, declared.has(name) ? providers[name] : undefined);
  return child;
}

function register<K extends ServiceName>(child: DependencyContainer, id: string, name: K, provide: (() => ServiceOf<K>) | undefined): void {
  const token = PLUGIN_SERVICES[name].token as InjectionToken<ServiceOf<K>>;
  if (provide === undefined) {
    child.register(token, {
      useFactory: () => {
        throw new VigilError('VIGIL_ERR_PLUGIN_SERVICE', `plugin ${id} resolved the ${name} service without declaring it: add '${name}' to its manifest's services`, {
          details: { plugin: id, service: name },
        });
      },
    });
    return;
  }
  let made: { value: ServiceOf<K> } | undefined;
  child.register(token, { useFactory: () => (made ??= { value: provide() }).value });
}
