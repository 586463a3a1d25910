import type { JsonSchema } from '../../../core/index.js';
import { SYSMON_CHANNEL } from '../../../lib/windows/index.js';

export interface SysmonConfig {
  /** The event log channel subscribed to. */
  readonly channel: string;
  /** Structured XPath query over the channel (`*`: every event). */
  readonly query: string;
  /** Without a bookmark: start at the oldest event in the channel instead of new events only. */
  readonly read_existing: boolean;
  /** An .evtx file read once through EvtQuery instead of subscribing ('' = subscribe). */
  readonly from: string;
  /** Events asked of each EvtNext; halved (down to 1) when the event log refuses the size. */
  readonly batch_size: number;
  /** Distinct (provider, event id, version) render contexts kept; others render as XML. */
  readonly max_schemas: number;
}

export const SYSMON_DEFAULTS: SysmonConfig = Object.freeze({
  channel: SYSMON_CHANNEL,
  query: '*',
  read_existing: false,
  from: '',
  batch_size: 256,
  max_schemas: 256,
});

export const sysmonConfigSchema: JsonSchema = Object.freeze({
  type: 'object',
  additionalProperties: false,
  properties: {
    channel: { type: 'string', minLength: 1, default: SYSMON_DEFAULTS.channel, description: 'Event log channel to subscribe to.' },
    query: { type: 'string', minLength: 1, default: SYSMON_DEFAULTS.query, description: 'XPath query over the channel (`*` = all events).' },
    read_existing: {
      type: 'boolean',
      default: SYSMON_DEFAULTS.read_existing,
      description: 'Without a saved bookmark, read the events already in the channel first (else only new ones).',
    },
    from: { type: 'string', default: SYSMON_DEFAULTS.from, description: 'Read this .evtx file once (EvtQuery) instead of subscribing; empty = subscribe.' },
    batch_size: { type: 'integer', minimum: 1, maximum: 1024, default: SYSMON_DEFAULTS.batch_size, description: 'Events per EvtNext (halved on RPC_S_INVALID_BOUND).' },
    max_schemas: {
      type: 'integer',
      minimum: 1,
      maximum: 4096,
      default: SYSMON_DEFAULTS.max_schemas,
      description: 'Cached render contexts, one per (provider, event id, version); events of others render as XML.',
    },
  },
});
