import { test } from 'node:test';
import { parse } from 'yaml';
import assert from 'node:assert/strict';
import { parseCondition, selectIdentifiers } from '../index.js';
import { matchOf, mustSkip, ruleYaml } from './helpers.js';
import { runChildScript } from '../../../test/support/child-script.js';

const A = { field: 'raw.A', equals_any: ['1'] };
const B = { field: 'raw.B', equals_any: ['2'] };
const C = { field: 'raw.C', equals_any: ['3'] };
const abc = `a:\n  A: '1'\nb:\n  B: '2'\nc:\n  C: '3'`;
const cond = (c: string): unknown => matchOf(`${abc}\ncondition: ${c}`);

test('precedence is not > and > or', () => {
  assert.deepEqual(cond('a or b and not c'), { any: [A, { all: [B, { not: C }] }] });
  assert.deepEqual(cond('not a and b or c'), { any: [{ all: [{ not: A }, B] }, C] });
  assert.deepEqual(cond('not not a'), { not: { not: A } });
});

test('parentheses override precedence and nest', () => {
  assert.deepEqual(cond('(a or b) and c'), { all: [{ any: [A, B] }, C] });
  assert.deepEqual(cond('a and (b or (not c))'), { all: [A, { any: [B, { not: C }] }] });
  assert.deepEqual(cond('((a))'), A);
});

test('keywords of the condition are case-insensitive; chains of one operator flatten', () => {
  assert.deepEqual(cond('a AND b And c'), { all: [A, B, C] });
  assert.deepEqual(cond('a or b OR c'), { any: [A, B, C] });
});

test('1 of / any of / all of with patterns and them', () => {
  const det = `sel_a:\n  A: '1'\nsel_b:\n  B: '2'\nfilter_c:\n  C: '3'\n_hidden:\n  D: '4'`;
  const D = { field: 'raw.D', equals_any: ['4'] };
  assert.deepEqual(matchOf(`${det}\ncondition: 1 of sel_* and not 1 of filter_*`), { all: [{ any: [A, B] }, { not: C }] });
  assert.deepEqual(matchOf(`${det}\ncondition: all of sel_*`), { all: [A, B] });
  assert.deepEqual(matchOf(`${det}\ncondition: any of sel*`), { any: [A, B] });
  assert.deepEqual(matchOf(`${det}\ncondition: all of them`), { all: [A, B, C] });
  assert.deepEqual(matchOf(`${det}\ncondition: 1 of them`), { any: [A, B, C] });
  assert.deepEqual(matchOf(`${det}\ncondition: 1 of them and _hidden`), { all: [{ any: [A, B, C] }, D] });
  assert.deepEqual(selectIdentifiers('sel_*', ['sel_a', 'selection', 'sel_', '_sel_x']), ['sel_a', 'sel_']);
  assert.deepEqual(selectIdentifiers('*_main_*', ['filter_main_a', 'filter_optional_b']), ['filter_main_a']);
});

test('the parser reports what is wrong and where', () => {
  assert.throws(() => parseCondition('a and ('), /ends too early/);
  assert.throws(() => parseCondition('a and (b or c'), /missing '\)' for '\(' at column 7/);
  assert.throws(() => parseCondition('a or'), /ends too early/);
  assert.throws(() => parseCondition('a b'), /unexpected 'b' at column 3/);
  assert.throws(() => parseCondition('(a'), /missing '\)'/);
  assert.throws(() => parseCondition('a )'), /unexpected '\)' at column 3/);
  assert.throws(() => parseCondition('2 of x*'), /unsupported quantifier '2'/);
  assert.throws(() => parseCondition('sel*'), /needs '1 of' or 'all of'/);
  assert.throws(() => parseCondition(''), /empty/);
  assert.deepEqual(parseCondition('x and not 1 of f*'), {
    kind: 'and',
    items: [
      { kind: 'id', name: 'x' },
      { kind: 'not', item: { kind: 'of', quantifier: 'one', pattern: 'f*' } },
    ],
  });
});

