/**
 * The stateful correlation engine: sequences ("A then B by the same key within a span",
 * with absent steps and `until`) and counts (events or distinct values per group within a
 * timespan), fed by events and by other analyzers' detections.
 */
import { performance } from 'node:perf_hooks';
import type { VigilEvent, DetectionDraft, MatchedPredicate } from '../../../core/index.js';
import type { Clock } from './clock.js';
import type { BoundLookup } from './condition.js';
import type { CompiledCorrelation, CompiledCount, CompiledSequence, CountConditionDoc } from './model.js';
import { processIdentity, KEY_SEP } from './paths.js';
import { pushEvidence, type DetectionLike, type Evidence } from './evidence.js';
import { createStateStore, type ChainItem, type CountGroups, type RuleRecords, type StateStore } from './state/index.js';
import { DEFAULT_SLICE_MS } from './defaults.js';

/** The subset of PluginCounters the engine writes. */
export interface EngineCounters {
  discard(reason: string, n?: number, intended?: boolean): void;
  set(name: string, value: number): void;
  add(name: string, n?: number): void;
}

export interface EngineOptions {
  clock: Clock;
  /** Receives every correlation detection. */
  onDetection: (d: DetectionDraft) => void;
  counters?: EngineCounters;
  /** Live partial matches (or count groups) per rule; the oldest is evicted beyond it. */
  maxPartialPerRule?: number;
  /** Live partial matches over all rules. */
  maxPartialTotal?: number;
  /** Expiry work per tick: at most this many entries … */
  sliceEntries?: number;
  /** … and at most this long (ms; default DEFAULT_SLICE_MS). */
  sliceBudgetMs?: number;
  /** Correlation rules may consume correlation detections up to this depth. */
  maxChainDepth?: number;
  /** Where the rules keep their state (default: off the JS heap, blocks allocated in place). */
  store?: StateStore;
  /**
   * Receives one record per decision the engine takes (for `vigil rules explain` and
   * tests). Off by default; when absent the hot path pays one field check per site.
   */
  trace?: (t: EngineTrace) => void;
}

/**
 * What the engine decided about one item, or about one partial match at expiry, release or
 * eviction. Sequence steps: condition-false, key-missing, no-partial, out-of-order (older
 * than the partial), bound-condition-false, span-exceeded, cancelled-absent, join-key-missing,
 * started, advanced, fired. Partials (step = the step it waits for): superseded, expired,
 * absent-satisfied (the absent step's span ended or its process stopped: the rule fires),
 * released, evicted; cancelled-until (step -2). Count rules (step -1): condition-false,
 * key-missing, window-restarted, counted, fired, expired, released, evicted.
 */
export type TraceOutcome = 'condition-false' | 'key-missing' | 'started' | 'superseded' | 'advanced' | 'join-key-missing' | 'fired' | 'no-partial' | 'out-of-order' | 'bound-condition-false' | 'span-exceeded' | 'cancelled-until' | 'cancelled-absent' | 'expired' | 'absent-satisfied' | 'released' | 'evicted' | 'counted' | 'window-restarted';

export interface EngineTrace {
  readonly ruleId: string;
  /** Step index; -1 a count rule; -2 a sequence's `until`. */
  readonly step: number;
  readonly outcome: TraceOutcome;
  /** Event time (or the clock, for expiry). */
  readonly time: number;
  /**
   * The item's key for the step (count: its group); for started/advanced the key the partial
   * now waits under (for step + 1); for a partial's end the key it waited under.
   */
  readonly key?: string;
  /** End of the partial match's span, where there is one. */
  readonly expires?: number;
  /** For 'span-exceeded': by how many ms. */
  readonly overMs?: number;
  /** For count rules: the count after this event. */
  readonly count?: number;
}

export interface LoadReport {
  /** Rules whose state was kept (same id and content hash). */
  kept: number;
  fresh: number;
  /** Rules removed or changed; their partial matches were dropped. */
  dropped: number;
  droppedPartials: number;
}

export interface EngineStats {
  rules: number;
  live: number;
  liveByRule: Record<string, number>;
  fired: number;
  evicted: number;
  expired: number;
}

interface Runtime {
  readonly rule: CompiledCorrelation;
  /**
   * The rule's live records, off the JS heap: a sequence's partial matches, or a count rule's
   * groups (the key records of `count`).
   */
  readonly seq: RuleRecords;
  /** A count rule's groups: counts and evidence (null for sequences). */
  readonly count: CountGroups | null;
  /** Process identity → records whose composite key contains it. */
  readonly byIdentity: Map<string, Set<number>> | null;
  readonly order: number;
  /** Slots whose whole key is one process identity (released by a direct lookup). */
  readonly singleIdentitySlots: readonly number[];
  /** Identity positions per slot for composite keys (released through the index). */
  readonly compositeParts: ReadonlyMap<number, readonly number[]>;
  visit: (id: number) => void;
  /** The rule as every detection of it names it (built once, shared by its detections). */
  readonly ref: DetectionDraft['rule'];
  /** Per sequence step: how its match is described in a detection's `matched`. */
  readonly steps: readonly StepRef[];
}

