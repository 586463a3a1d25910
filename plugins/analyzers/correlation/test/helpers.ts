/** Test helpers: stamped events, an engine on a virtual clock, a counters double. */
import type { EventDraft, VigilEvent, DetectionDraft } from '../../../../core/index.js';
import { PluginCounters } from '../../../../testing/index.js';
import { VirtualClock } from '../clock.js';
import { compileCorrelation } from '../compile.js';
import { CorrelationEngine, type EngineOptions } from '../engine.js';
import { validateCorrelationDoc } from '../loader.js';
import type { CompiledCorrelation, CorrelationRuleDoc } from '../model.js';

export const T0 = 1_700_000_000_000;
let seq = 0;

export function ev(draft: Omit<EventDraft, 'time'> & { time?: number }, dt = 0): VigilEvent {
  seq++;
  return { time: T0 + dt, ...draft, id: `t-${seq}`, seq, received: T0 + dt, source: 'test', host: { name: 'h' } } as VigilEvent;
}

export function compile(doc: unknown): CompiledCorrelation {
  const problems = validateCorrelationDoc(doc);
  if (problems.length > 0) throw new Error(`schema: ${JSON.stringify(problems)}`);
  return compileCorrelation(doc as CorrelationRuleDoc, { lists: {}, macros: {} });
}

export interface Harness {
  engine: CorrelationEngine;
  clock: VirtualClock;
  fired: DetectionDraft[];
  counters: PluginCounters;
  /** Move the clock to T0 + dt and run expiry to completion. */
  at(dt: number): void;
  feed(...events: VigilEvent[]): void;
}

export function harness(rules: unknown[], opts: Partial<EngineOptions> = {}): Harness {
  const clock = new VirtualClock(T0);
  const fired: DetectionDraft[] = [];
  const counters = new PluginCounters();
  const engine = new CorrelationEngine({ clock, onDetection: (d) => fired.push(d), counters, ...opts });
  engine.load(rules.map(compile));
  return {
    engine,
    clock,
    fired,
    counters,
    at(dt) {
      clock.set(T0 + dt);
      engine.drain();
    },
    feed(...events) {
      for (const e of events) {
        if (e.time > clock.now()) clock.set(e.time);
        engine.onEvents([e]);
        engine.drain();
      }
    },
  };
}

export const LSASS_RULE = {
  id: 'test.lsass',
  title: 'lsass access then thread',
  severity: 'high',
  kind: 'sequence',
  maxspan: '10m',
  steps: [
    {
      event: ['process.access'],
      by: ['proc.guid'],
      match: { all: [{ field: 'target.image', endswith_any: ['\\lsass.exe'] }, { field: 'access.granted', mask_any: ['0x10'] }] },
    },
    {
      event: ['thread.remote_create'],
      by: ['proc.guid'],
      match: { field: 'target.pid', equals_bound: '$1.target.pid' },
    },
  ],
};

export const LSASS = { image: 'C:\\Windows\\System32\\lsass.exe', pid: 700, guid: '{lsass}' };

/** A count rule: three or more logon failures for one user within a minute (`id` names it). */
export function failureBurst(id: string): Record<string, unknown> {
  return { id, title: 'failures', severity: 'medium', kind: 'count', event: ['logon.failure'], group_by: ['user.target_name'], timespan: '1m', condition: { gte: 3 } };
}
