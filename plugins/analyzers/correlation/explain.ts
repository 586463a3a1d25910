/**
 * `vigil rules explain` for sequence and count rules: feeds an ordered list of events (the
 * fixture item form) one by one through the real CorrelationEngine on a virtual clock and
 * prints, per event and per step, what happened and why.
 *
 * Every verdict about state (a step advanced, the rule fired, a partial match expired, was
 * cancelled, superseded or released) is read from engines, never re-decided here: the rule
 * runs in one engine per prefix of its steps (steps 0..k for every k ≥ 1; the last prefix is
 * the rule itself). A prefix rule fires exactly when the full rule's partial match passes
 * step k, and its detection names the events of steps 0..k, so which event matched which step
 * comes from the engine. Per-step counters are the difference between neighbouring prefix
 * engines (a step's waiting partials are the same in every prefix that holds the step).
 * What is computed here is only the labels: a step's compiled event types, condition and key
 * functions applied to the event (the same functions the engine calls), and a list of the
 * partial matches the engines reported, to name them in later lines. When that list and the
 * engines' live counts disagree, the trace says so.
 */
import { isKnownEventType, type EventDraft, type VigilEvent, type DetectionDraft } from '../../../core/index.js';
import { VirtualClock } from './clock.js';
import { compileCorrelation } from './compile.js';
import { CorrelationEngine, type EngineCounters } from './engine.js';
import type { CompiledCorrelation, CompiledCount, CompiledSequence, FixtureItem, NamedDefs, SequenceDoc } from './model.js';
import { KEY_SEP, processIdentity } from './paths.js';
import type { StaticCompiler } from './condition.js';
import type { DetectionLike } from './state-store.js';

/** What happened to one step (or the `until`, or a count rule) for one event. */
export type ExplainOutcome =
  | 'not-consumed'
  | 'condition-false'
  | 'key-missing'
  | 'started'
  | 'superseded'
  | 'advanced'
  | 'join-key-missing'
  | 'fired'
  | 'no-partial'
  | 'span-exceeded'
  | 'bound-condition-false'
  | 'cancelled-until'
  | 'cancelled-absent'
  | 'expired'
  | 'absent-satisfied'
  | 'released'
  | 'counted'
  | 'window-restarted';

export interface ExplainLine {
  /** Step index; -1 for a count rule or the whole rule; -2 for `until`. */
  step: number;
  outcome: ExplainOutcome;
  key?: string;
  /** Items (0-based) of the partial match concerned, in step order. */
  chain?: number[];
  /** For `span-exceeded`: by how many ms. */
  overMs?: number;
  message: string;
}

export interface ExplainItem {
  /** Index in the event file; -1 for the end of input. */
  index: number;
  time: number;
  what: string;
  lines: ExplainLine[];
}

export interface CorrelationExplain {
  ruleId: string;
  kind: 'sequence' | 'count';
  spanMs: number;
  fired: number;
  items: ExplainItem[];
  /** Where the trace's own bookkeeping and the engine disagreed (should stay empty). */
  notes: string[];
  text: string;
}

/**
 * How far past the span the clock moves after the last item: expiry runs on a wheel of
 * buckets (at most 1 s), so a partial is swept up to a bucket late; the same margin as the
 * fixture runner's.
 */
const END_SLACK_MS = 2001;

interface Probe {
  engine: CorrelationEngine;
  totals: Map<string, number>;
  fired: DetectionDraft[];
}

type Snap = Map<string, number>;

function probe(rule: CompiledCorrelation, clock: VirtualClock): Probe {
  const totals = new Map<string, number>();
  const fired: DetectionDraft[] = [];
  // The engine reports its per-reason work through counters (flushed per batch and tick).
  const counters: EngineCounters = {
    discard: (reason, n = 1) => void totals.set(reason, (totals.get(reason) ?? 0) + n),
    add: (name, n = 1) => void totals.set(name, (totals.get(name) ?? 0) + n),
    set: (name, v) => void totals.set(name, v),
  };
  const engine = new CorrelationEngine({ clock, onDetection: (d) => fired.push(d), counters });
  engine.load([rule]);
  return { engine, totals, fired };
}

