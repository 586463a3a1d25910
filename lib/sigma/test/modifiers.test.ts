import { test } from 'node:test';
import assert from 'node:assert/strict';
import { base64OffsetEncode, utf16Encode, windashVariants, WINDASH_CHARS } from '../index.js';
import { parseSigmaString } from '../sigma-string.js';
import { matchOf, mustSkip, ruleYaml } from './helpers.js';

test('base64offset yields the three offset forms given in the Sigma specification', () => {
  assert.deepEqual(base64OffsetEncode({ text: '/bin/bash', bytes: false }), ['L2Jpbi9iYXNo', '9iaW4vYmFza', 'vYmluL2Jhc2']);
  assert.deepEqual(base64OffsetEncode({ text: '/bin/sh', bytes: false }), ['L2Jpbi9za', '9iaW4vc2', 'vYmluL3No']);
  assert.deepEqual(base64OffsetEncode({ text: 'foobar', bytes: false }), ['Zm9vYmFy', 'Zvb2Jhc', 'mb29iYX']);
});

test('base64offset|contains becomes contains_any of the three literals', () => {
  assert.deepEqual(matchOf(`selection:\n  CommandLine|base64offset|contains: /bin/bash\ncondition: selection`), {
    field: 'proc.cmdline',
    contains_any: ['L2Jpbi9iYXNo', '9iaW4vYmFza', 'vYmluL2Jhc2'],
  });
});

test('each base64offset literal really occurs in the encoding of a blob holding the value at that offset', () => {
  const needle = Buffer.from('Invoke-Mimikatz', 'utf16le');
  const forms = base64OffsetEncode(utf16Encode({ text: 'Invoke-Mimikatz', bytes: false }, 'utf16le'));
  for (let before = 0; before < 9; before++) {
    for (let after = 0; after < 4; after++) {
      const blob = Buffer.concat([Buffer.alloc(before, 0x41), needle, Buffer.alloc(after, 0x42)]);
      const form = forms[before % 3]!;
      assert.ok(blob.toString('base64').includes(form), `${before} bytes before: ${form} not in ${blob.toString('base64')}`);
    }
  }
});

test('utf16le / utf16be / utf16 combined with base64 encode the UTF-16 bytes', () => {
  assert.deepEqual(matchOf(`sel:\n  CommandLine|wide|base64: cmd\ncondition: sel`), { field: 'proc.cmdline', equals_any: ['YwBtAGQA'] });
  assert.deepEqual(matchOf(`sel:\n  CommandLine|utf16le|base64|contains: cmd\ncondition: sel`), {
    field: 'proc.cmdline',
    contains_any: ['YwBtAGQA'],
  });
  assert.deepEqual(matchOf(`sel:\n  CommandLine|utf16be|base64: cmd\ncondition: sel`), { field: 'proc.cmdline', equals_any: ['AGMAbQBk'] });
  assert.deepEqual(matchOf(`sel:\n  CommandLine|utf16|base64: cmd\ncondition: sel`), { field: 'proc.cmdline', equals_any: ['//5jAG0AZAA='] });
});

test('wide|base64offset yields three literals of the UTF-16LE form', () => {
  const m = matchOf(`sel:\n  CommandLine|wide|base64offset|contains: ping\ncondition: sel`);
  const bytes = Buffer.from('ping', 'utf16le');
  const expected = [0, 1, 2].map((i) => {
    const b64 = Buffer.concat([Buffer.alloc(i, 0x20), bytes]).toString('base64');
    return b64.slice([0, 2, 3][i], [undefined, -3, -2][(bytes.length + i) % 3]);
  });
  assert.deepEqual(m, { field: 'proc.cmdline', contains_any: expected });
  // ping = 70 00 69 00 6e 00 67 00: the last character of each form depends on the next byte, so it is cut.
  assert.deepEqual(expected, ['cABpAG4AZw', 'AAaQBuAGcA', 'wAGkAbgBnA']);
});

test('base64 of a value with wildcards is refused with a reason', () => {
  const reason = mustSkip(ruleYaml(`sel:\n  CommandLine|base64|contains: 'cmd*exe'\ncondition: sel`));
  assert.match(reason, /^unsupported-value: .*wildcards/);
});

test('windash expands a leading switch dash into the five dash forms', () => {
  const v = windashVariants(parseSigmaString(' -enc '));
  assert.deepEqual(
    v.map((p) => p.join('')),
    WINDASH_CHARS.map((c) => ` ${c}enc `),
  );
  assert.deepEqual(WINDASH_CHARS, ['-', '/', '\u2013', '\u2014', '\u2015']);
});

