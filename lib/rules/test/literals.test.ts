import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import RE2 from 're2';
import { globRequiredLiteral, regexRequiredLiteral } from '../literals.js';

test('regex: the longest literal every match must contain', () => {
  assert.equal(regexRequiredLiteral('ipconfig\\s+/all'), 'ipconfig');
  assert.equal(regexRequiredLiteral('\\\\AppData\\\\Local\\\\Temp\\\\[a-z]+\\.exe$'), '\\AppData\\Local\\Temp\\');
  assert.equal(regexRequiredLiteral('(?i)certutil.*-urlcache'), '-urlcache');
  assert.equal(regexRequiredLiteral('abcd?ef'), 'abc', 'an optional character cuts the run');
  assert.equal(regexRequiredLiteral('ab+cdef'), 'cdef');
  assert.equal(regexRequiredLiteral('x{0,2}longer'), 'longer');
});

test('regex: no literal for alternations, short pieces and patterns not understood', () => {
  assert.equal(regexRequiredLiteral('mimikatz|procdump'), undefined);
  assert.equal(regexRequiredLiteral('a.b.c'), undefined);
  assert.equal(regexRequiredLiteral('[a-z]{5,}'), undefined);
  assert.equal(regexRequiredLiteral('*oops'), undefined);
  assert.equal(regexRequiredLiteral('(abc|def)ghij'), 'ghij', 'a group is skipped, what follows still counts');
});

test('glob: the longest literal piece', () => {
  assert.equal(globRequiredLiteral('C:\\Users\\*\\AppData\\Roaming\\*.exe'), '\\AppData\\Roaming\\');
  assert.equal(globRequiredLiteral('*.?s'), undefined);
});

test('property: every string a regex matches contains its required literal', () => {
  const atom = fc.oneof(
    fc.constantFrom('a', 'b', 'c', 'x', '\\.', '.', '\\d', '[ab]', '(a|b)', 'ab', 'abc', 'cab'),
    fc.constantFrom('a*', 'b?', 'c+', 'x{0,2}', 'a{2}'),
  );
  let checked = 0;
  fc.assert(
    fc.property(fc.array(atom, { minLength: 1, maxLength: 8 }), fc.string({ maxLength: 3 }), (atoms, tail) => {
      const pattern = atoms.join('');
      const lit = regexRequiredLiteral(pattern);
      if (lit === undefined) return true;
      // Strings the pattern matches, built by sampling: the pattern itself made literal where possible.
      const re = new RE2(pattern);
      const samples = [pattern.replace(/\\(.)/g, '$1'), atoms.map((a) => a.replace(/[*?+]|\{[^}]*\}/g, '').replace(/\\(.)/g, '$1')).join('') + tail];
      for (const s of samples) {
        if (!re.test(s)) continue;
        checked++;
        assert.ok(s.includes(lit), `${pattern} matched ${JSON.stringify(s)} without ${lit}`);
      }
      return true;
    }),
    // About one run in six yields a matching sample: 1,000 runs see about 160, so the floor
    // of 50 below fails only when the sampling is broken (300 runs once saw 48).
    { numRuns: 1000 },
  );
  assert.ok(checked > 50, `the property saw matching samples (${checked})`);
});
