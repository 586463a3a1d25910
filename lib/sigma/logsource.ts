/**
 * Sigma logsource → Vigil event types, field paths and a guard condition.
 *
 * Category rules (process_creation, file_event …) describe one kind of activity: they map to
 * the normalized event type(s) and their Sysmon-style field names map to normalized paths
 * through the shared Windows field table, so one rule matches every sensor that produces the
 * type. Service rules (security, system, …) describe a log channel: their fields stay raw and
 * a guard on raw.Channel keeps them to that channel; event IDs pinned by the rule select the
 * normalized types, otherwise the rule subscribes to every type the channel can produce.
 */
import {
  SYSMON_CHANNEL,
  SYSMON_EVENTS,
  WINDOWS_EVENTS,
  parseFieldSpec,
  type ChannelEventMap,
} from '../windows/field-map.js';
import type { Condition } from '../rules/index.js';
import { SigmaConversionError } from './types.js';

/** Sysmon event IDs behind each Sigma category (Sigma taxonomy). */
export const CATEGORY_SYSMON_IDS: Readonly<Record<string, readonly number[]>> = {
  process_creation: [1],
  file_change: [2],
  network_connection: [3],
  sysmon_status: [4, 16],
  process_termination: [5],
  driver_load: [6],
  image_load: [7],
  create_remote_thread: [8],
  raw_access_thread: [9],
  process_access: [10],
  file_event: [11],
  registry_add: [12],
  registry_delete: [12],
  registry_set: [13],
  registry_rename: [14],
  registry_event: [12, 13, 14],
  create_stream_hash: [15],
  pipe_created: [17, 18],
  wmi_event: [19, 20, 21],
  dns_query: [22],
  file_delete: [23, 26],
  clipboard_capture: [24],
  process_tampering: [25],
  file_delete_detected: [26],
  file_block_executable: [27],
  file_block_shredding: [28],
  file_executable_detected: [29],
  sysmon_error: [255],
};

/**
 * Categories narrower than their Sysmon event: Sysmon 12 carries both key/value creation and
 * deletion, which the normalizer splits into registry.create and registry.delete.
 */
const CATEGORY_ONLY_TYPES: Readonly<Record<string, readonly string[]>> = {
  registry_add: ['registry.create'],
  registry_delete: ['registry.delete'],
};

/** Extra event types a category covers beyond its Sysmon IDs (other sensors split them). */
const CATEGORY_EXTRA_TYPES: Readonly<Record<string, readonly string[]>> = {
  registry_event: ['registry.delete'],
};

/** Categories with no Sysmon event but a Vigil type: [types, Sysmon ID whose field names apply]. */
const CATEGORY_OTHER: Readonly<Record<string, { types: readonly string[]; fieldsFrom: number }>> = {
  file_access: { types: ['file.open'], fieldsFrom: 11 },
};

/** PowerShell categories: the normalized script events, or the classic channel as raw events. */
const POWERSHELL_CATEGORIES: Readonly<Record<string, { type: string; fieldsFrom?: number; channel?: string; eventId?: number }>> = {
  ps_script: { type: 'script.block', fieldsFrom: 4104 },
  ps_module: { type: 'script.module', fieldsFrom: 4103 },
  ps_classic_start: { type: 'windows.event', channel: 'Windows PowerShell', eventId: 400 },
  ps_classic_provider_start: { type: 'windows.event', channel: 'Windows PowerShell', eventId: 600 },
  ps_classic_script: { type: 'windows.event', channel: 'Windows PowerShell', eventId: 800 },
};

/** Categories a Linux sensor produces (same field names as Sysmon's in Sigma's Linux rules). */
const LINUX_CATEGORIES = new Set([
  'process_creation',
  'process_termination',
  'network_connection',
  'file_event',
  'file_delete',
  'file_access',
  'file_change',
  'dns_query',
]);

/**
 * Linux log services (auditd, syslog, sshd …) have no dedicated Vigil event type: their rules
 * test raw fields on every type a Linux sensor emits. raw.* only exists on events whose source
 * carried those fields, so a rule on `type: EXECVE` only meets audit-sourced events.
 */