/** A sequence step as a detection's `matched` names it. */
interface StepRef {
  readonly path: string;
  readonly op: string;
  readonly field: string;
}

/** step ≥ 0: a sequence step; -1: a count rule; -2: a sequence's `until`. */
interface Handler {
  readonly rt: Runtime;
  readonly step: number;
}

export { DEFAULT_SLICE_MS };

const MAX_EVIDENCE = 100;
/** Events between two looks at the clock in onEventsUntil (a few microseconds each). */
const CHECK_EVERY = 16;
const MAX_DISTINCT = 10_000;

/** Subject of step i (0-based) of a chain. */
function boundLookup(chain: readonly ChainItem[]): BoundLookup {
  return (i) => chain[i]?.subj;
}

function liveOf(rt: Runtime): number {
  return rt.seq.live;
}

function satisfies(c: CountConditionDoc, n: number): boolean {
  return (
    (c.gt === undefined || n > c.gt) &&
    (c.gte === undefined || n >= c.gte) &&
    (c.lt === undefined || n < c.lt) &&
    (c.lte === undefined || n <= c.lte) &&
    (c.eq === undefined || n === c.eq)
  );
}

export class CorrelationEngine {
  private readonly clock: Clock;
  private readonly sink: (d: DetectionDraft) => void;
  private readonly counters: EngineCounters | undefined;
  private readonly maxPerRule: number;
  private readonly maxTotal: number;
  private readonly sliceEntries: number;
  private readonly sliceBudgetMs: number;
  private readonly maxChainDepth: number;
  private readonly store: StateStore;
  private readonly trace: ((t: EngineTrace) => void) | undefined;

  private runtimes: Runtime[] = [];
  private typeIdx = new Map<string, Handler[]>();
  private anyType: Handler[] = [];
  private merged = new Map<string, Handler[]>();
  private detIdx = new Map<string, Handler[]>();
  private total = 0;
  private depth = 0;
  // Counted locally on the hot path; flushed to the plugin counters once per batch.
  private n = { fired: 0, evicted: 0, expired: 0, missingKey: 0, superseded: 0, cancelled: 0, released: 0, chainDepth: 0, reloadDropped: 0 };
  private flushed = { ...this.n };

  constructor(opts: EngineOptions) {
    this.clock = opts.clock;
    this.sink = opts.onDetection;
    this.counters = opts.counters;
    this.maxPerRule = opts.maxPartialPerRule ?? 200_000;
    this.maxTotal = opts.maxPartialTotal ?? 1_000_000;
    this.sliceEntries = opts.sliceEntries ?? 8192;
    this.sliceBudgetMs = opts.sliceBudgetMs ?? DEFAULT_SLICE_MS;
    this.maxChainDepth = opts.maxChainDepth ?? 4;
    this.store = opts.store ?? createStateStore();
    this.trace = opts.trace;
  }

  /** Live partial matches over all rules. */
  get liveKeys(): number {
    return this.total;
  }

  /** Bytes of the rules' state outside the JS heap: record rows, lookup tables, kept events. */
  get stateBytes(): number {
    let n = 0;
    for (const rt of this.runtimes) n += rt.count !== null ? rt.count.offHeapBytes : rt.seq.offHeapBytes;
    return n;
  }

  get now(): number {
    return this.clock.now();
  }

  /**
   * Install a rule set. A rule with the same id and content hash as before keeps its live
   * state (a hot reload does not forget half-seen attacks); others start empty.
   */
  load(rules: readonly CompiledCorrelation[]): LoadReport {
    const old = new Map(this.runtimes.map((r) => [r.rule.doc.id, r]));
    const report: LoadReport = { kept: 0, fresh: 0, dropped: 0, droppedPartials: 0 };
    const next: Runtime[] = [];
    rules.forEach((rule, order) => {
      const prev = old.get(rule.doc.id);
      if (prev && prev.rule.hash === rule.hash) {
        old.delete(rule.doc.id);
        next.push(this.runtime(rule, order, prev));
        report.kept++;
      } else {
        next.push(this.runtime(rule, order, null));
        report.fresh++;
      }
    });
    for (const r of old.values()) {
      report.dropped++;
      report.droppedPartials += liveOf(r);
      this.total -= liveOf(r);
    }
    this.n.reloadDropped += report.droppedPartials;
    this.runtimes = next;
    this.buildIndex();
    this.flushCounters();
    return report;
  }

