import type { PluginManifest } from '../../../core/index.js';
import { procConnConfigSchema } from './config.js';

/** Read by the CLI without importing the sensor. */
export const manifest: PluginManifest & { readonly kind: 'sensor' } = Object.freeze({
  id: 'proc-connector',
  kind: 'sensor',
  apiVersion: '2.0.0',
  version: '0.1.0',
  description: 'Linux process exec, fork, exit (with code), ptrace attach, uid and comm changes from the netlink proc connector (root, no BPF); program, command line and cwd read from /proc at once',
  platforms: Object.freeze(['linux'] as const),
  produces: Object.freeze(['process.start', 'process.stop', 'process.ptrace']),
  consumes: Object.freeze([]),
  delivery: 'live',
  configSchema: procConnConfigSchema,
});