test('a rule with a broken condition is skipped with the reason', () => {
  assert.match(mustSkip(ruleYaml(`sel:\n  Image: x\ncondition: (sel and sel`)), /^bad-condition: missing '\)' for '\(' at column 1/);
  assert.match(mustSkip(ruleYaml(`sel:\n  Image: x\ncondition: sel and other`)), /^bad-condition: .*"other", which the detection does not define/);
  assert.match(mustSkip(ruleYaml(`sel:\n  Image: x\ncondition: 1 of filter_*`)), /^bad-condition: .*matches no search identifier/);
  assert.match(mustSkip(ruleYaml(`sel:\n  Image: x\ncondition: sel | count() > 5`)), /^unsupported-aggregation: /);
  assert.match(mustSkip(ruleYaml(`sel:\n  Image: x`)), /^bad-condition: detection.condition must be a string/);
});

test('a list of conditions is an OR of them', () => {
  assert.deepEqual(matchOf(`${abc}\ncondition:\n  - a\n  - b and c`), { any: [A, { all: [B, C] }] });
});

test('wildcard patterns match whole names, each * any run of characters', () => {
  const names = ['a', 'ab', 'aXb', 'ba', 'abab', 'a*b', 'b'];
  assert.deepEqual(selectIdentifiers('a*b', names), ['ab', 'aXb', 'abab', 'a*b']);
  assert.deepEqual(selectIdentifiers('a*a', ['a', 'aa', 'aba', 'ab']), ['aa', 'aba']);
  assert.deepEqual(selectIdentifiers('ab*ba', ['aba', 'abba', 'ab_ba']), ['abba', 'ab_ba']);
  assert.deepEqual(selectIdentifiers('*b*', names), ['ab', 'aXb', 'ba', 'abab', 'a*b', 'b']);
  assert.deepEqual(selectIdentifiers('*', ['x', '_y', 'z']), ['x', 'z']);
  assert.deepEqual(selectIdentifiers('a**b', ['ab', 'acb', 'ba']), ['ab', 'acb']);
  assert.deepEqual(selectIdentifiers('sel.x', ['sel.x', 'selax']), ['sel.x']);
  assert.deepEqual(selectIdentifiers('x*y*x', ['xyx', 'xyyx', 'xy', 'xxyx', 'xyxy']), ['xyx', 'xyyx', 'xxyx']);
});

// A backtracking matcher spends about C(n, 10) steps on each of these names (n = 40: minutes for
// the set), so the child's kill timer turns a regression into a failure instead of a stalled
// suite; the linear matcher answers in milliseconds. No duration is measured.
test('a crafted 1 of / all of pattern is answered without backtracking', () => {
  const pattern = 'a*a*a*a*a*a*a*a*a*a*b';
  const nearMiss = Array.from({ length: 16 }, (_, i) => `${'a'.repeat(40)}_${i}`);
  const hits = ['aaaaaaaaaab', `${'a'.repeat(40)}b`, 'aaaaa_aaaaab'];
  const misses = ['aaaaaaaaab', 'aaaaaaaaaabc'];
  const detection = [...nearMiss, ...hits, ...misses].map((n, i) => `${n}:\n  F${i}: 'v${i}'`).join('\n');
  const src = ruleYaml(`${detection}\ncondition: 1 of ${pattern} and not all of ${pattern.replace(/b$/, '_*')}`);
  const sigma = new URL('../index.js', import.meta.url).href;
  const script = `
    import { convertSigmaRule, selectIdentifiers } from ${JSON.stringify(sigma)};
    const rule = convertSigmaRule(${JSON.stringify(parse(src))}, 'crafted.yml', {});
    const names = ${JSON.stringify([...nearMiss, ...hits, ...misses])};
    process.stdout.write(JSON.stringify({ rule, selected: selectIdentifiers(${JSON.stringify(pattern)}, names) }));
  `;
  const r = runChildScript(script, { timeoutMs: 20_000 });
  assert.equal(r.signal, null, 'the selector expansion did not finish');
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { rule: { match: unknown }; selected: string[] };
  assert.deepEqual(out.selected, hits);
  const field = (n: string): { field: string; equals_any: string[] } => {
    const i = [...nearMiss, ...hits, ...misses].indexOf(n);
    return { field: `raw.F${i}`, equals_any: [`v${i}`] };
  };
  assert.deepEqual(out.rule.match, {
    all: [{ any: hits.map(field) }, { not: { all: nearMiss.map(field) } }],
  });
});