  private runtime(rule: CompiledCorrelation, order: number, prev: Runtime | null): Runtime {
    const singles: number[] = [];
    const composite = new Map<number, readonly number[]>();
    const slotInfo: Array<[number, readonly number[], number]> =
      rule.kind === 'count'
        ? [[0, rule.identityParts, rule.keyArity]]
        : rule.steps.slice(1).map((s) => [s.index, s.identityParts, s.keyArity]);
    for (const [slot, parts, arity] of slotInfo) {
      if (parts.length === 0) continue;
      if (arity === 1) singles.push(slot);
      else composite.set(slot, parts);
    }
    const count = prev !== null ? prev.count : rule.kind === 'count' ? this.store.count(rule.spanMs) : null;
    const rt: Runtime = {
      rule,
      seq: prev !== null ? prev.seq : count !== null ? count.keys : this.store.sequence(rule.kind === 'sequence' ? rule.steps.length : 1, rule.spanMs),
      count,
      byIdentity: prev !== null ? prev.byIdentity : composite.size > 0 ? new Map() : null,
      order,
      singleIdentitySlots: singles,
      compositeParts: composite,
      visit: () => undefined,
      ref: Object.freeze({
        id: rule.doc.id,
        title: rule.doc.title,
        source: 'correlation',
        ...(rule.doc.version !== undefined ? { version: rule.doc.version } : {}),
        ...(rule.doc.description !== undefined ? { description: rule.doc.description } : {}),
      }),
      steps:
        rule.kind === 'sequence'
          ? rule.steps.map((st, i) => ({ path: `/steps/${i}`, op: st.ruleIds ? 'rule' : 'event', field: rule.doc.steps[i]?.by.join(',') ?? '' }))
          : [],
    };
    rt.visit = (id) => (rt.count !== null ? this.visitCountExpired(rt, id) : this.visitSeqExpired(rt, id));
    return rt;
  }

  private buildIndex(): void {
    this.typeIdx = new Map();
    this.anyType = [];
    this.merged = new Map();
    this.detIdx = new Map();
    const addType = (types: ReadonlySet<string> | null, h: Handler): void => {
      if (types === null) this.anyType.push(h);
      else for (const t of types) this.typeIdx.set(t, [...(this.typeIdx.get(t) ?? []), h]);
    };
    const addDet = (ids: readonly string[], h: Handler): void => {
      for (const id of ids) this.detIdx.set(id, [...(this.detIdx.get(id) ?? []), h]);
    };
    for (const rt of this.runtimes) {
      const r = rt.rule;
      if (r.kind === 'count') {
        const h = { rt, step: -1 };
        if (r.ruleIds) addDet(r.ruleIds, h);
        else addType(r.types, h);
        continue;
      }
      if (r.until) addType(r.until.types, { rt, step: -2 });
      // Later steps first, so that one event cannot advance a match by two steps at once.
      for (let k = r.steps.length - 1; k >= 0; k--) {
        const s = r.steps[k];
        if (s === undefined) continue;
        const h = { rt, step: k };
        if (s.ruleIds) addDet(s.ruleIds, h);
        else addType(s.types, h);
      }
    }
  }

  /** Handlers for an event type: typed and untyped, in rule order then handler order. */
  private handlersFor(type: string): Handler[] {
    let hs = this.merged.get(type);
    if (hs === undefined) {
      const typed = this.typeIdx.get(type) ?? [];
      hs = [...typed, ...this.anyType].sort((a, b) => a.rt.order - b.rt.order || b.step - a.step);
      // An `until` (-2) must run before the steps of its rule.
      hs.sort((a, b) => a.rt.order - b.rt.order || (a.step === -2 ? -1 : b.step === -2 ? 1 : b.step - a.step));
      this.merged.set(type, hs);
    }
    return hs;
  }

  /** Feed a batch of events (bus order). */
  onEvents(batch: readonly VigilEvent[]): void {
    for (const e of batch) this.processEvent(e);
    this.flushCounters();
  }

  /**
   * Feed `batch` from index `start` until it is done or `deadline` (performance.now() ms)
   * has passed; returns the index of the first event not processed. The caller yields to
   * the event loop between calls, so a large batch never blocks it for longer than a slice.
   */
  onEventsUntil(batch: readonly VigilEvent[], start: number, deadline: number): number {
    let i = start;
    const n = batch.length;
    while (i < n) {
      const end = Math.min(n, i + CHECK_EVERY);
      for (; i < end; i++) this.processEvent(batch[i] as VigilEvent);
      if (performance.now() >= deadline) break;
    }
    this.flushCounters();
    return i;
  }