export const LINUX_GENERIC_TYPES = [
  'process.start',
  'process.stop',
  'process.ptrace',
  'file.create',
  'file.open',
  'file.delete',
  'net.connect',
  'net.listen',
  'dns.query',
] as const;

/** Sigma `service` → Windows event log channel(s). */
export const WINDOWS_SERVICE_CHANNELS: Readonly<Record<string, readonly string[]>> = {
  security: ['Security'],
  system: ['System'],
  application: ['Application'],
  sysmon: [SYSMON_CHANNEL],
  powershell: ['Microsoft-Windows-PowerShell/Operational', 'PowerShellCore/Operational'],
  'powershell-classic': ['Windows PowerShell'],
  taskscheduler: ['Microsoft-Windows-TaskScheduler/Operational'],
  wmi: ['Microsoft-Windows-WMI-Activity/Operational'],
  'dns-server': ['DNS Server'],
  'dns-server-analytic': ['Microsoft-Windows-DNS-Server/Analytical'],
  'dns-server-audit': ['Microsoft-Windows-DNS-Server/Audit'],
  'dns-client': ['Microsoft-Windows-DNS-Client/Operational'],
  'driver-framework': ['Microsoft-Windows-DriverFrameworks-UserMode/Operational'],
  dhcp: ['Microsoft-Windows-DHCP-Server/Operational'],
  ntlm: ['Microsoft-Windows-NTLM/Operational'],
  windefend: ['Microsoft-Windows-Windows Defender/Operational'],
  applocker: [
    'Microsoft-Windows-AppLocker/EXE and DLL',
    'Microsoft-Windows-AppLocker/MSI and Script',
    'Microsoft-Windows-AppLocker/Packaged app-Deployment',
    'Microsoft-Windows-AppLocker/Packaged app-Execution',
  ],
  'msexchange-management': ['MSExchange Management'],
  'printservice-admin': ['Microsoft-Windows-PrintService/Admin'],
  'printservice-operational': ['Microsoft-Windows-PrintService/Operational'],
  'smbclient-security': ['Microsoft-Windows-SmbClient/Security'],
  'smbclient-connectivity': ['Microsoft-Windows-SmbClient/Connectivity'],
  'smbserver-connectivity': ['Microsoft-Windows-SMBServer/Connectivity'],
  'codeintegrity-operational': ['Microsoft-Windows-CodeIntegrity/Operational'],
  'firewall-as': ['Microsoft-Windows-Windows Firewall With Advanced Security/Firewall'],
  'bits-client': ['Microsoft-Windows-Bits-Client/Operational'],
  'terminalservices-localsessionmanager': ['Microsoft-Windows-TerminalServices-LocalSessionManager/Operational'],
  'microsoft-servicebus-client': ['Microsoft-ServiceBus-Client'],
  ldap: ['Microsoft-Windows-LDAP-Client/Debug'],
  ldap_debug: ['Microsoft-Windows-LDAP-Client/Debug'],
  'security-mitigations': [
    'Microsoft-Windows-Security-Mitigations/Kernel Mode',
    'Microsoft-Windows-Security-Mitigations/User Mode',
  ],
  'diagnosis-scripted': ['Microsoft-Windows-Diagnosis-Scripted/Operational'],
  'shell-core': ['Microsoft-Windows-Shell-Core/Operational'],
  openssh: ['OpenSSH/Operational'],
  bitlocker: ['Microsoft-Windows-BitLocker/BitLocker Management'],
  vhdmp: ['Microsoft-Windows-VHDMP/Operational'],
  'appxdeployment-server': ['Microsoft-Windows-AppXDeploymentServer/Operational'],
  'appxpackaging-om': ['Microsoft-Windows-AppxPackaging/Operational'],
  'appmodel-runtime': ['Microsoft-Windows-AppModel-Runtime/Admin'],
  'lsa-server': ['Microsoft-Windows-LSA/Operational'],
  capi2: ['Microsoft-Windows-CAPI2/Operational'],
  'certificateservicesclient-lifecycle-system': ['Microsoft-Windows-CertificateServicesClient-Lifecycle-System/Operational'],
  'hyper-v-worker': ['Microsoft-Windows-Hyper-V-Worker-Admin'],
  'iis-configuration': ['Microsoft-IIS-Configuration/Operational'],
};

