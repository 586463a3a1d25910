/**
 * `vigil rules explain` for sequence and count rules: feeds an ordered list of events (the
 * fixture item form) one by one through the real CorrelationEngine on a virtual clock and
 * prints, per event and per step, what happened and why.
 *
 * Every verdict is the engine's own: it runs with its `trace` option and each line below
 * renders one of its records. Only labels are added here: which items make up a partial match
 * (every record about a partial names its step and key, so a map from step and key to items
 * follows the engine's state exactly, and is checked against its live count), the key a step
 * matched when it advanced (the step's compiled key function), and the detections' summaries.
 */
import { isKnownEventType, type EventDraft, type VigilEvent, type DetectionDraft } from '../../../core/index.js';
import { VirtualClock } from './clock.js';
import { CorrelationEngine, type EngineTrace } from './engine.js';
import type { CompiledCorrelation, CompiledCount, CompiledSequence, FixtureItem, NamedDefs } from './model.js';
import { KEY_SEP, processIdentity } from './paths.js';
import type { DetectionLike } from './evidence.js';

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
  | 'out-of-order'
  | 'span-exceeded'
  | 'bound-condition-false'
  | 'cancelled-until'
  | 'cancelled-absent'
  | 'expired'
  | 'absent-satisfied'
  | 'released'
  | 'evicted'
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
  /** For `counted`: the group's count after the event. */
  count?: number;
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
  /** Where the trace's own labels and the engine disagreed (should stay empty). */
  notes: string[];
  text: string;
}

/**
 * How far past the span the clock moves after the last item: expiry runs on a wheel of
 * buckets (at most 1 s), so a partial is swept up to a bucket late; the same margin as the
 * fixture runner's.
 */
const END_SLACK_MS = 2001;

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

interface Fed {
  subj: VigilEvent;
  det: DetectionLike | null;
  time: number;
  what: string;
}

/** Stamp an item as the engine sees it. */
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

/** Where a batch of trace records came from: an item (index ≥ 0, or -1 at end of input) or the sweep after it. */
interface Phase {
  index: number;
  fed: Fed | null;
  sweep: boolean;
}

/** Turns trace records into lines; `take` hands out the rule's detections in firing order. */
interface Renderer {
  lines(recs: readonly EngineTrace[], ph: Phase, take: () => DetectionDraft | undefined): ExplainLine[];
  /** Live partial matches (or groups) the labels know of, or null when not tracked. */
  readonly live: number | null;
}

/** Explain one compiled rule against ordered items. `defs` as the rule was compiled with (not needed: the engine runs the compiled rule). */
export function explainCorrelation(rule: CompiledCorrelation, items: readonly FixtureItem[], _defs: NamedDefs): CorrelationExplain {
  const clock = new VirtualClock(0);
  const recs: EngineTrace[] = [];
  const dets: DetectionDraft[] = [];
  const engine = new CorrelationEngine({ clock, onDetection: (d) => dets.push(d), trace: (t) => recs.push(t) });
  engine.load([rule]);
  const render = rule.kind === 'sequence' ? sequenceRenderer(rule) : countRenderer(rule);
  const notes: string[] = [];
  let taken = 0;
  const take = (): DetectionDraft | undefined => {
    const d = dets[taken];
    if (d === undefined) notes.push('the engine traced a firing without a detection');
    else taken++;
    return d;
  };
  const flush = (ph: Phase): ExplainLine[] => {
    const lines = render.lines(recs.filter((t) => t.ruleId === rule.doc.id), ph, take);
    recs.length = 0;
    return lines;
  };
  const check = (where: string): void => {
    if (render.live !== null && render.live !== engine.liveKeys) notes.push(`${where}: the engine holds ${engine.liveKeys} partial match(es), the trace knows ${render.live}`);
    if (taken !== dets.length) notes.push(`${where}: ${dets.length - taken} detection(s) without a traced firing`);
    taken = dets.length;
  };

  const out: ExplainItem[] = [];
  let last = Number.NEGATIVE_INFINITY;
  items.forEach((item, i) => {
    const fed = feedItem(item, i, Number.isFinite(last) ? last : 0);
    clock.set(Math.max(clock.now(), fed.time));
    last = Math.max(last, fed.time);
    if (fed.det !== null) engine.onDetections([fed.det]);
    else engine.onEvents([fed.subj]);
    const lines = flush({ index: i, fed, sweep: false });
    // Expiry that runs after the event (the engine's sweep at this time).
    engine.drain();
    lines.push(...flush({ index: i, fed, sweep: true }));
    if (lines.length === 0) lines.push({ step: -1, outcome: 'not-consumed', message: rule.kind === 'sequence' ? 'no step of this rule takes this event' : 'this rule does not take this event' });
    out.push({ index: i, time: fed.time, what: fed.what, lines });
    check(`after #${i}`);
  });

  // End of input: run the clock past the span so that absent steps and expiry are decided.
  if (Number.isFinite(last)) {
    const end = last + rule.spanMs + END_SLACK_MS;
    clock.set(Math.max(clock.now(), end));
    engine.drain();
    const lines = flush({ index: -1, fed: null, sweep: true });
    if (lines.length > 0) out.push({ index: -1, time: end, what: `end of input (clock moved past the ${rule.kind === 'sequence' ? 'span' : 'window'})`, lines });
    check('at the end of input');
  }
  return finish(rule, out, dets.filter((d) => d.rule.id === rule.doc.id).length, notes);
}