const showKey = (k: string | undefined): string => (k === undefined ? '<missing>' : JSON.stringify(k.split(KEY_SEP).join(', ')));

function iso(t: number): string {
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? String(t) : d.toISOString();
}

function isEventDraft(v: unknown): v is EventDraft {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && typeof (v as Record<string, unknown>)['type'] === 'string' && typeof (v as Record<string, unknown>)['time'] === 'number';
}

/** Validate the items of an event file (events or `{ detection, evidence }`); throws naming the item. */
export function toFixtureItems(items: readonly unknown[], file: string): FixtureItem[] {
  return items.map((v, i) => {
    const where = `${file}: item ${i}`;
    if (typeof v === 'object' && v !== null && !Array.isArray(v) && typeof (v as Record<string, unknown>)['detection'] === 'string') {
      const d = v as { detection: string; event?: unknown; evidence?: unknown };
      const ev = [...(d.event !== undefined ? [d.event] : []), ...(Array.isArray(d.evidence) ? (d.evidence as unknown[]) : [])];
      if (ev.length === 0 || !ev.every(isEventDraft)) throw new Error(`${where}: detection "${d.detection}" needs "event" or "evidence" events with "type" and numeric "time"`);
      return v as FixtureItem;
    }
    if (!isEventDraft(v)) throw new Error(`${where}: an event needs "type" (string) and "time" (ms since the epoch, a number)`);
    if (!isKnownEventType(v.type)) throw new Error(`${where}: unknown event type "${v.type}"`);
    return v;
  });
}

/** A partial match as the engines reported it: waiting for `slot` under `key`. */
interface Partial {
  slot: number;
  key: string;
  chain: number[];
  start: number;
  /** Time of the event that put it in this slot (the engine ignores older events). */
  last: number;
}

/** Explain one compiled rule against ordered items. `defs`/`delegate` as the rule was compiled with. */
export function explainCorrelation(rule: CompiledCorrelation, items: readonly FixtureItem[], defs: NamedDefs, delegate?: StaticCompiler): CorrelationExplain {
  return rule.kind === 'sequence' ? explainSequence(rule, items, defs, delegate) : explainCount(rule, items);
}

interface Fed {
  subj: VigilEvent;
  det: DetectionLike | null;
  time: number;
  what: string;
}

/** Stamp an item as the engine sees it; ids name the item so that evidence maps back to it. */
function feedItem(item: FixtureItem, i: number, fallbackTime: number): Fed {
  const stamp = (d: EventDraft, id: string): VigilEvent => ({ ...d, id, seq: i + 1, received: d.time, source: 'explain', host: d.host ?? { name: 'explain-host' } });
  if ('detection' in item) {
    const evidence = [...(item.evidence ?? []), ...(item.event ? [item.event] : [])].map((e, j) => stamp(e, `item-${i}.${j}`));
    const time = evidence[evidence.length - 1]?.time ?? fallbackTime;
    const subj = evidence[evidence.length - 1] as VigilEvent;
    return { subj, det: { rule: { id: item.detection }, evidence, time }, time, what: `detection of ${item.detection}` };
  }
  return { subj: stamp(item, `item-${i}`), det: null, time: item.time, what: item.type };
}

function itemOfEvidence(e: { id?: unknown }): number | undefined {
  const m = typeof e.id === 'string' ? /^item-(\d+)/.exec(e.id) : null;
  return m ? Number(m[1]) : undefined;
}

function snap(p: Probe): Snap {
  return new Map(p.totals);
}

function delta(after: Snap, before: Snap, name: string): number {
  return (after.get(name) ?? 0) - (before.get(name) ?? 0);
}

