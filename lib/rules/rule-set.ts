/**
 * A compiled rule set with a two-level index: event type, then field-literal prefilters
 * (exact-value sets for equality, one Aho-Corasick pass per field for substrings). A rule is
 * evaluated only when its type matches and one of its anchors hit (or it has none).
 */
import type { EventDraft, VigilEvent, MatchedPredicate } from '../../core/index.js';
import { AhoCorasick } from './aho-corasick.js';
import { compileCondition, ConditionError } from './compile.js';
import { compileGetter, type Getter } from './fields.js';
import { eventEqKeys, toStr } from './values.js';
import type {
  Anchor,
  CompileEnv,
  CompiledCondition,
  CompiledRule,
  LoadIssue,
  NamedLists,
  NamedMacros,
  RuleDoc,
  RuleHit,
  RuleOrigin,
  RuleSet,
  RuleSetStats,
} from './types.js';

export interface RuleSetOptions {
  maxRegexInputChars?: number;
  /** Compile rules with `enabled: false` too (rule tests do). */
  includeDisabled?: boolean;
  /** Rule id → file, used to name the file in issues. */
  fileOf?: ReadonlyMap<string, string>;
  /** Turn the literal prefilter off (every rule of the type is a candidate): for tests. */
  noPrefilter?: boolean;
}

interface AcEntry {
  contains: number[];
  starts: number[];
  ends: number[];
}

interface FieldIndex {
  get: Getter;
  eq: Map<string, number[]> | null;
  ac: AhoCorasick | null;
  acEntries: AcEntry[];
}

interface TypeIndex {
  /** Rules with no anchor: candidates for every event of the type. */
  always: number[];
  fields: FieldIndex[];
}

/** Which MatchedPredicates made a hit: true, non-negated predicates of match. */
export function matchedPredicates(cond: CompiledCondition, e: object): MatchedPredicate[] {
  const out: MatchedPredicate[] = [];
  for (const t of cond.explain(e)) {
    if (t.node !== 'predicate' || !t.verdict || t.negated) continue;
    const m: MatchedPredicate = { path: t.path, op: t.op ?? '' };
    if (t.field !== undefined) m.field = t.field;
    if (t.value !== undefined) m.value = t.value;
    out.push(m);
  }
  return out;
}

/** Compile one rule; throws ConditionError (path inside the rule) when it cannot be. */
export function compileRule(doc: RuleDoc, index: number, lists: NamedLists, macros: NamedMacros, maxRegexInputChars?: number): CompiledRule {
  const env = (basePath: string): CompileEnv => {
    const e: CompileEnv = { lists, macros, basePath };
    if (maxRegexInputChars !== undefined) e.maxRegexInputChars = maxRegexInputChars;
    return e;
  };
  if (!Array.isArray(doc.event) || doc.event.length === 0) throw new ConditionError('/event', 'a rule needs at least one event type');
  const match = compileCondition(doc.match, env('/match'));
  const exceptions = (doc.exceptions ?? []).map((x, i) => compileCondition(x, env(`/exceptions/${i}`)));
  const types = new Set(doc.event);
  const m = match.test;
  const xs = exceptions.map((x) => x.test);
  const source: RuleOrigin = doc.origin === 'sigma' ? 'sigma' : 'native';
  const fires = (e: object): boolean => {
    if (!m(e)) return false;
    for (let i = 0; i < xs.length; i++) if ((xs[i] as (e: object) => boolean)(e)) return false;
    return true;
  };
  return {
    doc,
    index,
    source,
    match,
    exceptions,
    test: (e) => types.has((e as { type?: unknown }).type as string) && fires(e),
  };
}

function mark(list: number[], stamp: Uint32Array, gen: number, cand: number[]): void {
  for (let k = 0; k < list.length; k++) {
    const r = list[k] as number;
    if (stamp[r] !== gen) {
      stamp[r] = gen;
      cand.push(r);
    }
  }
}

class IndexedRuleSet implements RuleSet {
  readonly rules: CompiledRule[] = [];
  readonly issues: LoadIssue[] = [];
  readonly stats: RuleSetStats;
  private readonly byId = new Map<string, CompiledRule>();
  private readonly byType = new Map<string, TypeIndex>();
  private readonly fires: ((e: object) => boolean)[] = [];
  private stamp = new Uint32Array(0);
  private gen = 0;