/** "process X ended" for a release by `process.stop`. */
function ended(ph: Phase): string {
  const ident = ph.fed !== null && ph.fed.det === null ? processIdentity(ph.fed.subj.proc) : undefined;
  return ident !== undefined ? `process ${ident} ended` : 'the process ended';
}

function sequenceRenderer(rule: CompiledSequence): Renderer {
  const n = rule.steps.length;
  const span = rule.spanMs;
  /** Step and key of every live partial match → its items, in step order. */
  const partials = new Map<string, number[]>();
  const at = (s: number, key: string): string => `${s}\u0000${key}`;
  const takeChain = (s: number, key: string | undefined): number[] | undefined => {
    if (key === undefined) return undefined;
    const c = partials.get(at(s, key));
    partials.delete(at(s, key));
    return c;
  };
  const stepName = (k: number): string => `step ${k}${rule.steps[k]?.name !== undefined ? ` (${rule.steps[k]?.name})` : ''}`;
  const chainText = (c: readonly number[]): string => c.map((i, s) => `#${i} (${stepName(s)})`).join(', ');
  const partialText = (c: readonly number[] | undefined): string => (c !== undefined ? ` ${chainText(c)}` : '');
  const withChain = (c: number[] | undefined): { chain?: number[] } => (c !== undefined ? { chain: c } : {});

  function lines(recs: readonly EngineTrace[], ph: Phase, take: () => DetectionDraft | undefined): ExplainLine[] {
    const outLines: ExplainLine[] = [];
    const push = (l: ExplainLine): void => void outLines.push(l);
    const i = ph.index;
    // An older partial the next started/advanced record replaces (same step and key).
    let replaced: { slot: number; key: string; chain: number[] | undefined } | undefined;
    const replacedText = (slot: number, key: string, same: string): string => {
      const r = replaced;
      replaced = undefined;
      return r !== undefined && r.slot === slot && r.key === key ? `; replaces the older partial${partialText(r.chain)}${same}` : '';
    };
    for (const t of recs) {
      const k = t.step;
      const key = t.key;
      const keyOpt = key !== undefined ? { key } : {};
      switch (t.outcome) {
        case 'condition-false':
          push({ step: k, outcome: t.outcome, message: `${stepName(k)}: event type fits, condition false` });
          break;
        case 'key-missing':
          push({ step: k, outcome: t.outcome, message: `${stepName(k)}: condition true, but its key (by ${rule.doc.steps[k]?.by.join(', ')}) is missing in the event` });
          break;
        case 'join-key-missing': {
          if (k === 0) {
            push({ step: 0, outcome: t.outcome, ...keyOpt, message: `${stepName(0)}: matched (key ${showKey(key)}), but the key ${stepName(1)} waits under is missing: nothing started` });
            break;
          }
          const from = takeChain(k, key);
          push({ step: k, outcome: t.outcome, ...keyOpt, chain: [...(from ?? []), i], message: `${stepName(k)}: matched the partial${partialText(from)}, but the key ${stepName(k + 1)} waits under is missing: partial dropped` });
          break;
        }
        case 'superseded':
          if (key !== undefined) replaced = { slot: k, key, chain: takeChain(k, key) };
          break;
        case 'started': {
          if (key === undefined) break;
          partials.set(at(1, key), [i]);
          const more = replacedText(1, key, ' under the same key');
          push({
            step: 0,
            outcome: more !== '' ? 'superseded' : 'started',
            key,
            chain: [i],
            message: `${stepName(0)}: matched: partial match started, waiting for ${stepName(1)} under key ${showKey(key)} until ${iso(t.expires ?? t.time + span)}${more}`,
          });
          break;
        }
        case 'advanced': {
          if (key === undefined) break;
          // The trace names the key the partial now waits under; the one it matched is the step's own key.
          const matched = ph.fed !== null ? rule.steps[k]?.key(ph.fed.subj, ph.fed.det) : undefined;
          const from = takeChain(k, matched);
          const chain = [...(from ?? []), i];
          partials.set(at(k + 1, key), chain);
          push({
            step: k,
            outcome: t.outcome,
            ...(matched !== undefined ? { key: matched } : {}),
            chain,
            message: `${stepName(k)}: matched the partial${partialText(from)} under key ${showKey(matched)}: now waiting for ${stepName(k + 1)} under key ${showKey(key)}${replacedText(k + 1, key, '')}`,
          });
          break;
        }
        case 'fired': {
          const d = take();
          const what = `FIRED: ${d?.summary ?? d?.rule.title ?? rule.doc.title}`;
          if (rule.steps[k]?.absent === true || ph.sweep) {
            // The absent step's end was traced just before (span over or process ended).
            push({ step: -1, outcome: 'fired', message: what });
            break;
          }
          const from = takeChain(k, key);
          push({ step: k, outcome: 'fired', ...keyOpt, chain: [...(from ?? []), i], message: `${stepName(k)}: matched the partial${partialText(from)} under key ${showKey(key)}: ${what}` });
          break;
        }
        case 'no-partial': {
          const waiting = [...partials.keys()].filter((p) => p.startsWith(`${k}\u0000`)).map((p) => showKey(p.slice(p.indexOf('\u0000') + 1)));
          push({ step: k, outcome: t.outcome, ...keyOpt, message: `${stepName(k)}: matches with key ${showKey(key)}, but no partial match waits for it under that key${waiting.length > 0 ? ` (waiting: ${waiting.join(', ')})` : ''}` });
          break;
        }
        case 'out-of-order': {
          const p = key !== undefined ? partials.get(at(k, key)) : undefined;
          push({ step: k, outcome: t.outcome, ...keyOpt, ...withChain(p), message: `${stepName(k)}: the event is older than the partial${partialText(p)} under key ${showKey(key)}: ignored` });
          break;
        }
        case 'bound-condition-false': {
          const p = key !== undefined ? partials.get(at(k, key)) : undefined;
          push({ step: k, outcome: t.outcome, ...keyOpt, ...withChain(p), message: `${stepName(k)}: the condition comparing with earlier steps is false for the partial${partialText(p)}` });
          break;
        }
        case 'span-exceeded': {
          const p = takeChain(k, key);
          const ends = t.expires;
          push({
            step: k,
            outcome: t.outcome,
            ...keyOpt,
            ...withChain(p),
            ...(t.overMs !== undefined ? { overMs: t.overMs } : {}),
            message:
              `${stepName(k)}: matches under key ${showKey(key)}, but the partial${partialText(p)} is past its span` +
              (ends !== undefined && t.overMs !== undefined ? `: span exceeded by ${t.overMs} ms (span ${span} ms, ended ${iso(ends)})` : '') +
              (rule.steps[k]?.absent === true ? ': the absent step is thereby satisfied' : ': partial match over'),
          });
          break;
        }
        case 'cancelled-absent': {
          const p = takeChain(k, key);
          push({ step: k, outcome: t.outcome, ...keyOpt, ...withChain(p), message: `${stepName(k)} (absent) happened under key ${showKey(key)}: the partial${partialText(p)} is cancelled and cannot fire` });
          break;
        }
        case 'cancelled-until': {
          // The engine cancels under the key step by step, one record each: the first step still holding it.
          let s = 1;
          while (s < n && (key === undefined || !partials.has(at(s, key)))) s++;
          const p = s < n ? takeChain(s, key) : undefined;
          push({ step: -2, outcome: t.outcome, ...keyOpt, ...withChain(p), message: `"until" matched under key ${showKey(key)}: cancelled the partial match${partialText(p)}${s < n ? ` waiting for ${stepName(s)}` : ''}` });
          break;
        }
        case 'expired': {
          const p = takeChain(k, key);
          push({ step: k, outcome: t.outcome, ...keyOpt, ...withChain(p), message: `partial match${partialText(p)} under key ${showKey(key)} expired at ${iso(t.expires ?? t.time)} without ${stepName(k)} (span ${span} ms)` });
          break;
        }
        case 'absent-satisfied': {
          const p = takeChain(k, key);
          push({
            step: k,
            outcome: t.outcome,
            ...keyOpt,
            ...withChain(p),
            message: ph.sweep
              ? `${stepName(k)} (absent) did not happen under key ${showKey(key)} within ${span} ms of ${p !== undefined ? `#${p[0]}` : 'the first step'}: absent step satisfied`
              : `${ended(ph)}: ${stepName(k)} (absent) can no longer happen: absent step satisfied`,
          });
          break;
        }
        case 'released': {
          const p = takeChain(k, key);
          push({ step: k, outcome: t.outcome, ...keyOpt, ...withChain(p), message: `${ended(ph)}: the partial${partialText(p)} waiting for ${stepName(k)} is released` });
          break;
        }
        case 'evicted': {
          const p = takeChain(k, key);
          push({ step: k, outcome: t.outcome, ...keyOpt, ...withChain(p), message: `the partial${partialText(p)} waiting for ${stepName(k)} under key ${showKey(key)} was evicted (too many live partial matches)` });
          break;
        }
        case 'counted':
        case 'window-restarted':
          // Count outcomes: not emitted for a sequence.
          break;
      }
    }
    return outLines;
  }
  return {
    lines,
    get live() {
      return partials.size;
    },
  };
}