  processEvent(e: VigilEvent): void {
    const time = e.time;
    this.clock.observe(time);
    const hs = this.handlersFor(e.type);
    for (let i = 0; i < hs.length; i++) {
      const h = hs[i] as Handler;
      this.dispatch(h, e, null, time, null);
    }
    if (e.type === 'process.stop') {
      const id = processIdentity(e.proc);
      if (id !== undefined) this.releaseProcess(id);
    }
  }

  /** Feed detections of other analyzers (correlation detections are chained internally). */
  onDetections(batch: readonly DetectionLike[]): void {
    for (const d of batch) {
      if ((d.rule as { source?: string }).source === 'correlation') continue;
      this.processDetection(d);
    }
    this.flushCounters();
  }

  processDetection(d: DetectionLike): void {
    const hs = this.detIdx.get(d.rule.id);
    this.clock.observe(d.time);
    if (hs === undefined) return;
    const subj: object = d.evidence[d.evidence.length - 1] ?? { type: 'detection', time: d.time };
    for (const h of hs) this.dispatch(h, subj, d, d.time, d.rule.id);
  }

  private dispatch(h: Handler, subj: object, det: DetectionLike | null, time: number, ruleId: string | null): void {
    const r = h.rt.rule;
    if (r.kind === 'count') this.countItem(h.rt, r, subj, det, time, ruleId);
    else if (h.step === -2) this.untilItem(h.rt, r, subj, det, time);
    else this.stepItem(h.rt, r, h.step, subj, det, time);
  }

  // ---- sequences ---------------------------------------------------------------------

  private stepItem(rt: Runtime, r: CompiledSequence, k: number, subj: object, det: DetectionLike | null, time: number): void {
    const st = r.steps[k];
    const seq = rt.seq;
    if (st === undefined) return;
    if (st.cond !== null && !st.cond.usesBound && !st.cond.test(subj, null)) {
      if (this.trace !== undefined) this.trace({ ruleId: r.doc.id, step: k, outcome: 'condition-false', time });
      return;
    }
    const key = st.key(subj, det);
    if (key === undefined) {
      this.n.missingKey++;
      if (this.trace !== undefined) this.trace({ ruleId: r.doc.id, step: k, outcome: 'key-missing', time });
      return;
    }
    if (k === 0) {
      const next = r.steps[1];
      if (next === undefined) return;
      const waitKey = next.defaultJoin ? key : next.join?.((i) => (i === 0 ? subj : undefined), (i) => (i === 0 ? det : null));
      if (waitKey === undefined) {
        this.n.missingKey++;
        if (this.trace !== undefined) this.trace({ ruleId: r.doc.id, step: 0, outcome: 'join-key-missing', time, key });
        return;
      }
      this.insertSeq(rt, 1, waitKey, time + r.spanMs, time, -1, subj, det);
      if (this.trace !== undefined) this.trace({ ruleId: r.doc.id, step: 0, outcome: 'started', time, key: waitKey, expires: time + r.spanMs });
      return;
    }
    const id = seq.find(k, key);
    if (id < 0) {
      if (this.trace !== undefined) this.trace({ ruleId: r.doc.id, step: k, outcome: 'no-partial', time, key });
      return;
    }
    if (time > seq.expiresOf(id)) {
      // Past the span: the match is over (an absent step is thereby satisfied).
      if (this.trace !== undefined) {
        const expires = seq.expiresOf(id);
        this.trace({ ruleId: r.doc.id, step: k, outcome: 'span-exceeded', time, key, expires, overMs: time - expires });
      }
      this.expireSeq(rt, r, id, time);
      return;
    }
    if (time < seq.timeOf(id)) {
      if (this.trace !== undefined) this.trace({ ruleId: r.doc.id, step: k, outcome: 'out-of-order', time, key, expires: seq.expiresOf(id) });
      return;
    }
    // The earlier steps' events are re-created only when a condition or the detection needs them.
    let chain: ChainItem[] | null = null;
    if (st.cond !== null && st.cond.usesBound) {
      chain = seq.chain(id);
      if (!st.cond.test(subj, boundLookup(chain))) {
        if (this.trace !== undefined) this.trace({ ruleId: r.doc.id, step: k, outcome: 'bound-condition-false', time, key, expires: seq.expiresOf(id) });
        return;
      }
    }
    if (st.absent) {
      if (this.trace !== undefined) this.trace({ ruleId: r.doc.id, step: k, outcome: 'cancelled-absent', time, key, expires: seq.expiresOf(id) });
      this.removeSeq(rt, id);
      this.n.cancelled++;
      return;
    }
    if (k === r.steps.length - 1) {
      chain ??= seq.chain(id);
      this.removeSeq(rt, id);
      this.fireSequence(rt, r, chain, subj, det, time);
      return;
    }
    const next = r.steps[k + 1];
    if (next === undefined) return;
    let waitKey: string | undefined = key;
    if (!next.defaultJoin) {
      const ch = (chain ??= seq.chain(id));
      waitKey = next.join?.(
        (i) => (i === k ? subj : ch[i]?.subj),
        (i) => (i === k ? det : (ch[i]?.det ?? null)),
      );
    }
    if (waitKey === undefined) {
      if (this.trace !== undefined) this.trace({ ruleId: r.doc.id, step: k, outcome: 'join-key-missing', time, key, expires: seq.expiresOf(id) });
      this.removeSeq(rt, id);
      this.n.missingKey++;
      return;
    }
    const expires = seq.expiresOf(id);
    this.insertSeq(rt, k + 1, waitKey, expires, time, id, subj, det);
    if (this.trace !== undefined) this.trace({ ruleId: r.doc.id, step: k, outcome: 'advanced', time, key: waitKey, expires });
  }

