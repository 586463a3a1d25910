import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compileRule, compileRuleSet, type RuleDoc } from '../index.js';

const TYPES = ['process.start', 'process.access', 'net.connect'];
const STR_FIELDS = ['proc.image', 'proc.cmdline', 'parent.image', 'raw.Image', '*', 'scan.findings'];
const NUM_FIELDS = ['net.dst_port', 'raw.EventID', 'access.granted'];
const WORDS = ['ab', 'AB', 'b', 'cab', 'x', '\\cmd.exe', 'CMD', 'é', 'İ', 'a b', '16', '0x10'];
const NUMS: (number | string)[] = [16, '0x10', '16', 0, 4444, '0x1F', 31, '4444'];

const word = fc.constantFrom(...WORDS);
const litArr = fc.array(word, { minLength: 1, maxLength: 3 });
const strPred = fc.record({
  field: fc.constantFrom(...STR_FIELDS),
  op: fc.constantFrom('equals_any', 'contains_any', 'contains_all', 'startswith_any', 'endswith_any', 'regex_any', 'glob_any'),
  vals: litArr,
  cased: fc.boolean(),
}).map(({ field, op, vals, cased }) => {
  const v = op === 'regex_any' ? vals.map((x) => x.replace(/[\\.^$|+()[\]{}*?]/g, '\\$&')) : op === 'glob_any' ? vals.map((x) => `*${x}*`) : vals;
  return cased ? { field, [op]: v, cased } : { field, [op]: v };
});
const numPred = fc.record({
  field: fc.constantFrom(...NUM_FIELDS),
  op: fc.constantFrom('equals_any', 'gt', 'lt', 'mask_any', 'exists'),
  vals: fc.array(fc.constantFrom(...NUMS), { minLength: 1, maxLength: 3 }),
  b: fc.boolean(),
}).map(({ field, op, vals, b }) => {
  if (op === 'exists') return { field, exists: b };
  if (op === 'gt' || op === 'lt') return { field, [op]: vals[0] };
  return { field, [op]: vals };
});
const pred = fc.oneof(strPred, strPred, numPred);
const { cond } = fc.letrec((tie) => ({
  cond: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    pred,
    fc.record({ all: fc.array(tie('cond'), { maxLength: 3 }) }),
    fc.record({ any: fc.array(tie('cond'), { maxLength: 3 }) }),
    fc.record({ not: tie('cond') }),
    fc.record({ n_of: fc.record({ n: fc.integer({ min: 0, max: 3 }), of: fc.array(tie('cond'), { maxLength: 3 }) }) }),
    fc.constant({ macro: 'm1' }),
  ),
}));

const text = fc.array(word, { minLength: 0, maxLength: 4 }).map((ws) => ws.join(''));
const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
const event = fc.record({
  type: fc.constantFrom(...TYPES),
  image: maybe(text),
  cmdline: maybe(text),
  pimage: maybe(text),
  rawImage: maybe(text),
  findings: maybe(fc.array(text, { maxLength: 3 })),
  port: maybe(fc.constantFrom(...NUMS)),
  eid: maybe(fc.constantFrom(...NUMS)),
  granted: maybe(fc.constantFrom(...NUMS)),
}).map((r) => {
  const e: Record<string, unknown> = { type: r.type, time: 1 };
  if (r.image !== undefined || r.cmdline !== undefined) e['proc'] = { image: r.image, cmdline: r.cmdline };
  if (r.pimage !== undefined) e['parent'] = { image: r.pimage };
  if (r.findings !== undefined) e['scan'] = { findings: r.findings };
  if (r.port !== undefined) e['net'] = { dst_port: r.port };
  if (r.granted !== undefined) e['access'] = { granted: r.granted };
  e['raw'] = { Image: r.rawImage, EventID: r.eid };
  return e as { type: string; time: number };
});

const macros = { m1: { any: [{ field: 'proc.image', endswith_any: ['cab'] }, { field: 'raw.EventID', equals_any: [16] }] } };

test('the indexed rule set returns exactly what naive evaluation returns', () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ event: fc.subarray(TYPES, { minLength: 1 }), match: cond, exceptions: fc.array(cond, { maxLength: 1 }) }), { minLength: 1, maxLength: 25 }),
      fc.array(event, { minLength: 1, maxLength: 25 }),
      (rs, events) => {
        const docs: RuleDoc[] = rs.map((r, i) => ({ id: `r${i}`, title: `r${i}`, severity: 'low', event: r.event, match: r.match, exceptions: r.exceptions }));
        const set = compileRuleSet(docs, {}, macros);
        assert.equal(set.issues.length, 0, JSON.stringify(set.issues));
        const naive = docs.map((d, i) => compileRule(d, i, {}, macros));
        for (const e of events) {
          const got: string[] = [];
          set.match(e, (h) => got.push(h.rule.id));
          const want = naive.filter((r) => r.test(e)).map((r) => r.doc.id);
          assert.deepEqual(got, want, `event ${JSON.stringify(e)}`);
        }
      },
    ),
    { numRuns: 300 },
  );
});

test('the prefilter leaves most rules unevaluated and hits report matched predicates', () => {
  const docs: RuleDoc[] = [];
  for (let i = 0; i < 500; i++) {
    docs.push({ id: `r${i}`, title: 't', severity: 'low', event: ['process.start'], match: { all: [{ field: 'proc.image', endswith_any: [`\\tool${i}.exe`] }, { field: 'proc.cmdline', contains_any: ['-x'] }] } });
  }
  docs.push({ id: 'eq', title: 'eq', severity: 'high', event: ['process.start', 'process.access'], match: { field: 'proc.pid', equals_any: ['0x10'] }, response: [{ action: 'kill' }] });
  const set = compileRuleSet(docs);
  assert.equal(set.stats.unindexed, 0);
  const hits: { id: string; matched: unknown }[] = [];
  set.match({ type: 'process.start', time: 1, proc: { image: 'C:\\TOOL42.EXE', cmdline: 'a -x', pid: 16 } }, (h) => hits.push({ id: h.rule.id, matched: h.matched }));
  assert.deepEqual(hits.map((h) => h.id), ['r42', 'eq']);
  assert.deepEqual(hits[0]?.matched, [
    { path: '/match/all/0', field: 'proc.image', op: 'endswith_any', value: 'C:\\TOOL42.EXE' },
    { path: '/match/all/1', field: 'proc.cmdline', op: 'contains_any', value: 'a -x' },
  ]);
  const none: string[] = [];
  set.match({ type: 'net.connect', time: 1, proc: { image: 'C:\\TOOL42.EXE', cmdline: 'a -x' } }, (h) => none.push(h.rule.id));
  assert.deepEqual(none, []);
});

test('disabled rules are left out, broken ones are reported and skipped', () => {
  const set = compileRuleSet(
    [
      { id: 'off', title: 't', severity: 'low', event: ['process.start'], match: { field: 'proc.pid', exists: true }, enabled: false },
      { id: 'bad', title: 't', severity: 'low', event: ['process.start'], match: { field: 'proc.pid', nope: 1 } },
      { id: 'ok', title: 't', severity: 'low', event: ['process.start'], match: { field: 'proc.pid', exists: true } },
    ],
    {},
    {},
    { fileOf: new Map([['bad', 'x.json']]) },
  );
  assert.deepEqual(set.rules.map((r) => r.doc.id), ['ok']);
  assert.equal(set.issues.length, 1);
  assert.equal(set.issues[0]?.file, 'x.json');
  assert.equal(set.issues[0]?.path, '/match/nope');
});
