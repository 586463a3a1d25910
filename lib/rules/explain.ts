/** Why a rule did or did not fire for one event: every node's value and verdict. */
import type { EventDraft, VigilEvent } from '../../core/index.js';
import type { PredicateTrace, RuleSet } from './types.js';

export interface ExplainResult {
  ruleId: string;
  title: string;
  eventType: string;
  /** The event's type is one of the rule's `event` types. */
  typeMatches: boolean;
  matchVerdict: boolean;
  match: PredicateTrace[];
  exceptions: { path: string; verdict: boolean; trace: PredicateTrace[] }[];
  /** The rule fires: type matches, match is true, no exception is. */
  fired: boolean;
  /** The same as a printable text block. */
  text: string;
}

export class UnknownRuleError extends Error {
  override readonly name = 'UnknownRuleError';
}

function show(v: unknown): string {
  if (v === undefined) return '<missing>';
  return JSON.stringify(v);
}

function traceLines(trace: readonly PredicateTrace[], indent: string): string[] {
  return trace.map((t) => {
    const mark = t.verdict ? '✓' : '✗';
    const pad = indent + '  '.repeat(t.depth);
    if (t.node === 'predicate') {
      const cased = t.cased ? ' (cased)' : '';
      return `${pad}${mark} ${t.path}  ${t.field ?? ''} ${t.op ?? ''} ${show(t.expected)}${cased}  seen ${show(t.value)}`;
    }
    if (t.node === 'macro') return `${pad}${mark} ${t.path}  macro ${t.name ?? ''}`;
    if (t.node === 'n_of') return `${pad}${mark} ${t.path}  n_of ${String(t.expected)} (${String(t.value)} true)`;
    return `${pad}${mark} ${t.path}  ${t.node}`;
  });
}

/** Explain one rule of a compiled set against one event. Throws UnknownRuleError. */
export function explainRule(ruleId: string, event: VigilEvent | EventDraft, ruleSet: RuleSet): ExplainResult {
  const rule = ruleSet.get(ruleId);
  if (!rule) throw new UnknownRuleError(`unknown rule id "${ruleId}" (not loaded, disabled or refused)`);
  const typeMatches = rule.doc.event.includes(event.type);
  const match = rule.match.explain(event);
  const matchVerdict = rule.match.test(event);
  const exceptions = rule.exceptions.map((x, i) => ({ path: `/exceptions/${i}`, verdict: x.test(event), trace: x.explain(event) }));
  const fired = typeMatches && matchVerdict && !exceptions.some((x) => x.verdict);
  const lines = [
    `rule ${rule.doc.id} — ${rule.doc.title}`,
    `  event type ${event.type}: ${typeMatches ? '✓ one of' : '✗ not one of'} [${rule.doc.event.join(', ')}]`,
    `  match: ${matchVerdict}`,
    ...traceLines(match, '    '),
  ];
  if (exceptions.length === 0) lines.push('  exceptions: none');
  for (const x of exceptions) {
    lines.push(`  exception ${x.path}: ${x.verdict ? 'matches (suppresses the rule)' : 'does not match'}`);
    lines.push(...traceLines(x.trace, '    '));
  }
  lines.push(`  verdict: ${fired ? 'FIRES' : 'does not fire'}`);
  return { ruleId, title: rule.doc.title, eventType: event.type, typeMatches, matchVerdict, match, exceptions, fired, text: lines.join('\n') };
}