  private untilItem(rt: Runtime, r: CompiledSequence, subj: object, det: DetectionLike | null, time: number): void {
    const u = r.until;
    const seq = rt.seq;
    if (u === null || !u.cond.test(subj, null)) return;
    const key = u.key(subj, det);
    if (key === undefined) return;
    for (let s = 1; s < r.steps.length; s++) {
      const id = seq.find(s, key);
      if (id >= 0) {
        if (this.trace !== undefined) this.trace({ ruleId: r.doc.id, step: -2, outcome: 'cancelled-until', time, key, expires: seq.expiresOf(id) });
        this.removeSeq(rt, id);
        this.n.cancelled++;
      }
    }
  }

  /** `chain`: the steps matched so far; `subj` the final step's subject, or null for an absent step. */
  private fireSequence(rt: Runtime, r: CompiledSequence, chain: readonly ChainItem[], subj: object | null, det: DetectionLike | null, time: number): void {
    const evidence: VigilEvent[] = [];
    // Events re-created from bytes are new objects: only consumed detections can share events.
    let seen: Set<VigilEvent> | null = det !== null ? new Set() : null;
    const matched: MatchedPredicate[] = [];
    const steps = rt.steps;
    for (let i = 0; i < chain.length; i++) {
      const n = chain[i] as ChainItem;
      if (n.det !== null) seen ??= new Set(evidence);
      if (seen !== null) pushEvidence(evidence, seen, n.det !== null ? n.det.evidence : (n.subj as VigilEvent));
      else evidence.push(n.subj as VigilEvent);
      const s = steps[i] as StepRef;
      matched.push({ path: s.path, op: s.op, field: s.field, value: n.key });
    }
    const lastKey = chain[chain.length - 1]?.key ?? '';
    const i = chain.length;
    const s = steps[i] as StepRef;
    if (subj !== null) {
      if (seen !== null) pushEvidence(evidence, seen, det !== null ? det.evidence : (subj as VigilEvent));
      else evidence.push(subj as VigilEvent);
      matched.push({ path: s.path, op: s.op, field: s.field, value: lastKey });
    } else {
      matched.push({ path: s.path, op: 'absent', field: s.field, value: lastKey });
    }
    // Before the sink: what the detection chains into (other rules) is traced after it.
    if (this.trace !== undefined) this.trace({ ruleId: r.doc.id, step: i, outcome: 'fired', time, key: lastKey });
    this.fire(rt, evidence, matched, `${r.doc.title} (${lastKey.includes(KEY_SEP) ? lastKey.split(KEY_SEP).join(', ') : lastKey})`);
  }

  /** A record waiting for `slot` under `key`, extending the chain of `prev` (removed here). */
  private insertSeq(rt: Runtime, slot: number, key: string, expires: number, time: number, prev: number, subj: object, det: DetectionLike | null): void {
    const seq = rt.seq;
    const old = seq.find(slot, key);
    if (old >= 0) {
      // The newer partial replaces the older one under the same key: it expires later.
      if (this.trace !== undefined) this.trace({ ruleId: rt.rule.doc.id, step: slot, outcome: 'superseded', time, key, expires: seq.expiresOf(old) });
      this.removeSeq(rt, old);
      this.n.superseded++;
    }
    const id = seq.add(slot, key, expires, time, prev, subj, det);
    this.total++;
    if (prev >= 0) this.removeSeq(rt, prev);
    if (rt.byIdentity !== null) this.indexSeq(rt, id, slot, key);
    this.enforceLimits(rt);
  }

