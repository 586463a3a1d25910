import { VigilError } from '../errors/index.js';
import type { PluginManifest } from './types.js';

type Handler = 'onEvents' | 'onDetections' | 'onActions';

interface Capability {
  handler: Handler;
  /** The manifest declares the input this handler receives. */
  declared(m: PluginManifest): boolean;
  /** What declares it, for messages. */
  declaration: string;
}

// What the kernel delivers and to which handler (see Kernel.subscribe): a capability is the
// declaration and the handler together.
const CAPABILITIES: readonly Capability[] = [
  {
    handler: 'onEvents',
    declared: (m) => m.kind !== 'sensor' && m.consumes.some((t) => t !== 'detection'),
    declaration: 'event types in consumes',
  },
  {
    handler: 'onDetections',
    declared: (m) => m.kind !== 'sensor' && m.consumes.includes('detection'),
    declaration: "'detection' in consumes",
  },
  {
    handler: 'onActions',
    declared: (m) => m.kind === 'responder' && (m.actions ?? []).some((a) => a !== 'alert'),
    declaration: "a responder's actions other than 'alert'",
  },
];

/**
 * Where an instance and its manifest disagree: a declared input without its handler (it
 * would be discarded) or a handler without its declaration (it would never be called).
 */
export function capabilityProblems(manifest: PluginManifest, instance: unknown): string[] {
  if (instance === null || typeof instance !== 'object') return [`create() returned ${instance === null ? 'null' : typeof instance}, not an instance`];
  const i = instance as Record<string, unknown>;
  const problems: string[] = [];
  for (const name of ['start', 'stop']) if (typeof i[name] !== 'function') problems.push(`the instance has no ${name}()`);
  for (const c of CAPABILITIES) {
    const has = typeof i[c.handler] === 'function';
    const declared = c.declared(manifest);
    if (declared && !has) problems.push(`the manifest declares ${c.declaration} but the instance has no ${c.handler}()`);
    if (!declared && has) problems.push(`the instance has ${c.handler}() but the manifest declares no ${c.declaration}, so it would never be called`);
  }
  return problems;
}

/** Refuse an instance that implements half a capability, naming the missing half. */
export function checkCapabilities(manifest: PluginManifest, instance: unknown): void {
  const problems = capabilityProblems(manifest, instance);
  if (problems.length > 0) {
    throw new VigilError('VIGIL_ERR_PLUGIN_CAPABILITY', `plugin ${manifest.id}: ${problems.join('; ')}`, {
      details: { plugin: manifest.id, problems },
    });
  }
}