function explainSequence(rule: CompiledSequence, items: readonly FixtureItem[], defs: NamedDefs, delegate: StaticCompiler | undefined): CorrelationExplain {
  const n = rule.steps.length;
  const clock = new VirtualClock(0);
  // probes[k] holds steps 0..k (k ≥ 1); probes[n-1] is the rule itself.
  const probes: (Probe | undefined)[] = [undefined];
  for (let k = 1; k < n; k++) {
    const r = k === n - 1 ? rule : compileCorrelation({ ...rule.doc, steps: rule.doc.steps.slice(0, k + 1) } as SequenceDoc, defs, '', delegate);
    probes.push(probe(r, clock));
  }
  const ps = probes.slice(1) as Probe[];
  const full = ps[ps.length - 1] as Probe;
  const stepName = (k: number): string => `step ${k}${rule.steps[k]?.name !== undefined ? ` (${rule.steps[k]?.name})` : ''}`;
  const partials: Partial[] = [];
  const subjects = new Map<number, { subj: object; det: DetectionLike | null }>();
  const out: ExplainItem[] = [];
  const notes: string[] = [];
  const reported = new Set<DetectionDraft>();

  /** Per-slot change of a counter between two snapshots (slot s: probes s minus s-1). */
  const slotDelta = (after: Snap[], before: Snap[], name: string, s: number): number => {
    const cur = delta(after[s - 1] as Snap, before[s - 1] as Snap, name);
    const prev = s >= 2 ? delta(after[s - 2] as Snap, before[s - 2] as Snap, name) : 0;
    return cur - prev;
  };
  const liveAt = (s: number): number => {
    const a = ps[s - 1]?.engine.liveKeys ?? 0;
    const b = s >= 2 ? (ps[s - 2]?.engine.liveKeys ?? 0) : 0;
    return a - b;
  };
  const removePartial = (slot: number, pred: (p: Partial) => boolean): Partial | undefined => {
    const i = partials.findIndex((p) => p.slot === slot && pred(p));
    return i < 0 ? undefined : partials.splice(i, 1)[0];
  };
  const addPartial = (p: Partial): Partial | undefined => {
    const old = removePartial(p.slot, (q) => q.key === p.key);
    partials.push(p);
    return old;
  };
  const chainText = (c: readonly number[]): string => c.map((i, s) => `#${i} (${stepName(s)})`).join(', ');

  /** Expirations found by the sweep after an item (or at end of input): by slot, oldest first. */
  const sweepLines = (before: Snap[], after: Snap[], now: number, firedBefore: number[]): ExplainLine[] => {
    const lines: ExplainLine[] = [];
    for (let s = 1; s < n; s++) {
      const count = slotDelta(after, before, 'expired', s);
      if (count <= 0) continue;
      const due = partials.filter((p) => p.slot === s && p.start + rule.spanMs <= now).sort((a, b) => a.start - b.start);
      if (due.length !== count) notes.push(`at ${iso(now)}: the engine expired ${count} partial match(es) waiting for ${stepName(s)}, the trace knew ${due.length}`);
      for (const p of due.slice(0, count)) {
        removePartial(s, (q) => q === p);
        const absent = rule.steps[s]?.absent === true;
        lines.push({
          step: s,
          outcome: absent ? 'absent-satisfied' : 'expired',
          key: p.key,
          chain: p.chain,
          message: absent
            ? `${stepName(s)} (absent) did not happen under key ${showKey(p.key)} within ${rule.spanMs} ms of #${p.chain[0]}: absent step satisfied`
            : `partial match ${chainText(p.chain)} under key ${showKey(p.key)} expired at ${iso(p.start + rule.spanMs)} without ${stepName(s)} (span ${rule.spanMs} ms)`,
        });
      }
    }
    lines.push(...unreported(firedBefore));
    return lines;
  };

  /** Detections of the rule not named by a step line yet. */
  const unreported = (firedBefore: number[]): ExplainLine[] =>
    full.fired
      .slice(firedBefore[n - 2] ?? 0)
      .filter((d) => !reported.has(d))
      .map((d) => {
        reported.add(d);
        return { step: -1, outcome: 'fired' as const, message: `FIRED: ${d.summary ?? d.rule.title}` };
      });

  let last = Number.NEGATIVE_INFINITY;
  items.forEach((item, i) => {
    const fed = feedItem(item, i, Number.isFinite(last) ? last : 0);
    subjects.set(i, { subj: fed.subj, det: fed.det });
    clock.set(Math.max(clock.now(), fed.time));
    last = Math.max(last, fed.time);
    const before = ps.map(snap);
    const firedBefore = ps.map((p) => p.fired.length);
    for (const p of ps) {
      if (fed.det !== null) p.engine.onDetections([fed.det]);
      else p.engine.onEvents([fed.subj]);
    }
    const after = ps.map(snap);
    const lines: ExplainLine[] = [];
    const subj: object = fed.subj;
    const det = fed.det;
    const ruleIdOfItem = det?.rule.id ?? null;

    // `until` runs first in the engine.
    const u = rule.until;
    if (u !== null && det === null && (u.types === null || u.types.has(fed.subj.type))) {
      const uk = u.cond.test(subj, null) ? u.key(subj, det) : undefined;
      if (uk !== undefined) {
        for (let s = 1; s < n; s++) {
          if (slotDelta(after, before, 'cancelled', s) <= 0) continue;
          const p = removePartial(s, (q) => q.key === uk);
          lines.push({ step: -2, outcome: 'cancelled-until', key: uk, ...(p ? { chain: p.chain } : {}), message: `"until" matched under key ${showKey(uk)}: cancelled the partial match${p ? ` ${chainText(p.chain)}` : ''} waiting for ${stepName(s)}` });
        }
      }
    }

    // Steps, last first (the engine's order: one event never advances a match by two steps).
    for (let k = n - 1; k >= 0; k--) {
      const st = rule.steps[k];
      if (st === undefined) continue;
      const consumes = st.ruleIds !== null ? ruleIdOfItem !== null && st.ruleIds.includes(ruleIdOfItem) : det === null && (st.types === null || st.types.has(fed.subj.type));
      if (!consumes) continue;
      if (st.cond !== null && !st.cond.usesBound && !st.cond.test(subj, null)) {
        lines.push({ step: k, outcome: 'condition-false', message: `${stepName(k)}: event type fits, condition false` });
        continue;
      }
      const key = st.key(subj, det);
      if (key === undefined) {
        lines.push({ step: k, outcome: 'key-missing', message: `${stepName(k)}: condition true, but its key (by ${rule.doc.steps[k]?.by.join(', ')}) is missing in the event` });
        continue;
      }
      if (k === 0) {
        const next = rule.steps[1];
        const wait = next === undefined ? undefined : next.defaultJoin ? key : next.join?.((j) => (j === 0 ? subj : undefined), (j) => (j === 0 ? det : null));
        if (wait === undefined) {
          lines.push({ step: 0, outcome: 'join-key-missing', key, message: `${stepName(0)}: matched (key ${showKey(key)}), but the key ${stepName(1)} waits under is missing: nothing started` });
          continue;
        }
        const old = addPartial({ slot: 1, key: wait, chain: [i], start: fed.time, last: fed.time });
        const replaced = slotDelta(after, before, 'superseded', 1) > 0 || old !== undefined;
        lines.push({
          step: 0,
          outcome: replaced ? 'superseded' : 'started',
          key: wait,
          chain: [i],
          message: `${stepName(0)}: matched: partial match started, waiting for ${stepName(1)} under key ${showKey(wait)} until ${iso(fed.time + rule.spanMs)}${replaced ? `; replaces the older partial${old ? ` ${chainText(old.chain)}` : ''} under the same key` : ''}`,
        });
        continue;
      }
      const pk = ps[k - 1] as Probe;
      const fresh = pk.fired.slice(firedBefore[k - 1] ?? 0);
      const mine = fresh.find((d) => d.evidence.some((e) => itemOfEvidence(e) === i));
      if (mine !== undefined) {
        const chain = [...new Set(mine.evidence.map(itemOfEvidence).filter((x): x is number => x !== undefined))].filter((x) => x !== i);
        const from = removePartial(k, (q) => q.key === key) ?? { chain, start: NaN };
        const full_chain = [...from.chain, i];
        if (k === n - 1) {
          reported.add(mine);
          lines.push({ step: k, outcome: 'fired', key, chain: full_chain, message: `${stepName(k)}: matched the partial ${chainText(from.chain)} under key ${showKey(key)}: FIRED: ${mine.summary ?? mine.rule.title}` });
          continue;
        }
        const next = rule.steps[k + 1];
        let wait: string | undefined = key;
        if (next !== undefined && !next.defaultJoin) {
          const subjOf = (j: number): object | undefined => (j === k ? subj : subjects.get(full_chain[j] ?? -1)?.subj);
          const detOf = (j: number): object | null => (j === k ? det : (subjects.get(full_chain[j] ?? -1)?.det ?? null));
          wait = next.join?.(subjOf, detOf);
        }
        if (wait === undefined) {
          lines.push({ step: k, outcome: 'join-key-missing', key, chain: full_chain, message: `${stepName(k)}: matched the partial ${chainText(from.chain)}, but the key ${stepName(k + 1)} waits under is missing: partial dropped` });
          continue;
        }
        const old = addPartial({ slot: k + 1, key: wait, chain: full_chain, start: Number.isNaN(from.start) ? (subjects.get(full_chain[0] ?? -1)?.subj as VigilEvent | undefined)?.time ?? fed.time : from.start, last: fed.time });
        lines.push({
          step: k,
          outcome: 'advanced',
          key,
          chain: full_chain,
          message: `${stepName(k)}: matched the partial ${chainText(from.chain)} under key ${showKey(key)}: now waiting for ${stepName(k + 1)} under key ${showKey(wait)}${old ? `; replaces the older partial ${chainText(old.chain)}` : ''}`,
        });
        continue;
      }
      if (slotDelta(after, before, 'expired', k) > 0) {
        const p = removePartial(k, (q) => q.key === key);
        const ends = p ? p.start + rule.spanMs : undefined;
        const absent = st.absent;
        lines.push({
          step: k,
          outcome: 'span-exceeded',
          key,
          ...(p ? { chain: p.chain } : {}),
          ...(ends !== undefined ? { overMs: fed.time - ends } : {}),
          message:
            `${stepName(k)}: matches under key ${showKey(key)}, but the partial${p ? ` ${chainText(p.chain)}` : ''} is past its span` +
            (ends !== undefined ? `: span exceeded by ${fed.time - ends} ms (span ${rule.spanMs} ms, ended ${iso(ends)})` : '') +
            (absent ? ': the absent step is thereby satisfied' : ': partial match over'),
        });
        continue;
      }
      if (st.absent && slotDelta(after, before, 'cancelled', k) > 0) {
        const p = removePartial(k, (q) => q.key === key);
        lines.push({ step: k, outcome: 'cancelled-absent', key, ...(p ? { chain: p.chain } : {}), message: `${stepName(k)} (absent) happened under key ${showKey(key)}: the partial${p ? ` ${chainText(p.chain)}` : ''} is cancelled and cannot fire` });
        continue;
      }
      const waiting = partials.filter((p) => p.slot === k);
      const p = waiting.find((q) => q.key === key);
      if (p === undefined) {
        const keys = waiting.map((q) => showKey(q.key)).join(', ');
        lines.push({ step: k, outcome: 'no-partial', key, message: `${stepName(k)}: matches with key ${showKey(key)}, but no partial match waits for it under that key${keys ? ` (waiting: ${keys})` : ''}` });
      } else if (fed.time < p.last) {
        lines.push({ step: k, outcome: 'no-partial', key, chain: p.chain, message: `${stepName(k)}: the event is older than the partial ${chainText(p.chain)} under key ${showKey(key)}: ignored` });
      } else {
        lines.push({ step: k, outcome: 'bound-condition-false', key, chain: p.chain, message: `${stepName(k)}: the condition comparing with earlier steps is false for the partial ${chainText(p.chain)}` });
      }
    }

    // Released by the end of a process (its partial matches cannot progress).
    if (det === null && fed.subj.type === 'process.stop') {
      const ident = processIdentity(fed.subj.proc);
      for (let s = 1; s < n; s++) {
        const count = slotDelta(after, before, 'released', s);
        const absentFires = rule.steps[s]?.absent === true ? (ps[s - 1]?.fired.length ?? 0) - (firedBefore[s - 1] ?? 0) : 0;
        for (let r = 0; r < count + absentFires && ident !== undefined; r++) {
          const p = removePartial(s, (q) => q.key.split(KEY_SEP).includes(ident));
          if (p === undefined) break;
          lines.push({
            step: s,
            outcome: absentFires > 0 ? 'absent-satisfied' : 'released',
            key: p.key,
            chain: p.chain,
            message: absentFires > 0 ? `process ${ident} ended: ${stepName(s)} (absent) can no longer happen: absent step satisfied` : `process ${ident} ended: the partial ${chainText(p.chain)} waiting for ${stepName(s)} is released`,
          });
        }
      }
    }
    lines.push(...unreported(firedBefore));

    // Expiry that runs after the event (the engine's sweep at this time).
    const sweepBefore = ps.map(snap);
    const sweepFired = ps.map((p) => p.fired.length);
    for (const p of ps) p.engine.drain();
    lines.push(...sweepLines(sweepBefore, ps.map(snap), clock.now(), sweepFired));
    if (lines.length === 0) lines.push({ step: -1, outcome: 'not-consumed', message: 'no step of this rule takes this event' });
    out.push({ index: i, time: fed.time, what: fed.what, lines });
    checkCounts(i);
  });

  function checkCounts(i: number): void {
    for (let s = 1; s < n; s++) {
      const engine = liveAt(s);
      const mine = partials.filter((p) => p.slot === s).length;
      if (engine !== mine) notes.push(`after #${i}: the engine holds ${engine} partial match(es) waiting for ${stepName(s)}, the trace knows ${mine}`);
    }
  }

  // End of input: run the clock past the span so that absent steps and expiry are decided.
  if (Number.isFinite(last)) {
    const end = last + rule.spanMs + END_SLACK_MS;
    clock.set(Math.max(clock.now(), end));
    const before = ps.map(snap);
    const firedBefore = ps.map((p) => p.fired.length);
    for (const p of ps) p.engine.drain();
    const lines = sweepLines(before, ps.map(snap), clock.now(), firedBefore);
    if (lines.length > 0) out.push({ index: -1, time: end, what: 'end of input (clock moved past the span)', lines });
  }
  return finish(rule, out, full.fired.length, notes);
}