  /** End record `id` (a partial match, or a count group with its evidence). */
  private removeSeq(rt: Runtime, id: number): void {
    const seq = rt.seq;
    if (!seq.isLive(id)) return;
    if (rt.byIdentity !== null) this.unindexSeq(rt, id);
    if (rt.count !== null) rt.count.remove(id);
    else seq.remove(id);
    this.total--;
  }

  private indexSeq(rt: Runtime, id: number, slot: number, key: string): void {
    const parts = rt.compositeParts.get(slot);
    const idx = rt.byIdentity;
    if (parts === undefined || idx === null) return;
    const ks = key.split(KEY_SEP);
    for (const p of parts) {
      const ident = ks[p];
      if (ident === undefined) continue;
      let set = idx.get(ident);
      if (set === undefined) idx.set(ident, (set = new Set()));
      set.add(id);
    }
  }

  private unindexSeq(rt: Runtime, id: number): void {
    const seq = rt.seq;
    const parts = rt.compositeParts.get(seq.slotOf(id));
    const idx = rt.byIdentity;
    if (parts === undefined || idx === null) return;
    const ks = seq.keyOf(id).split(KEY_SEP);
    for (const p of parts) {
      const ident = ks[p];
      const set = ident === undefined ? undefined : idx.get(ident);
      if (set === undefined || ident === undefined) continue;
      set.delete(id);
      if (set.size === 0) idx.delete(ident);
    }
  }

  private releaseSeq(rt: Runtime, r: CompiledSequence, id: number): void {
    const seq = rt.seq;
    if (r.steps[seq.slotOf(id)]?.absent === true) {
      const chain = seq.chain(id);
      if (this.trace !== undefined) this.traceSeq(rt, id, 'absent-satisfied', this.clock.now());
      this.removeSeq(rt, id);
      this.fireSequence(rt, r, chain, null, null, this.clock.now());
      return;
    }
    if (this.trace !== undefined) this.traceSeq(rt, id, 'released', this.clock.now());
    this.removeSeq(rt, id);
    this.n.released++;
  }

  private visitSeqExpired(rt: Runtime, id: number): void {
    const seq = rt.seq;
    if (!seq.isLive(id) || rt.rule.kind !== 'sequence') return;
    const now = this.clock.now();
    if (seq.expiresOf(id) > now) {
      seq.requeue(id);
      return;
    }
    // Traced here, not in expireSeq: an item that finds the partial past its span traces
    // 'span-exceeded' instead, so that each end of a partial is one record.
    if (this.trace !== undefined) this.traceSeq(rt, id, rt.rule.steps[seq.slotOf(id)]?.absent === true ? 'absent-satisfied' : 'expired', now);
    this.expireSeq(rt, rt.rule, id, now);
  }

  /** End of a partial match's span: an absent step fires. */
  private expireSeq(rt: Runtime, r: CompiledSequence, id: number, time: number): void {
    const seq = rt.seq;
    const absent = r.steps[seq.slotOf(id)]?.absent === true;
    const chain = absent ? seq.chain(id) : null;
    this.removeSeq(rt, id);
    this.n.expired++;
    if (chain !== null) this.fireSequence(rt, r, chain, null, null, time);
  }

  /** Trace the end of live sequence record `id` (only called when tracing). */
  private traceSeq(rt: Runtime, id: number, outcome: TraceOutcome, time: number): void {
    const seq = rt.seq;
    this.trace?.({ ruleId: rt.rule.doc.id, step: rt.count !== null ? -1 : seq.slotOf(id), outcome, time, key: seq.keyOf(id), expires: seq.expiresOf(id) });
  }

  // ---- counts ------------------------------------------------------------------------

