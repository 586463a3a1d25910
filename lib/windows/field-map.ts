/**
 * The one table that maps Windows event fields (Sysmon and Security EventData names) to
 * Vigil event types and field paths. The Windows normalizer reads it to build events; the
 * Sigma importer reads it to translate Sigma field names. docs/windows-mapping.md is
 * generated from the same table.
 *
 * A field spec is `path` or `path:kind`, where kind tells the normalizer how to convert:
 *   str (default) · int · hex (a "0x…" or decimal string → number) · bool ("true"/"false")
 *   · time (UTC "YYYY-MM-DD hh:mm:ss.sss" → ms) · hashes ("SHA1=…,MD5=…" → {sha1, md5})
 */

export type FieldKind = 'str' | 'int' | 'hex' | 'bool' | 'time' | 'hashes';

export interface ChannelEventMap {
  /** Normalized event type. */
  type: string;
  /** Source field name → `path[:kind]`. Unlisted fields stay under raw.* only. */
  fields: Readonly<Record<string, string>>;
  /** Short description for the docs. */
  title: string;
}

const proc = {
  ProcessGuid: 'proc.guid',
  ProcessId: 'proc.pid:int',
  Image: 'proc.image',
  User: 'proc.user',
} as const;

const pe = (group: string) =>
  ({
    FileVersion: `${group}.file_version`,
    Description: `${group}.description`,
    Product: `${group}.product`,
    Company: `${group}.company`,
    OriginalFileName: `${group}.original_file_name`,
  }) as const;

const registry = {
  ...proc,
  EventType: 'reg.operation',
  TargetObject: 'reg.key',
  Details: 'reg.data',
  NewName: 'reg.new_name',
} as const;

const wmi = {
  Operation: 'wmi.operation',
  User: 'proc.user',
  EventNamespace: 'wmi.namespace',
  Name: 'wmi.name',
  Query: 'wmi.query',
  Type: 'wmi.type',
  Destination: 'wmi.destination',
  Consumer: 'wmi.consumer',
  Filter: 'wmi.filter',
} as const;

const loadedImage = {
  ImageLoaded: 'image.path',
  Hashes: 'image.hashes:hashes',
  Signed: 'image.signed:bool',
  Signature: 'image.signature',
  SignatureStatus: 'image.signature_status',
} as const;

/** How and from where a Security logon (or a failed one) came. */
const logon = {
  LogonType: 'logon.type:int',
  LogonProcessName: 'logon.process',
  AuthenticationPackageName: 'logon.auth_package',
  WorkstationName: 'logon.workstation',
  IpAddress: 'logon.src_ip',
  IpPort: 'logon.src_port:int',
} as const;

const fileDelete = {
  ...proc,
  TargetFilename: 'file.path',
  Hashes: 'file.hashes:hashes',
  IsExecutable: 'file.is_executable:bool',
} as const;