function explainCount(rule: CompiledCount, items: readonly FixtureItem[]): CorrelationExplain {
  const clock = new VirtualClock(0);
  const p = probe(rule, clock);
  const out: ExplainItem[] = [];
  let fired = 0;
  let last = Number.NEGATIVE_INFINITY;
  const what = rule.doc.value_count !== undefined ? `distinct ${rule.doc.value_count}` : 'events';
  items.forEach((item, i) => {
    const fed = feedItem(item, i, Number.isFinite(last) ? last : 0);
    clock.set(Math.max(clock.now(), fed.time));
    last = Math.max(last, fed.time);
    const before = snap(p);
    const firedBefore = p.fired.length;
    if (fed.det !== null) p.engine.onDetections([fed.det]);
    else p.engine.onEvents([fed.subj]);
    const lines: ExplainLine[] = [];
    const det = fed.det;
    const consumes = rule.ruleIds !== null ? det !== null && rule.ruleIds.includes(det.rule.id) : det === null && (rule.types === null || rule.types.has(fed.subj.type));
    if (consumes) {
      if (rule.cond !== null && !rule.cond.test(fed.subj, null)) lines.push({ step: -1, outcome: 'condition-false', message: 'event type fits, condition false: not counted' });
      else if (delta(snap(p), before, 'missing_key') > 0) {
        lines.push({ step: -1, outcome: 'key-missing', message: `not counted: group key (${rule.doc.group_by.join(', ')})${rule.doc.value_count !== undefined ? ` or ${rule.doc.value_count}` : ''} missing in the event` });
      } else {
        const keyFn = (det !== null ? rule.keyByRule.get(det.rule.id) : undefined) ?? rule.key;
        const key = keyFn(fed.subj, det);
        if (delta(snap(p), before, 'expired') > 0) lines.push({ step: -1, outcome: 'window-restarted', ...(key !== undefined ? { key } : {}), message: `the window of group ${showKey(key)} had ended: a new window starts` });
        lines.push({ step: -1, outcome: 'counted', ...(key !== undefined ? { key } : {}), message: `counted in group ${showKey(key)} (${what}, window ${rule.spanMs} ms)` });
      }
    }
    for (const d of p.fired.slice(firedBefore)) {
      fired++;
      lines.push({ step: -1, outcome: 'fired', message: `FIRED: ${d.summary ?? d.rule.title}` });
    }
    const sweepBefore = snap(p);
    const sweepFired = p.fired.length;
    p.engine.drain();
    lines.push(...countSweep(p, sweepBefore, sweepFired, () => fired++));
    if (lines.length === 0) lines.push({ step: -1, outcome: 'not-consumed', message: 'this rule does not take this event' });
    out.push({ index: i, time: fed.time, what: fed.what, lines });
  });
  if (Number.isFinite(last)) {
    const end = last + rule.spanMs + END_SLACK_MS;
    clock.set(Math.max(clock.now(), end));
    const before = snap(p);
    const firedBefore = p.fired.length;
    p.engine.drain();
    const lines = countSweep(p, before, firedBefore, () => fired++);
    if (lines.length > 0) out.push({ index: -1, time: end, what: 'end of input (clock moved past the window)', lines });
  }
  return finish(rule, out, fired, []);
}