  private countItem(rt: Runtime, r: CompiledCount, subj: object, det: DetectionLike | null, time: number, ruleId: string | null): void {
    if (r.cond !== null && !r.cond.test(subj, null)) {
      if (this.trace !== undefined) this.trace({ ruleId: r.doc.id, step: -1, outcome: 'condition-false', time });
      return;
    }
    const keyFn = (ruleId !== null ? r.keyByRule.get(ruleId) : undefined) ?? r.key;
    const key = keyFn(subj, det);
    let dv: string | undefined;
    if (r.distinct !== null) dv = r.distinct(subj, det);
    if (key === undefined || (r.distinct !== null && dv === undefined)) {
      this.n.missingKey++;
      if (this.trace !== undefined) this.trace({ ruleId: r.doc.id, step: -1, outcome: 'key-missing', time, ...(key !== undefined ? { key } : {}) });
      return;
    }
    const cs = rt.count;
    if (cs === null) return;
    let g = cs.find(key);
    if (g >= 0 && time > cs.expiresOf(g)) {
      if (this.trace !== undefined) this.trace({ ruleId: r.doc.id, step: -1, outcome: 'window-restarted', time, key, expires: cs.expiresOf(g) });
      this.expireCount(rt, r, g, time);
      g = -1;
    }
    if (g < 0) {
      g = cs.create(key, time, time + r.spanMs);
      this.total++;
      if (rt.byIdentity !== null) this.indexSeq(rt, g, 0, key);
      this.enforceLimits(rt);
      if (!cs.isLive(g)) return; // evicted at once (limits of 0)
    }
    const ev: Evidence = det ? det.evidence : (subj as VigilEvent);
    const seen = cs.counted(g);
    if (dv !== undefined) {
      if (!cs.sight(g, dv, time, ev, MAX_DISTINCT)) this.counters?.discard('distinct_overflow', 1, false);
    } else if (r.threshold !== null || cs.kept(g) < MAX_EVIDENCE) {
      cs.push(g, time, ev);
    }
    if (r.threshold === null) {
      if (this.trace !== undefined) this.trace({ ruleId: r.doc.id, step: -1, outcome: 'counted', time, key, expires: cs.expiresOf(g), count: dv !== undefined ? cs.distinctCount(g) : seen });
      return; // evaluated when the window closes
    }
    const cutoff = time - r.spanMs;
    let n: number;
    if (dv !== undefined) {
      cs.forgetBefore(g, cutoff);
      n = cs.distinctCount(g);
    } else {
      while (cs.kept(g) > 0 && (cs.oldestTime(g) < cutoff || cs.kept(g) > r.threshold)) cs.shift(g);
      n = cs.kept(g);
    }
    if (this.trace !== undefined) this.trace({ ruleId: r.doc.id, step: -1, outcome: 'counted', time, key, expires: time + r.spanMs, count: n });
    if (n >= r.threshold) {
      this.fireCount(rt, r, g, n, time);
      return;
    }
    // Sliding window: the group lives until its newest event leaves the window. The wheel
    // entry is not moved here; the sweep re-queues a group it finds extended.
    cs.setExpires(g, time + r.spanMs);
  }

  /** Group `g` reached its condition: it fires and ends. */
  private fireCount(rt: Runtime, r: CompiledCount, g: number, n: number, time: number): void {
    const cs = rt.count as CountGroups;
    const evidence = cs.evidence(g);
    const key = cs.keyOf(g);
    // The group ends before the detection goes out: a chained rule may count into this rule again.
    this.removeSeq(rt, g);
    const what = r.doc.value_count !== undefined ? `${n} distinct ${r.doc.value_count}` : `${n} events`;
    if (this.trace !== undefined) this.trace({ ruleId: r.doc.id, step: -1, outcome: 'fired', time, key, count: n });
    this.fire(rt, evidence, [{ path: '/condition', op: 'count', field: r.doc.value_count ?? r.doc.group_by.join(','), value: n }], `${r.doc.title}: ${what} for ${key.includes(KEY_SEP) ? key.split(KEY_SEP).join(', ') : key}`);
  }

  /** End of group `g`'s window: a window-close condition (lt, lte, eq …) is evaluated. */
  private expireCount(rt: Runtime, r: CompiledCount, g: number, time: number): void {
    const cs = rt.count as CountGroups;
    this.n.expired++;
    if (r.threshold === null) {
      const d = cs.distinctCount(g);
      const n = d >= 0 ? d : cs.count(g);
      if (satisfies(r.condition, n)) {
        this.fireCount(rt, r, g, n, time);
        return;
      }
    }
    this.removeSeq(rt, g);
  }

  private visitCountExpired(rt: Runtime, id: number): void {
    const cs = rt.count as CountGroups;
    if (!cs.isLive(id) || rt.rule.kind !== 'count') return;
    const now = this.clock.now();
    if (cs.expiresOf(id) > now) {
      rt.seq.requeue(id); // extended since it was queued (sliding window): queue it again
      return;
    }
    if (this.trace !== undefined) this.trace({ ruleId: rt.rule.doc.id, step: -1, outcome: 'expired', time: now, key: cs.keyOf(id), expires: cs.expiresOf(id) });
    this.expireCount(rt, rt.rule, id, now);
  }

  // ---- shared ------------------------------------------------------------------------

  private fire(rt: Runtime, evidence: VigilEvent[], matched: MatchedPredicate[], summary: string): void {
    const doc = rt.rule.doc;
    const draft: DetectionDraft = {
      rule: rt.ref,
      severity: doc.severity,
      tags: doc.tags ?? [],
      evidence,
      matched,
      summary,
    };
    if (doc.response !== undefined) draft.actions = doc.response;
    this.n.fired++;
    this.sink(draft);
    // Correlation rules may build on other correlation rules (Sigma chains them by name).
    const hs = this.detIdx.get(doc.id);
    if (hs === undefined) return;
    if (this.depth >= this.maxChainDepth) {
      this.n.chainDepth++;
      return;
    }
    const newest = evidence[evidence.length - 1];
    const det: DetectionLike = { rule: { id: doc.id, title: doc.title }, evidence, time: newest?.time ?? this.clock.now() };
    this.depth++;
    try {
      const subj: object = newest ?? { type: 'detection', time: det.time };
      for (const h of hs) this.dispatch(h, subj, det, det.time, doc.id);
    } finally {
      this.depth--;
    }
  }