/**
 * Fields whose exact source string matters to Sigma (it compares strings): the normalized form
 * converts them (hex → number, hashes → object, bool, time), so rules keep the raw value.
 */
export const RAW_ONLY_FIELDS: ReadonlySet<string> = new Set(['GrantedAccess', 'Hashes', 'CallTrace', 'Hash']);
const RAW_ONLY_KINDS: ReadonlySet<string> = new Set(['hex', 'bool', 'time', 'hashes']);

export interface ResolvedLogsource {
  /** Stats key, e.g. `windows/process_creation`. */
  key: string;
  /** Sigma field name → event path. */
  mapField(name: string): string;
  /**
   * Event types for the converted condition (service rules narrow them by the event IDs the
   * condition pins).
   */
  eventTypes(match: Condition): string[];
  /** ANDed in front of the converted condition (channel / event ID of a log-channel rule). */
  guard?: Condition;
}

function rawPath(name: string): string {
  return `raw.${name}`;
}

/** A field map from one or more channel event maps, leaving raw-only fields out. */
function fieldTable(maps: readonly ChannelEventMap[]): Map<string, string> {
  const table = new Map<string, string>();
  for (const m of maps) {
    for (const [name, spec] of Object.entries(m.fields)) {
      const { path, kind } = parseFieldSpec(spec);
      if (RAW_ONLY_FIELDS.has(name) || RAW_ONLY_KINDS.has(kind)) continue;
      if (!table.has(name)) table.set(name, path);
    }
  }
  return table;
}

function mapperFor(table: Map<string, string>): (name: string) => string {
  const lower = new Map<string, string>();
  for (const [k, v] of table) lower.set(k.toLowerCase(), v);
  return (name) => table.get(name) ?? lower.get(name.toLowerCase()) ?? rawPath(name);
}

function unique(xs: Iterable<string>): string[] {
  return [...new Set(xs)];
}

function channelGuard(channels: readonly string[]): Condition {
  return { field: 'raw.Channel', equals_any: [...channels] };
}

function intersect(a: ReadonlySet<number>, b: ReadonlySet<number>): Set<number> {
  const out = new Set<number>();
  for (const v of a) if (b.has(v)) out.add(v);
  return out;
}

/**
 * Event IDs the condition requires: every match must carry one of them. null when the
 * condition does not pin raw.EventID (a negation, or an alternative without it).
 */
export function pinnedEventIds(c: Condition): Set<number> | null {
  if ('all' in c) {
    let acc: Set<number> | null = null;
    for (const x of c.all) {
      const s = pinnedEventIds(x);
      if (s === null) continue;
      acc = acc === null ? s : intersect(acc, s);
    }
    return acc;
  }
  if ('any' in c) {
    const acc = new Set<number>();
    for (const x of c.any) {
      const s = pinnedEventIds(x);
      if (s === null) return null;
      for (const v of s) acc.add(v);
    }
    return acc;
  }
  if ('field' in c && c.field === 'raw.EventID' && c.equals_any) {
    const ids = c.equals_any.map((v) => (typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : NaN));
    return ids.some((v) => Number.isNaN(v)) ? null : new Set(ids);
  }
  return null;
}

function windowsServiceTypes(channels: readonly string[], ids: Set<number> | null, sysmon: boolean): string[] {
  if (sysmon) {
    if (ids === null) return unique(['windows.event', ...Object.values(SYSMON_EVENTS).map((e) => e.type)]);
    return unique([...ids].map((id) => SYSMON_EVENTS[id]?.type ?? 'windows.event'));
  }
  const ofChannel = (id: number): string | undefined => {
    const e = WINDOWS_EVENTS[id];
    return e && e.channels.some((ch) => channels.includes(ch)) ? e.type : undefined;
  };
  if (ids === null) {
    const types = Object.keys(WINDOWS_EVENTS)
      .map((k) => ofChannel(Number(k)))
      .filter((t): t is string => t !== undefined);
    return unique(['windows.event', ...types]);
  }
  return unique([...ids].map((id) => ofChannel(id) ?? 'windows.event'));
}

