import type { JsonSchema } from '../../../core/index.js';

export interface EtwProviderConfig {
  /** For the log and `vigil status`; the GUID is what is enabled. */
  readonly name: string;
  readonly guid: string;
  /** TRACE_LEVEL_*: 1 critical, 2 error, 3 warning, 4 information, 5 verbose. */
  readonly level: number;
  /** MatchAnyKeyword as hex (`0x70`); `0x0`: every event of the provider. */
  readonly keywords: string;
}

export interface EtwConfig {
  /** The trace session's name: fixed, so a leftover of a crashed agent is found and stopped. */
  readonly session_name: string;
  readonly providers: readonly EtwProviderConfig[];
  /** Buffer size in KB, and the session's buffer counts. */
  readonly buffer_kb: number;
  readonly min_buffers: number;
  readonly max_buffers: number;
  /** Seconds after which ETW hands a partly filled buffer to the consumer (latency bound). */
  readonly flush_seconds: number;
  /** How often EventsLost / RealTimeBuffersLost are read (ControlTraceW QUERY) and reported as drops. */
  readonly stats_interval_ms: number;
  /** Most decoded events in one batch posted from the trace thread. */
  readonly max_batch_events: number;
  /** Most (provider, event id, version) schemas kept; past it, events of new ones are dropped and counted. */
  readonly max_schemas: number;
  /** Most processes remembered (for parents and stops); past it, new ones are not remembered (counted). */
  readonly max_processes: number;
  /** Longest wait for the trace thread to end after the session is closed. */
  readonly stop_timeout_ms: number;
}

/** Microsoft-Windows-Kernel-Process, -Kernel-Network, -DNS-Client, -PowerShell. */
export const KERNEL_PROCESS = '22FB2CD6-0E7B-422B-A0C7-2FAD1FD0E716';
export const KERNEL_NETWORK = '7DD42A49-5329-4832-8DFD-43D979153A88';
export const DNS_CLIENT = '1C95126E-7EEA-49A9-A3FE-A378B03DDB4D';
export const POWERSHELL = 'A0C1853B-5C40-4B15-8766-3CF1C58F985A';

export const DEFAULT_PROVIDERS: readonly EtwProviderConfig[] = Object.freeze([
  // WINEVENT_KEYWORD_PROCESS 0x10 | _THREAD 0x20 | _IMAGE 0x40.
  Object.freeze({ name: 'Microsoft-Windows-Kernel-Process', guid: KERNEL_PROCESS, level: 4, keywords: '0x70' }),
  // KERNEL_NETWORK_KEYWORD_IPV4 0x10 | _IPV6 0x20.
  Object.freeze({ name: 'Microsoft-Windows-Kernel-Network', guid: KERNEL_NETWORK, level: 4, keywords: '0x30' }),
  Object.freeze({ name: 'Microsoft-Windows-DNS-Client', guid: DNS_CLIENT, level: 5, keywords: '0x0' }),
  // 4104 (script block logging) is level 5 (verbose) or 3 (warning, suspicious blocks).
  Object.freeze({ name: 'Microsoft-Windows-PowerShell', guid: POWERSHELL, level: 5, keywords: '0x0' }),
]);

export const ETW_DEFAULTS: EtwConfig = Object.freeze({
  session_name: 'Vigil-ETW',
  providers: DEFAULT_PROVIDERS,
  buffer_kb: 64,
  min_buffers: 16,
  max_buffers: 64,
  flush_seconds: 1,
  stats_interval_ms: 5000,
  max_batch_events: 512,
  max_schemas: 4096,
  max_processes: 65536,
  stop_timeout_ms: 5000,
});

const GUID = '^\\{?[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\\}?$';

export const etwConfigSchema: JsonSchema = Object.freeze({
  type: 'object',
  additionalProperties: false,
  properties: {
    session_name: { type: 'string', minLength: 1, maxLength: 200, pattern: '^[^\\\\/]+$', default: ETW_DEFAULTS.session_name, description: 'ETW session name (fixed; a leftover of that name is stopped first).' },
    providers: {
      type: 'array',
      minItems: 1,
      maxItems: 32,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['guid'],
        properties: {
          name: { type: 'string', default: '' },
          guid: { type: 'string', pattern: GUID },
          level: { type: 'integer', minimum: 0, maximum: 255, default: 4 },
          keywords: { type: 'string', pattern: '^0x[0-9A-Fa-f]{1,16}$', default: '0x0' },
        },
      },
      default: DEFAULT_PROVIDERS,
      description: 'Providers enabled in the session, with level and MatchAnyKeyword.',
    },
    buffer_kb: { type: 'integer', minimum: 4, maximum: 1024, default: ETW_DEFAULTS.buffer_kb, description: 'Trace buffer size in KB.' },
    min_buffers: { type: 'integer', minimum: 2, maximum: 1024, default: ETW_DEFAULTS.min_buffers, description: 'Minimum trace buffers.' },
    max_buffers: { type: 'integer', minimum: 2, maximum: 4096, default: ETW_DEFAULTS.max_buffers, description: 'Maximum trace buffers.' },
    flush_seconds: { type: 'integer', minimum: 1, maximum: 60, default: ETW_DEFAULTS.flush_seconds, description: 'Flush timer of partly filled buffers.' },
    stats_interval_ms: { type: 'integer', minimum: 100, maximum: 600000, default: ETW_DEFAULTS.stats_interval_ms, description: 'How often lost-event counters are read.' },
    max_batch_events: { type: 'integer', minimum: 1, maximum: 65536, default: ETW_DEFAULTS.max_batch_events, description: 'Events per batch from the trace thread.' },
    max_schemas: { type: 'integer', minimum: 16, maximum: 65536, default: ETW_DEFAULTS.max_schemas, description: 'Cached TDH schemas.' },
    max_processes: { type: 'integer', minimum: 16, maximum: 1048576, default: ETW_DEFAULTS.max_processes, description: 'Processes remembered for parents and stops.' },
    stop_timeout_ms: { type: 'integer', minimum: 100, maximum: 60000, default: ETW_DEFAULTS.stop_timeout_ms, description: 'Wait for the trace thread at stop.' },
  },
});