/** Sysmon (Microsoft-Windows-Sysmon/Operational) event IDs 1–29 and 255. */
export const SYSMON_EVENTS: Readonly<Record<number, ChannelEventMap>> = {
  1: {
    type: 'process.start',
    title: 'Process creation',
    fields: {
      ...proc,
      ...pe('proc'),
      CommandLine: 'proc.cmdline',
      CurrentDirectory: 'proc.cwd',
      LogonId: 'user.logon_id',
      TerminalSessionId: 'proc.session_id:int',
      IntegrityLevel: 'proc.integrity',
      Hashes: 'proc.hashes:hashes',
      ParentProcessGuid: 'parent.guid',
      ParentProcessId: 'parent.pid:int',
      ParentImage: 'parent.image',
      ParentCommandLine: 'parent.cmdline',
      ParentUser: 'parent.user',
    },
  },
  2: {
    type: 'file.time_change',
    title: 'A process changed a file creation time',
    fields: {
      ...proc,
      TargetFilename: 'file.path',
      CreationUtcTime: 'file.creation_time:time',
      PreviousCreationUtcTime: 'file.previous_creation_time:time',
    },
  },
  3: {
    type: 'net.connect',
    title: 'Network connection',
    fields: {
      ...proc,
      Protocol: 'net.protocol',
      Initiated: 'net.initiated:bool',
      SourceIsIpv6: 'net.ipv6:bool',
      SourceIp: 'net.src_ip',
      SourceHostname: 'net.src_host',
      SourcePort: 'net.src_port:int',
      DestinationIp: 'net.dst_ip',
      DestinationHostname: 'net.dst_host',
      DestinationPort: 'net.dst_port:int',
    },
  },
  4: { type: 'sensor.state', title: 'Sysmon service state changed', fields: {} },
  5: { type: 'process.stop', title: 'Process terminated', fields: { ...proc } },
  6: {
    type: 'driver.load',
    title: 'Driver loaded',
    fields: loadedImage,
  },
  7: {
    type: 'image.load',
    title: 'Image loaded',
    fields: {
      ...proc,
      ...pe('image'),
      ...loadedImage,
    },
  },
  8: {
    type: 'thread.remote_create',
    title: 'CreateRemoteThread',
    fields: {
      SourceProcessGuid: 'proc.guid',
      SourceProcessId: 'proc.pid:int',
      SourceImage: 'proc.image',
      SourceUser: 'proc.user',
      TargetProcessGuid: 'target.guid',
      TargetProcessId: 'target.pid:int',
      TargetImage: 'target.image',
      TargetUser: 'target.user',
      NewThreadId: 'thread.id:int',
      StartAddress: 'thread.start_address',
      StartModule: 'thread.start_module',
      StartFunction: 'thread.start_function',
    },
  },
  9: {
    type: 'file.raw_read',
    title: 'RawAccessRead',
    fields: { ...proc, Device: 'file.path' },
  },
  10: {
    type: 'process.access',
    title: 'ProcessAccess',
    fields: {
      SourceProcessGUID: 'proc.guid',
      SourceProcessGuid: 'proc.guid',
      SourceProcessId: 'proc.pid:int',
      SourceThreadId: 'access.source_thread_id:int',
      SourceImage: 'proc.image',
      SourceUser: 'proc.user',
      TargetProcessGUID: 'target.guid',
      TargetProcessGuid: 'target.guid',
      TargetProcessId: 'target.pid:int',
      TargetImage: 'target.image',
      TargetUser: 'target.user',
      GrantedAccess: 'access.granted:hex',
      CallTrace: 'access.call_trace',
    },
  },
  11: {
    type: 'file.create',
    title: 'FileCreate',
    fields: { ...proc, TargetFilename: 'file.path', CreationUtcTime: 'file.creation_time:time' },
  },
  12: { type: 'registry.create', title: 'Registry object added or deleted', fields: registry },
  13: { type: 'registry.set', title: 'Registry value set', fields: registry },
  14: { type: 'registry.rename', title: 'Registry object renamed', fields: registry },
  15: {
    type: 'file.stream_hash',
    title: 'FileCreateStreamHash',
    fields: {
      ...proc,
      TargetFilename: 'file.path',
      CreationUtcTime: 'file.creation_time:time',
      Hash: 'file.hashes:hashes',
      Contents: 'file.contents',
    },
  },
  16: { type: 'config.change', title: 'Sysmon configuration change', fields: {} },
  17: { type: 'pipe.create', title: 'Pipe created', fields: { ...proc, PipeName: 'pipe.name' } },
  18: { type: 'pipe.connect', title: 'Pipe connected', fields: { ...proc, PipeName: 'pipe.name' } },
  19: { type: 'wmi.filter', title: 'WmiEventFilter activity', fields: wmi },
  20: { type: 'wmi.consumer', title: 'WmiEventConsumer activity', fields: wmi },
  21: { type: 'wmi.binding', title: 'WmiEventConsumerToFilter activity', fields: wmi },
  22: {
    type: 'dns.query',
    title: 'DNS query',
    fields: { ...proc, QueryName: 'dns.query', QueryStatus: 'dns.status', QueryResults: 'dns.answers' },
  },
  23: { type: 'file.delete', title: 'FileDelete (archived)', fields: fileDelete },
  24: { type: 'clipboard.change', title: 'Clipboard changed', fields: { ...proc, Hashes: 'file.hashes:hashes' } },
  25: { type: 'process.tamper', title: 'ProcessTampering', fields: { ...proc } },
  26: { type: 'file.delete_detected', title: 'FileDeleteDetected', fields: fileDelete },
  27: { type: 'file.block_executable', title: 'FileBlockExecutable', fields: fileDelete },
  28: { type: 'file.block_shredding', title: 'FileBlockShredding', fields: fileDelete },
  29: { type: 'file.executable_detected', title: 'FileExecutableDetected', fields: fileDelete },
  255: { type: 'sensor.error', title: 'Sysmon error', fields: {} },
};

