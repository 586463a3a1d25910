/**
 * The normalized event: one flat envelope (stamped by the core) plus the payload groups a
 * sensor fills. Field paths used by rules (`proc.image`, `target.pid`, `raw.GrantedAccess`)
 * are plain dotted paths into this object. See docs/event-reference.md.
 */

/** A process as seen by a sensor or the process table. */
export interface ProcessInfo {
  pid?: number;
  /** Globally unique process identity (Sysmon ProcessGuid, or `pid@start_time` elsewhere). */
  guid?: string;
  /** Process start time, ms since the Unix epoch. */
  start_time?: number;
  /** Full path of the executable. */
  image?: string;
  /** Executable file name only (lower-cased is not implied). */
  name?: string;
  cmdline?: string;
  cwd?: string;
  ppid?: number;
  parent_guid?: string;
  /** `DOMAIN\\user` or a Unix user name. */
  user?: string;
  uid?: number;
  integrity?: string;
  session_id?: number;
  hashes?: Hashes;
  /** Original file name from the PE version resource (Sysmon OriginalFileName). */
  original_file_name?: string;
  product?: string;
  company?: string;
  description?: string;
  file_version?: string;
}

/** Hashes keyed by lower-case algorithm name: md5, sha1, sha256, imphash. */
export type Hashes = Record<string, string>;

export interface ThreadInfo {
  id?: number;
  start_address?: string;
  start_module?: string;
  start_function?: string;
}

export interface AccessInfo {
  /** Granted access mask (Sysmon GrantedAccess) as a number. */
  granted?: number;
  call_trace?: string;
  /** Source thread id of the access. */
  source_thread_id?: number;
  /** Vigil driver: the rights asked for. */
  desired?: number;
  /** Vigil driver: the rights removed from the handle (enforce), 0 when none were. */
  stripped?: number;
  /** Vigil driver: the rights enforce removes (reported in monitor mode too). */
  would_strip?: number;
  /** Vigil driver: the protection mode of the target. */
  mode?: 'monitor' | 'enforce';
  /** Vigil driver: a process or a thread handle. */
  object?: 'process' | 'thread';
  /** Vigil driver: the handle was opened or duplicated. */
  operation?: 'create' | 'duplicate';
}

export interface FileInfo {
  path?: string;
  name?: string;
  hashes?: Hashes;
  creation_time?: number;
  previous_creation_time?: number;
  /** Alternate data stream contents, Sysmon FileCreateStreamHash. */
  contents?: string;
  is_executable?: boolean;
  /** Linux: open flags / mode. */
  flags?: number;
  mode?: number;
}

export interface ImageInfo {
  path?: string;
  hashes?: Hashes;
  signed?: boolean;
  signature?: string;
  signature_status?: string;
  original_file_name?: string;
  product?: string;
  company?: string;
  description?: string;
  file_version?: string;
}

export interface RegistryInfo {
  /** Full key path (TargetObject). */
  key?: string;
  /** Value name when known. */
  value?: string;
  /** Written data (Details). */
  data?: string;
  /** Sysmon EventType: CreateKey, DeleteKey, SetValue, DeleteValue, RenameKey. */
  operation?: string;
  new_name?: string;
}

export interface NetInfo {
  protocol?: string;
  initiated?: boolean;
  src_ip?: string;
  src_port?: number;
  src_host?: string;
  dst_ip?: string;
  dst_port?: number;
  dst_host?: string;
  ipv6?: boolean;
}

export interface DnsInfo {
  query?: string;
  status?: string;
  answers?: string;
}

export interface UserInfo {
  name?: string;
  domain?: string;
  sid?: string;
  logon_id?: string;
  /** Subject/target split for Windows security events. */
  target_name?: string;
  target_domain?: string;
  target_sid?: string;
}

export interface LogonInfo {
  type?: number;
  process?: string;
  auth_package?: string;
  src_ip?: string;
  src_port?: number;
  workstation?: string;
  status?: string;
  sub_status?: string;
  privileges?: string;
}

export interface ServiceInfo {
  name?: string;
  path?: string;
  type?: string;
  start_type?: string;
  account?: string;
}

export interface TaskInfo {
  name?: string;
  content?: string;
}

export interface ScriptInfo {
  text?: string;
  path?: string;
  block_id?: string;
  /** PowerShell 4103 payload / context. */
  payload?: string;
  context?: string;
}

export interface PipeInfo {
  name?: string;
}

export interface WmiInfo {
  operation?: string;
  name?: string;
  namespace?: string;
  query?: string;
  consumer?: string;
  filter?: string;
  destination?: string;
  type?: string;
}

/**
 * A memory region (or file section) a scanner flagged. Addresses are `0x`-prefixed hex
 * strings for display; `kind` says why it was flagged.
 */