function countRenderer(rule: CompiledCount): Renderer {
  const what = rule.doc.value_count !== undefined ? `distinct ${rule.doc.value_count}` : 'events';
  function lines(recs: readonly EngineTrace[], ph: Phase, take: () => DetectionDraft | undefined): ExplainLine[] {
    const out: ExplainLine[] = [];
    for (const t of recs) {
      const keyOpt = t.key !== undefined ? { key: t.key } : {};
      const group = showKey(t.key);
      const line = (message: string): void => void out.push({ step: -1, outcome: t.outcome, ...keyOpt, message });
      switch (t.outcome) {
        case 'condition-false':
          line('event type fits, condition false: not counted');
          break;
        case 'key-missing':
          line(`not counted: group key (${rule.doc.group_by.join(', ')})${rule.doc.value_count !== undefined ? ` or ${rule.doc.value_count}` : ''} missing in the event`);
          break;
        case 'window-restarted':
          line(`the window of group ${group} had ended: a new window starts`);
          break;
        case 'counted':
          out.push({ step: -1, outcome: 'counted', ...keyOpt, ...(t.count !== undefined ? { count: t.count } : {}), message: `counted in group ${group} (${what}, window ${rule.spanMs} ms): ${t.count ?? '?'} in the window` });
          break;
        case 'fired': {
          const d = take();
          // Without a threshold the rule is decided only when a window closes.
          line(`FIRED${rule.threshold === null ? ' when the window closed' : ''}: ${d?.summary ?? d?.rule.title ?? rule.doc.title}`);
          break;
        }
        case 'expired':
          line(`the window of group ${group} closed at ${iso(t.expires ?? t.time)}`);
          break;
        case 'released':
          line(`${ended(ph)}: group ${group} released${rule.threshold === null ? ' (its window is decided now)' : ''}`);
          break;
        case 'evicted':
          line(`group ${group} was evicted (too many live groups)`);
          break;
        default:
          // Sequence outcomes: not emitted for a count rule.
          break;
      }
    }
    return out;
  }
  return { lines, live: null };
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