function fromCategory(category: string, product: string): ResolvedLogsource {
  const key = `${product}/${category}`;
  const ids = CATEGORY_SYSMON_IDS[category];
  if (ids) {
    const maps = ids.map((id) => SYSMON_EVENTS[id]).filter((m): m is ChannelEventMap => m !== undefined);
    const types = CATEGORY_ONLY_TYPES[category] ? [...CATEGORY_ONLY_TYPES[category]] : unique([...maps.map((m) => m.type), ...(CATEGORY_EXTRA_TYPES[category] ?? [])]);
    return { key, mapField: mapperFor(fieldTable(maps)), eventTypes: () => types };
  }
  const other = CATEGORY_OTHER[category];
  if (other) {
    const from = SYSMON_EVENTS[other.fieldsFrom];
    return { key, mapField: mapperFor(fieldTable(from ? [from] : [])), eventTypes: () => [...other.types] };
  }
  const ps = POWERSHELL_CATEGORIES[category];
  if (ps && product === 'windows') {
    const from = ps.fieldsFrom === undefined ? undefined : WINDOWS_EVENTS[ps.fieldsFrom];
    const resolved: ResolvedLogsource = {
      key,
      mapField: mapperFor(fieldTable(from ? [from] : [])),
      eventTypes: () => [ps.type],
    };
    if (ps.channel !== undefined && ps.eventId !== undefined) {
      resolved.guard = { all: [channelGuard([ps.channel]), { field: 'raw.EventID', equals_any: [ps.eventId] }] };
    }
    return resolved;
  }
  throw new SigmaConversionError('unsupported-logsource', `category ${category} (${product}) has no Vigil event type`);
}

/** Resolve a Sigma logsource; throws SigmaConversionError('unsupported-logsource') otherwise. */
export function resolveLogsource(logsource: Record<string, string>): ResolvedLogsource {
  const product = logsource['product']?.toLowerCase();
  const category = logsource['category']?.toLowerCase();
  const service = logsource['service']?.toLowerCase();
  if (product !== 'windows' && product !== 'linux') {
    const what = product ? `product ${product}` : `a logsource without product (${category ?? service ?? 'empty'})`;
    throw new SigmaConversionError('unsupported-logsource', `${what} has no Vigil sensor`);
  }
  if (product === 'linux') {
    // Linux rules share event types with Windows ones (process.start …); events from the
    // Windows event log carry raw.Channel, Linux sources never do: keep the two apart.
    const notWindows: Condition = { field: 'raw.Channel', exists: false };
    if (category) {
      if (!LINUX_CATEGORIES.has(category)) {
        throw new SigmaConversionError('unsupported-logsource', `category ${category} (linux) has no Vigil event type`);
      }
      return { ...fromCategory(category, product), guard: notWindows };
    }
    return { key: `linux/${service ?? '-'}`, mapField: rawPath, eventTypes: () => [...LINUX_GENERIC_TYPES], guard: notWindows };
  }
  if (category) return fromCategory(category, product);
  if (!service) {
    // Product-only Windows rules (keyword searches) look at every Windows event.
    const all = unique([
      'windows.event',
      ...Object.values(SYSMON_EVENTS).map((e) => e.type),
      ...Object.values(WINDOWS_EVENTS).map((e) => e.type),
    ]);
    return { key: 'windows/-', mapField: rawPath, eventTypes: () => all };
  }
  const channels = WINDOWS_SERVICE_CHANNELS[service];
  if (!channels) throw new SigmaConversionError('unsupported-logsource', `service ${service} (windows) has no known event log channel`);
  const sysmon = service === 'sysmon';
  return {
    key: `windows/${service}`,
    mapField: rawPath,
    eventTypes: (match) => windowsServiceTypes(channels, pinnedEventIds(match), sysmon),
    guard: channelGuard(channels),
  };
}