function countSweep(p: Probe, before: Snap, firedBefore: number, onFire: () => void): ExplainLine[] {
  const lines: ExplainLine[] = [];
  const expired = delta(snap(p), before, 'expired');
  if (expired > 0) lines.push({ step: -1, outcome: 'expired', message: `${expired} count window(s) closed` });
  for (const d of p.fired.slice(firedBefore)) {
    onFire();
    lines.push({ step: -1, outcome: 'fired', message: `FIRED when the window closed: ${d.summary ?? d.rule.title}` });
  }
  return lines;
}

function finish(rule: CompiledCorrelation, items: ExplainItem[], fired: number, notes: string[]): CorrelationExplain {
  const head = [
    `rule ${rule.doc.id} — ${rule.doc.title}`,
    `  ${rule.kind}, span ${rule.spanMs} ms${rule.kind === 'sequence' ? `, ${rule.steps.length} steps${rule.until ? ', with until' : ''}` : ''}`,
  ];
  const body = items.flatMap((it) => [
    `${it.index >= 0 ? `#${it.index}` : 'end'} ${iso(it.time)} ${it.what}`,
    ...it.lines.map((l) => `    ${l.outcome === 'fired' || l.message.includes('FIRED') ? '★' : '·'} ${l.message}`),
  ]);
  const tail = [`verdict: ${fired > 0 ? `FIRES (${fired} detection${fired > 1 ? 's' : ''})` : 'does not fire'}`, ...notes.map((n) => `note: ${n}`)];
  return { ruleId: rule.doc.id, kind: rule.kind, spanMs: rule.spanMs, fired, items, notes, text: [...head, ...body, ...tail].join('\n') };
}