export interface ScanRegion {
  readonly start: string;
  readonly end: string;
  /** As /proc/<pid>/maps spells them (`rwxp`), or the Windows protection name. */
  readonly perms?: string;
  /**
   * `anon_exec`, `wx`, `deleted_exec`, `memfd_exec`, `patched_code` (Linux region scanner);
   * `implanted_pe`, `implanted_shc`, `replaced`, `hdr_modified`, `patched`, `iat_hooked`,
   * `unreachable_file`, `other` (PE-sieve); `yara` for a region flagged only by a match.
   */
  readonly kind: string;
  /** The mapped file, or the pseudo-path (`[anon]`, `/memfd:x (deleted)`). */
  readonly path?: string;
  /** Bytes of an executable segment that differ from the file on disk (`patched_code`). */
  readonly diff_bytes?: number;
}

/** One string of a YARA match: where it is, and its bytes sliced from the scanned buffer. */
export interface ScanMatchString {
  readonly identifier: string;
  /** Absolute address for a memory scan, offset in the file for a file scan. */
  readonly offset: number;
  readonly length: number;
  /** Hex of the matched bytes (at most the first 64), sliced from the scanned buffer. */
  readonly data_hex: string;
}

/** A YARA rule that matched, as every engine reports it. */
export interface ScanMatch {
  readonly rule: string;
  readonly namespace: string;
  readonly tags: readonly string[];
  readonly meta: Readonly<Record<string, string | number | boolean>>;
  readonly strings: readonly ScanMatchString[];
  /** Start (`0x…`) of the region the match was found in (memory scans). */
  readonly region?: string;
  /** The engine that matched (`yara-x`, `libyara-wasm`). */
  readonly engine?: string;
}

/** Result of a memory or file scan, carried by `scan.result` events (field paths `scan.*`). */
export interface ScanInfo {
  /** `linux-memory`, `yara-file`, `pe-sieve`, `hollows-hunter`. */
  scanner?: string;
  verdict?: 'clean' | 'suspicious' | 'malicious' | 'error' | 'skipped';
  /** The distinct finding kinds (region kinds, `yara` when a rule matched). */
  findings?: readonly string[];
  reason?: string;
  /** The YARA engine used, when YARA ran. */
  engine?: string;
  /** Names of the YARA rules that matched (for `equals_any` / `contains` on `scan.rules`). */
  rules?: readonly string[];
  regions?: readonly ScanRegion[];
  matches?: readonly ScanMatch[];
  /** Scanner-specific tallies: regions seen, regions and bytes scanned, PE-sieve's counts. */
  counts?: Readonly<Record<string, number>>;
  /** Where the raw report and dumps were kept (PE-sieve / HollowsHunter). */
  report_dir?: string;
  /** A file scan's path. */
  path?: string;
  duration_ms?: number;
  /** The result came from the per-(identity, image hash) cache, not a new scan. */
  cached?: boolean;
  /** The ActionRequest that asked for the scan, when one did. */
  request_id?: string;
}

/** Host identity stamped by the core. */
export interface HostInfo {
  name: string;
}

/**
 * The payload groups. A sensor fills only those that apply; every group is optional so
 * that field paths simply resolve to `undefined` when absent.
 */
export interface EventPayload {
  proc?: ProcessInfo;
  parent?: ProcessInfo;
  target?: ProcessInfo;
  thread?: ThreadInfo;
  access?: AccessInfo;
  file?: FileInfo;
  image?: ImageInfo;
  reg?: RegistryInfo;
  net?: NetInfo;
  dns?: DnsInfo;
  user?: UserInfo;
  logon?: LogonInfo;
  service?: ServiceInfo;
  task?: TaskInfo;
  script?: ScriptInfo;
  pipe?: PipeInfo;
  wmi?: WmiInfo;
  scan?: ScanInfo;
  /** Free text of the source (e.g. the rendered message), when useful. */
  message?: string;
  /**
   * The source's own fields, unchanged (for Windows: EventData / UserData names such as
   * `Image`, `GrantedAccess`, plus `EventID`, `Channel`, `Provider_Name`, `Computer`).
   * Imported Sigma rules match these exactly.
   */
  raw?: Readonly<Record<string, unknown>>;
}

/** What a sensor hands to the core. The core adds the envelope stamps. */
export interface EventDraft extends EventPayload {
  /** Normalized event type, e.g. `process.start` (see EVENT_TYPES). */
  type: string;
  /** Event time from the source, ms since the Unix epoch (fractions allowed). */
  time: number;
  /** Host name from the source record (e.g. EVTX Computer); the core fills its own when absent. */
  host?: HostInfo;
}

/** A normalized, stamped, frozen event as analyzers and responders see it. */
export interface VigilEvent extends EventPayload {
  /** Unique id (`<boot id>-<seq>`). */
  readonly id: string;
  /** Monotonic per agent run. */
  readonly seq: number;
  readonly type: string;
  readonly time: number;
  /** Receive time at the core, ms since the Unix epoch. */
  readonly received: number;
  /** Id of the plugin that emitted it. */
  readonly source: string;
  readonly host: HostInfo;
}