  constructor(docs: readonly RuleDoc[], lists: NamedLists, macros: NamedMacros, opts: RuleSetOptions) {
    const t0 = performance.now();
    const anchorsOf: (readonly Anchor[] | null)[] = [];
    for (const doc of docs) {
      if (doc.enabled === false && opts.includeDisabled !== true) continue;
      const file = opts.fileOf?.get(doc.id) ?? '';
      if (this.byId.has(doc.id)) {
        this.issues.push({ file, ruleId: doc.id, path: '/id', message: `duplicate rule id "${doc.id}" (the first one is kept)` });
        continue;
      }
      let rule: CompiledRule;
      try {
        rule = compileRule(doc, this.rules.length, lists, macros, opts.maxRegexInputChars);
      } catch (err) {
        if (!(err instanceof ConditionError)) throw err;
        const issue: LoadIssue = { file, ruleId: doc.id, path: err.path, message: err.detail };
        if (err.expected !== undefined) issue.expected = err.expected;
        if (err.found !== undefined) issue.found = err.found;
        this.issues.push(issue);
        continue;
      }
      this.rules.push(rule);
      this.byId.set(doc.id, rule);
      anchorsOf.push(opts.noPrefilter === true ? null : rule.match.anchors);
      const m = rule.match.test;
      const xs = rule.exceptions.map((x) => x.test);
      this.fires.push(
        xs.length === 0
          ? m
          : (e) => {
              if (!m(e)) return false;
              for (const x of xs) if (x(e)) return false;
              return true;
            },
      );
    }
    this.stamp = new Uint32Array(this.rules.length);
    let unindexed = 0;
    // Per type: field path → pending literal maps, then built into getters and automata.
    const pending = new Map<string, { always: number[]; fields: Map<string, { eq: Map<string, number[]>; lits: Map<string, AcEntry> }> }>();
    for (const rule of this.rules) {
      const anchors = anchorsOf[rule.index] ?? null;
      if (anchors === null) unindexed++;
      for (const type of new Set(rule.doc.event)) {
        let ti = pending.get(type);
        if (!ti) pending.set(type, (ti = { always: [], fields: new Map() }));
        if (anchors === null) {
          ti.always.push(rule.index);
          continue;
        }
        // An empty anchor list: the rule can never match; it is never a candidate.
        for (const a of anchors) {
          let f = ti.fields.get(a.field);
          if (!f) ti.fields.set(a.field, (f = { eq: new Map(), lits: new Map() }));
          if (a.kind === 'eq') {
            const l = f.eq.get(a.key);
            if (l) l.push(rule.index);
            else f.eq.set(a.key, [rule.index]);
          } else {
            let ent = f.lits.get(a.key);
            if (!ent) f.lits.set(a.key, (ent = { contains: [], starts: [], ends: [] }));
            (a.kind === 'contains' ? ent.contains : a.kind === 'starts' ? ent.starts : ent.ends).push(rule.index);
          }
        }
      }
    }
    for (const [type, p] of pending) {
      const fields: FieldIndex[] = [];
      for (const [path, f] of p.fields) {
        let ac: AhoCorasick | null = null;
        const acEntries: AcEntry[] = [];
        if (f.lits.size > 0) {
          ac = new AhoCorasick();
          for (const [lit, ent] of f.lits) {
            ac.add(lit);
            acEntries.push(ent);
          }
          ac.build();
        }
        fields.push({ get: compileGetter(path), eq: f.eq.size > 0 ? f.eq : null, ac, acEntries });
      }
      this.byType.set(type, { always: p.always, fields });
    }
    this.stats = { rules: this.rules.length, eventTypes: this.byType.size, unindexed, compileMs: performance.now() - t0 };
  }

  // Scratch arrays for the prefilter (filled and consumed within one probe call).
  private readonly keys: string[] = [];
  private readonly acIds: number[] = [];
  private readonly acEnds: number[] = [];

  private probe(f: FieldIndex, x: unknown, stamp: Uint32Array, gen: number, cand: number[], keys: string[], ids: number[], ends: number[]): void {
    if (f.eq) {
      keys.length = 0;
      eventEqKeys(x, keys);
      for (const k of keys) {
        const l = f.eq.get(k);
        if (l) mark(l, stamp, gen, cand);
      }
    }
    if (f.ac) {
      const s = toStr(x);
      if (s === undefined) return;
      const low = s.toLowerCase();
      const ac = f.ac;
      const n = ac.scanInto(low, ids, ends);
      for (let j = 0; j < n; j++) {
        const id = ids[j] as number;
        const end = ends[j] as number;
        const ent = f.acEntries[id] as AcEntry;
        if (ent.contains.length > 0) mark(ent.contains, stamp, gen, cand);
        if (ent.starts.length > 0 && end === ac.patternLength(id)) mark(ent.starts, stamp, gen, cand);
        if (ent.ends.length > 0 && end === low.length) mark(ent.ends, stamp, gen, cand);
      }
    }
  }

  get(ruleId: string): CompiledRule | undefined {
    return this.byId.get(ruleId);
  }

  match(e: VigilEvent | EventDraft, onHit: (hit: RuleHit) => void): void {
    const ti = this.byType.get(e.type);
    if (!ti) return;
    if (ti.fields.length === 0) {
      for (const i of ti.always) this.evaluate(i, e, onHit);
      return;
    }
    // The stamp array is only used while collecting candidates, so a callback that matches
    // another event (re-entry) cannot disturb this call's candidate list.
    if (++this.gen === 0xffffffff) {
      this.stamp.fill(0);
      this.gen = 1;
    }
    const gen = this.gen;
    const stamp = this.stamp;
    const cand: number[] = ti.always.slice();
    for (const i of cand) stamp[i] = gen;
    const keys = this.keys;
    const ids = this.acIds;
    const ends = this.acEnds;
    for (const f of ti.fields) {
      const v = f.get(e);
      if (v === undefined || v === null) continue;
      if (Array.isArray(v)) {
        for (const x of v as unknown[]) this.probe(f, x, stamp, gen, cand, keys, ids, ends);
      } else this.probe(f, v, stamp, gen, cand, keys, ids, ends);
    }
    if (cand.length === 0) return;
    if (cand.length > 1) cand.sort((a, b) => a - b);
    for (const i of cand) this.evaluate(i, e, onHit);
  }

  private evaluate(i: number, e: VigilEvent | EventDraft, onHit: (hit: RuleHit) => void): void {
    if (!(this.fires[i] as (e: object) => boolean)(e)) return;
    const rule = this.rules[i] as CompiledRule;
    onHit({ rule: rule.doc, source: rule.source, matched: matchedPredicates(rule.match, e) });
  }
}

/**
 * Compile rules into an indexed set. Rules that cannot be compiled are skipped and listed in
 * `issues` (with the file when `opts.fileOf` knows it); disabled rules are left out.
 */
export function compileRuleSet(rules: readonly RuleDoc[], lists: NamedLists = {}, macros: NamedMacros = {}, opts: RuleSetOptions = {}): RuleSet {
  return new IndexedRuleSet(rules, lists, macros, opts);
}
