/** The rule-header reader: what libyara-wasm does not report (tags, metadata) is read right from any source. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRules } from '../index.js';

test('modifiers, tags, meta values of every kind, and lines', () => {
  const src = [
    'import "pe"',
    '// rule commented : out { }',
    'private global rule both : a_tag { condition: true }',
    '/* rule also_commented { condition: true } */',
    'rule tagged : one two three',
    '{',
    '  meta:',
    '    s = "with } brace and \\"quotes\\" and \\x41"',
    '    n = 42',
    '    h = 0x1F',
    '    neg = -7',
    '    t = true',
    '    f = false',
    '  strings:',
    '    $h = { 4D 5A [2-4] ( 90 | CC ) }',
    '    $r = /rule fake \\{ [a-z]+ \\/ x/i',
    '    $s = "rule fake2 { condition: true }"',
    '  condition:',
    '    for any of ($*) : ( $ at 0 ) and pe.is_pe',
    '}',
    'global rule g { condition: filesize > 0 }',
  ].join('\n');
  const rules = parseRules(src);
  assert.deepEqual(
    rules.map((r) => [r.name, r.private, r.global, r.tags, r.line, r.index]),
    [
      ['both', true, true, ['a_tag'], 3, 0],
      ['tagged', false, false, ['one', 'two', 'three'], 5, 1],
      ['g', false, true, [], 21, 2],
    ],
  );
  assert.deepEqual(rules[1]?.meta, { s: 'with } brace and "quotes" and A', n: 42, h: 31, neg: -7, t: true, f: false });
  assert.deepEqual(rules[0]?.meta, {});
});

test('a meta key named like a section keyword and a condition using `matches` with a regex', () => {
  const src = 'rule m { meta: strings_count = 2 condition: "a{b" matches /\\{/ }\nrule after { condition: true }';
  const rules = parseRules(src);
  assert.deepEqual(rules.map((r) => r.name), ['m', 'after']);
  assert.deepEqual(rules[0]?.meta, { strings_count: 2 });
});