  private enforceLimits(rt: Runtime): void {
    if (liveOf(rt) > this.maxPerRule) this.evictOldest(rt);
    while (this.total > this.maxTotal) {
      let victim = rt;
      if (liveOf(rt) === 0) for (const o of this.runtimes) if (liveOf(o) > liveOf(victim)) victim = o;
      if (liveOf(victim) === 0) break;
      this.evictOldest(victim);
    }
  }

  private evictOldest(rt: Runtime): void {
    const id = rt.seq.oldest();
    if (id < 0) return;
    if (this.trace !== undefined) this.traceSeq(rt, id, 'evicted', this.clock.now());
    this.removeSeq(rt, id);
    this.n.evicted++;
  }

  /** A process ended: its partial matches cannot progress (absent steps are thereby met). */
  releaseProcess(identity: string): void {
    for (const rt of this.runtimes) {
      const seq = rt.seq;
      for (const s of rt.singleIdentitySlots) {
        const id = seq.find(s, identity);
        if (id >= 0) this.release(rt, id);
      }
      const set = rt.byIdentity?.get(identity);
      // Releasing may fire and thereby change the set: re-check each id.
      if (set !== undefined) for (const id of [...set]) if (set.has(id) && seq.isLive(id)) this.release(rt, id);
    }
  }

  private release(rt: Runtime, id: number): void {
    const r = rt.rule;
    if (r.kind === 'sequence') {
      this.releaseSeq(rt, r, id);
      return;
    }
    if (this.trace !== undefined) this.traceSeq(rt, id, 'released', this.clock.now());
    if (r.threshold === null) {
      // A window-close condition is decided now, on what the window has seen.
      this.expireCount(rt, r, id, this.clock.now());
      return;
    }
    this.removeSeq(rt, id);
    this.n.released++;
  }

  /**
   * One slice of expiry work, bounded by entries and time so that the event loop never
   * stalls. Returns true when every due entry has been handled.
   */
  tick(): boolean {
    const now = this.clock.now();
    if (!Number.isFinite(now)) return true;
    const deadline = performance.now() + this.sliceBudgetMs;
    let budget = this.sliceEntries;
    let caughtUp = true;
    for (const rt of this.runtimes) {
      for (;;) {
        // A look at the clock every 256 entries keeps a slice near its budget.
        const ask = Math.min(budget, 256);
        if (ask <= 0) break;
        const done = rt.seq.sweep(now, ask, rt.visit);
        budget -= done;
        if (done < ask) break;
        if (performance.now() >= deadline) {
          budget = 0;
          break;
        }
      }
      if (budget <= 0) {
        caughtUp = false;
        break;
      }
    }
    this.flushCounters();
    return caughtUp;
  }

  /** Run expiry until caught up (tests and shutdown; not for the event loop's hot path). */
  drain(): void {
    while (!this.tick()) {
      // keep going
    }
  }

  stats(): EngineStats {
    const liveByRule: Record<string, number> = {};
    for (const rt of this.runtimes) liveByRule[rt.rule.doc.id] = liveOf(rt);
    return { rules: this.runtimes.length, live: this.total, liveByRule, fired: this.n.fired, evicted: this.n.evicted, expired: this.n.expired };
  }

  private flushCounters(): void {
    const c = this.counters;
    if (c === undefined) return;
    const n = this.n;
    const f = this.flushed;
    const d = (reason: string, cur: number, prev: number, intended: boolean): void => {
      if (cur > prev) c.discard(reason, cur - prev, intended);
    };
    d('evicted', n.evicted, f.evicted, false);
    d('expired', n.expired, f.expired, true);
    d('missing_key', n.missingKey, f.missingKey, true);
    d('superseded', n.superseded, f.superseded, true);
    d('cancelled', n.cancelled, f.cancelled, true);
    d('released', n.released, f.released, true);
    d('chain_depth', n.chainDepth, f.chainDepth, false);
    d('reload_dropped', n.reloadDropped, f.reloadDropped, true);
    if (n.fired > f.fired) c.add('fired', n.fired - f.fired);
    c.set('live_keys', this.total);
    c.set('state_bytes', this.stateBytes);
    this.flushed = { ...n };
  }
}
