import type { PluginManifest } from '../../../core/index.js';

/** The action this responder performs; the response policy routes requests for it here. */
export const DRIVER_ENFORCE_ACTIONS = ['protect'] as const;

export const driverEnforceConfigSchema = Object.freeze({
  type: 'object',
  additionalProperties: false,
  properties: {
    mode: { type: 'string', enum: ['monitor', 'enforce'], default: 'enforce', description: 'The driver mode given to a process a rule flagged.' },
  },
});

/** Read by the CLI without importing the responder. */
export const manifest: PluginManifest & { readonly kind: 'responder' } = Object.freeze({
  id: 'driver-enforce',
  kind: 'responder',
  apiVersion: '2.0.0',
  version: '0.1.0',
  description: "Adds a process a rule flagged (pid + creation time) to the Vigil driver's protected set, so untrusted handles to it lose their dangerous rights; lsass.exe stays protected.",
  platforms: Object.freeze(['win32'] as const),
  produces: Object.freeze([]),
  consumes: Object.freeze([]),
  actions: Object.freeze([...DRIVER_ENFORCE_ACTIONS]),
  configSchema: driverEnforceConfigSchema,
});