test('windash leaves dashes inside words alone and permutes every switch', () => {
  assert.deepEqual(
    windashVariants(parseSigmaString('Add-MpPreference')).map((p) => p.join('')),
    ['Add-MpPreference'],
  );
  const both = windashVariants(parseSigmaString('-a -b'));
  assert.equal(both.length, 25);
  assert.ok(both.some((p) => p.join('') === '/a \u2014b'));
});

test('windash|contains produces contains_any over all variants', () => {
  assert.deepEqual(matchOf(`sel:\n  CommandLine|windash|contains: ' -nop '\ncondition: sel`), {
    field: 'proc.cmdline',
    contains_any: [' -nop ', ' /nop ', ' \u2013nop ', ' \u2014nop ', ' \u2015nop '],
  });
});

test('re keeps Sigma case sensitivity and maps i/m/s to regex_flags', () => {
  assert.deepEqual(matchOf(`sel:\n  CommandLine|re: 'a.+b'\ncondition: sel`), { field: 'proc.cmdline', regex_any: ['a.+b'], cased: true });
  assert.deepEqual(matchOf(`sel:\n  CommandLine|re|i: 'a.+b'\ncondition: sel`), { field: 'proc.cmdline', regex_any: ['a.+b'], regex_flags: 'i' });
  assert.deepEqual(matchOf(`sel:\n  CommandLine|re|m|s: '^a.+b$'\ncondition: sel`), {
    field: 'proc.cmdline',
    regex_any: ['^a.+b$'],
    regex_flags: 'ms',
    cased: true,
  });
  assert.deepEqual(matchOf(`sel:\n  CommandLine|re|ignorecase|dotall: 'x'\ncondition: sel`), {
    field: 'proc.cmdline',
    regex_any: ['x'],
    regex_flags: 'is',
  });
});

test('a regex RE2 cannot run is refused at conversion with a reason', () => {
  assert.match(mustSkip(ruleYaml(`sel:\n  CommandLine|re: '(?<=a)b'\ncondition: sel`)), /^unsupported-regex: /);
  assert.match(mustSkip(ruleYaml(`sel:\n  CommandLine|i: 'x'\ncondition: sel`)), /^unsupported-modifier: .*only valid after \|re/);
});

test('contains / startswith / endswith / all pick the native string operators', () => {
  assert.deepEqual(matchOf(`sel:\n  Image|endswith:\n    - '\\cmd.exe'\n    - '\\pwsh.exe'\ncondition: sel`), {
    field: 'proc.image',
    endswith_any: ['\\cmd.exe', '\\pwsh.exe'],
  });
  assert.deepEqual(matchOf(`sel:\n  CommandLine|startswith: 'net '\ncondition: sel`), { field: 'proc.cmdline', startswith_any: ['net '] });
  assert.deepEqual(matchOf(`sel:\n  CommandLine|contains|all:\n    - ' -a '\n    - ' -b '\ncondition: sel`), {
    field: 'proc.cmdline',
    contains_all: [' -a ', ' -b '],
  });
  assert.deepEqual(matchOf(`sel:\n  CommandLine|startswith|all:\n    - 'a'\n    - 'ab'\ncondition: sel`), {
    all: [
      { field: 'proc.cmdline', startswith_any: ['a'] },
      { field: 'proc.cmdline', startswith_any: ['ab'] },
    ],
  });
});

test('plain wildcards pick the cheapest operator; other shapes become globs; escaped wildcards stay literal', () => {
  const m = matchOf(`sel:\n  CommandLine:\n    - 'exact'\n    - 'pre*'\n    - '*suf'\n    - '*mid*'\n    - 'C:\\\\Users\\\\*\\\\AppData\\\\*.exe'\n    - 'a?c'\ncondition: sel`);
  assert.deepEqual(m, {
    any: [
      { field: 'proc.cmdline', equals_any: ['exact'] },
      { field: 'proc.cmdline', startswith_any: ['pre'] },
      { field: 'proc.cmdline', endswith_any: ['suf'] },
      { field: 'proc.cmdline', contains_any: ['mid'] },
      { field: 'proc.cmdline', glob_any: ['C:\\Users\\*\\AppData\\*.exe', 'a?c'] },
    ],
  });
  // Sigma escaping: a backslash before * ? or \ escapes it; before anything else it is literal.
  assert.deepEqual(matchOf(`sel:\n  CommandLine|contains: 'what\\?'\ncondition: sel`), { field: 'proc.cmdline', contains_any: ['what?'] });
  assert.deepEqual(matchOf(`sel:\n  Image: 'C:\\Users\\*\\x.exe'\ncondition: sel`), { field: 'proc.image', equals_any: ['C:\\Users*\\x.exe'] });
  assert.deepEqual(matchOf(`sel:\n  CommandLine: 'a\\*b*c'\ncondition: sel`), {
    field: 'proc.cmdline',
    regex_any: ['^a\\*b.*c$'],
    regex_flags: 's',
  });
});

