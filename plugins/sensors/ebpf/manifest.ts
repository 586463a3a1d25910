import type { PluginManifest } from '../../../core/index.js';
import { ebpfConfigSchema } from './config.js';

/** Read by the CLI without importing the sensor. */
export const manifest: PluginManifest & { readonly kind: 'sensor' } = Object.freeze({
  id: 'ebpf',
  kind: 'sensor',
  apiVersion: '2.0.0',
  version: '0.1.0',
  description: 'Linux process exec (image, argv, cwd, ids), fork, exit, ptrace attach, process_vm_writev, TCP connect, file open/create/delete under watched prefixes, /proc/<pid>/mem opens, memfd_create and kernel module loads from CO-RE BPF programs (root, BTF)',
  platforms: Object.freeze(['linux'] as const),
  produces: Object.freeze(['process.start', 'process.stop', 'process.ptrace', 'memory.access', 'net.connect', 'file.open', 'file.create', 'file.delete', 'driver.load']),
  consumes: Object.freeze([]),
  delivery: 'live',
  exclusive: Object.freeze(['bpf:vigil']),
  configSchema: ebpfConfigSchema,
});