/** Security, System and PowerShell events with a dedicated mapping, keyed by event ID. */
export const WINDOWS_EVENTS: Readonly<Record<number, ChannelEventMap & { channels: readonly string[] }>> = {
  4688: {
    type: 'process.start',
    title: 'A new process has been created',
    channels: ['Security'],
    fields: {
      NewProcessId: 'proc.pid:hex',
      NewProcessName: 'proc.image',
      CommandLine: 'proc.cmdline',
      MandatoryLabel: 'proc.integrity',
      ProcessId: 'parent.pid:hex',
      ParentProcessName: 'parent.image',
      SubjectUserName: 'user.name',
      SubjectDomainName: 'user.domain',
      SubjectUserSid: 'user.sid',
      SubjectLogonId: 'user.logon_id',
      TargetUserName: 'user.target_name',
      TargetDomainName: 'user.target_domain',
    },
  },
  4689: {
    type: 'process.stop',
    title: 'A process has exited',
    channels: ['Security'],
    fields: { ProcessId: 'proc.pid:hex', ProcessName: 'proc.image', SubjectUserName: 'user.name' },
  },
  4624: {
    type: 'logon.success',
    title: 'An account was successfully logged on',
    channels: ['Security'],
    fields: {
      SubjectUserName: 'user.name',
      SubjectDomainName: 'user.domain',
      SubjectUserSid: 'user.sid',
      TargetUserName: 'user.target_name',
      TargetDomainName: 'user.target_domain',
      TargetUserSid: 'user.target_sid',
      TargetLogonId: 'user.logon_id',
      ...logon,
      ProcessId: 'proc.pid:hex',
      ProcessName: 'proc.image',
    },
  },
  4625: {
    type: 'logon.failure',
    title: 'An account failed to log on',
    channels: ['Security'],
    fields: {
      SubjectUserName: 'user.name',
      SubjectDomainName: 'user.domain',
      TargetUserName: 'user.target_name',
      TargetDomainName: 'user.target_domain',
      TargetUserSid: 'user.target_sid',
      ...logon,
      Status: 'logon.status',
      SubStatus: 'logon.sub_status',
      ProcessId: 'proc.pid:hex',
      ProcessName: 'proc.image',
    },
  },
  4672: {
    type: 'logon.special_privileges',
    title: 'Special privileges assigned to new logon',
    channels: ['Security'],
    fields: {
      SubjectUserName: 'user.name',
      SubjectDomainName: 'user.domain',
      SubjectUserSid: 'user.sid',
      SubjectLogonId: 'user.logon_id',
      PrivilegeList: 'logon.privileges',
    },
  },
  4697: {
    type: 'service.install',
    title: 'A service was installed in the system',
    channels: ['Security'],
    fields: {
      SubjectUserName: 'user.name',
      SubjectDomainName: 'user.domain',
      ServiceName: 'service.name',
      ServiceFileName: 'service.path',
      ServiceType: 'service.type',
      ServiceStartType: 'service.start_type',
      ServiceAccount: 'service.account',
    },
  },
  7045: {
    type: 'service.install',
    title: 'A service was installed in the system',
    channels: ['System'],
    fields: {
      ServiceName: 'service.name',
      ImagePath: 'service.path',
      ServiceType: 'service.type',
      StartType: 'service.start_type',
      AccountName: 'service.account',
    },
  },
  4698: {
    type: 'task.create',
    title: 'A scheduled task was created',
    channels: ['Security'],
    fields: {
      SubjectUserName: 'user.name',
      SubjectDomainName: 'user.domain',
      TaskName: 'task.name',
      TaskContent: 'task.content',
    },
  },
  4104: {
    type: 'script.block',
    title: 'PowerShell script block logging',
    channels: ['Microsoft-Windows-PowerShell/Operational', 'PowerShellCore/Operational'],
    fields: { ScriptBlockText: 'script.text', ScriptBlockId: 'script.block_id', Path: 'script.path' },
  },
  4103: {
    type: 'script.module',
    title: 'PowerShell module logging',
    channels: ['Microsoft-Windows-PowerShell/Operational', 'PowerShellCore/Operational'],
    fields: { Payload: 'script.payload', ContextInfo: 'script.context' },
  },
};

export const SYSMON_CHANNEL = 'Microsoft-Windows-Sysmon/Operational';

/** Split a `path:kind` spec. */
export function parseFieldSpec(spec: string): { path: string; kind: FieldKind } {
  const i = spec.indexOf(':');
  if (i < 0) return { path: spec, kind: 'str' };
  return { path: spec.slice(0, i), kind: spec.slice(i + 1) as FieldKind };
}
