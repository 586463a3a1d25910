/**
 * The normalized event types: category and verb. Every Sysmon event ID and every other
 * source maps onto these (docs/event-reference.md). Rules and manifests naming a type not
 * in this list are refused by lint; third-party sensors may add types under `x.<vendor>.`.
 */
export const EVENT_TYPES = [
  'process.start',
  'process.stop',
  'process.access',
  'process.tamper',
  'process.ptrace',
  'thread.remote_create',
  'image.load',
  'driver.load',
  'file.create',
  'file.open',
  'file.delete',
  'file.delete_detected',
  'file.time_change',
  'file.stream_hash',
  'file.raw_read',
  'file.block_executable',
  'file.block_shredding',
  'file.executable_detected',
  'registry.create',
  'registry.delete',
  'registry.set',
  'registry.rename',
  'net.connect',
  'net.listen',
  'dns.query',
  'pipe.create',
  'pipe.connect',
  'wmi.filter',
  'wmi.consumer',
  'wmi.binding',
  'clipboard.change',
  'logon.success',
  'logon.failure',
  'logon.special_privileges',
  'service.install',
  'task.create',
  'script.block',
  'script.module',
  'memory.access',
  'scan.result',
  'sensor.state',
  'sensor.error',
  'config.change',
  'windows.event',
] as const;

export type KnownEventType = (typeof EVENT_TYPES)[number];

const known: ReadonlySet<string> = new Set(EVENT_TYPES);

/** True for a type in EVENT_TYPES or a vendor extension type (`x.<vendor>.<name>`). */
export function isKnownEventType(type: string): boolean {
  return known.has(type) || /^x\.[a-z0-9_-]+\.[a-z0-9_.-]+$/.test(type);
}