test('cased, cidr, lt/lte/gt/gte, exists and neq', () => {
  assert.deepEqual(matchOf(`sel:\n  CommandLine|contains|cased: 'ABC'\ncondition: sel`), { field: 'proc.cmdline', contains_any: ['ABC'], cased: true });
  assert.deepEqual(matchOf(`sel:\n  DestinationIp|cidr:\n    - 10.0.0.0/8\n    - 'fe80::/10'\ncondition: sel`, 'category: network_connection\n  product: windows'), {
    field: 'net.dst_ip',
    cidr_any: ['10.0.0.0/8', 'fe80::/10'],
  });
  assert.match(mustSkip(ruleYaml(`sel:\n  DestinationIp|cidr: 'not-an-ip/8'\ncondition: sel`)), /^bad-value: .*CIDR/);
  assert.deepEqual(matchOf(`sel:\n  DestinationPort|gte: 1024\ncondition: sel`, 'category: network_connection\n  product: windows'), {
    field: 'net.dst_port',
    gte: 1024,
  });
  assert.deepEqual(matchOf(`sel:\n  Size|lt:\n    - 5\n    - 10\ncondition: sel`), { any: [{ field: 'raw.Size', lt: 5 }, { field: 'raw.Size', lt: 10 }] });
  assert.deepEqual(matchOf(`sel:\n  Size|lte: 5\n  Count|gt: 1\ncondition: sel`), {
    all: [
      { field: 'raw.Size', lte: 5 },
      { field: 'raw.Count', gt: 1 },
    ],
  });
  assert.deepEqual(matchOf(`sel:\n  ParentImage|exists: false\ncondition: sel`), { field: 'parent.image', exists: false });
  assert.deepEqual(matchOf(`sel:\n  ParentImage|exists: true\ncondition: sel`), { field: 'parent.image', exists: true });
  assert.match(mustSkip(ruleYaml(`sel:\n  ParentImage|exists: maybe\ncondition: sel`)), /^bad-value: /);
  assert.deepEqual(matchOf(`sel:\n  User|neq: SYSTEM\ncondition: sel`), { not: { field: 'proc.user', equals_any: ['SYSTEM'] } });
});

test('fieldref compares two fields; with neq it becomes not_equals_field', () => {
  assert.deepEqual(matchOf(`sel:\n  ParentImage|fieldref: Image\ncondition: sel`), { field: 'parent.image', equals_field: 'proc.image' });
  assert.deepEqual(matchOf(`sel:\n  ParentImage|fieldref|neq: Image\ncondition: sel`), { field: 'parent.image', not_equals_field: 'proc.image' });
  assert.match(mustSkip(ruleYaml(`sel:\n  ParentImage|fieldref|contains: Image\ncondition: sel`)), /^unsupported-modifier: /);
});

test('expand fills placeholders from the options, and skips the rule when one is not configured', () => {
  const det = `sel:\n  Image|endswith: '\\x.exe'\nfilter:\n  ComputerName|expand: '%admin_hosts%'\ncondition: sel and not filter`;
  const m = matchOf(det, undefined, { placeholders: { admin_hosts: ['ws1', 'srv-*'] } });
  assert.deepEqual(m, {
    all: [
      { field: 'proc.image', endswith_any: ['\\x.exe'] },
      {
        not: {
          any: [
            { field: 'raw.ComputerName', equals_any: ['ws1'] },
            { field: 'raw.ComputerName', startswith_any: ['srv-'] },
          ],
        },
      },
    ],
  });
  assert.deepEqual(matchOf(det, undefined, { placeholders: { '%admin_hosts%': ['ws1'] } }), {
    all: [{ field: 'proc.image', endswith_any: ['\\x.exe'] }, { not: { field: 'raw.ComputerName', equals_any: ['ws1'] } }],
  });
  const reason = mustSkip(ruleYaml(det));
  assert.match(reason, /^placeholder-not-configured: .*%admin_hosts%/);
});

test('time-part and unknown modifiers are refused with the modifier named', () => {
  assert.match(mustSkip(ruleYaml(`sel:\n  UtcTime|hour: 3\ncondition: sel`)), /^unsupported-modifier: modifier \|hour/);
  assert.match(mustSkip(ruleYaml(`sel:\n  Image|bogus: x\ncondition: sel`)), /^unsupported-modifier: unknown modifier \|bogus/);
});
