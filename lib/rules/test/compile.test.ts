import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareFieldValues, compileCondition, ConditionError, type CompileEnv } from '../index.js';

const env: CompileEnv = {
  lists: { lolbins: ['certutil.exe', 'mshta.exe'], ports: [4444, '0x539'] },
  macros: {
    is_office: { field: 'parent.image', endswith_any: ['\\winword.exe', '\\excel.exe'] },
    office_shell: { all: [{ macro: 'is_office' }, { field: 'proc.image', endswith_any: ['\\cmd.exe'] }] },
    loop_a: { macro: 'loop_b' },
    loop_b: { macro: 'loop_a' },
  },
};

const ev = {
  type: 'process.start',
  time: 1,
  proc: { image: 'C:\\Windows\\System32\\CMD.EXE', cmdline: 'cmd.exe /c whoami & net user', pid: 4242, user: 'CORP\\alice' },
  parent: { image: 'C:\\Program Files\\Office\\WINWORD.EXE', pid: 100 },
  access: { granted: 0x1410 },
  net: { dst_ip: '10.1.2.3', src_ip: 'fe80::1%eth0', dst_port: 4444 },
  scan: { findings: ['shellcode', 'Hollowing'] },
  raw: { GrantedAccess: '0x1fffff', EventID: 10, Image: 'C:\\x\\mimikatz.exe', 'Data.Name': 'dotted', Nested: { Deep: 'needle' } },
};

function t(cond: unknown, e: object = ev): boolean {
  return compileCondition(cond, env).test(e);
}

function refuses(cond: unknown, pathRe: RegExp, msgRe: RegExp): void {
  assert.throws(
    () => compileCondition(cond, { ...env, basePath: '/match' }),
    (err: unknown) => err instanceof ConditionError && pathRe.test(err.path) && msgRe.test(err.message),
  );
}

test('equals_any: case-insensitive strings, numeric and hex numeric strings', () => {
  assert.equal(t({ field: 'proc.user', equals_any: ['corp\\ALICE'] }), true);
  assert.equal(t({ field: 'proc.user', equals_any: ['corp\\bob'] }), false);
  assert.equal(t({ field: 'proc.pid', equals_any: [4242] }), true);
  assert.equal(t({ field: 'proc.pid', equals_any: ['4242'] }), true);
  assert.equal(t({ field: 'access.granted', equals_any: ['0x1410'] }), true);
  assert.equal(t({ field: 'raw.GrantedAccess', equals_any: [0x1fffff] }), true);
  assert.equal(t({ field: 'raw.GrantedAccess', equals_any: ['0x1FFFFF'] }), true);
  assert.equal(t({ field: 'raw.EventID', equals_any: ['10'] }), true);
  assert.equal(t({ field: 'raw.EventID', equals_any: [11, '12'] }), false);
});

test('cased switch makes string comparison case-sensitive', () => {
  assert.equal(t({ field: 'proc.user', equals_any: ['corp\\alice'], cased: true }), false);
  assert.equal(t({ field: 'proc.user', equals_any: ['CORP\\alice'], cased: true }), true);
  assert.equal(t({ field: 'proc.image', endswith_any: ['cmd.exe'], cased: true }), false);
  assert.equal(t({ field: 'proc.image', endswith_any: ['CMD.EXE'], cased: true }), true);
  assert.equal(t({ field: 'proc.cmdline', regex_any: ['WHOAMI'], cased: true }), false);
  assert.equal(t({ field: 'proc.cmdline', regex_any: ['WHOAMI'], regex_flags: 'i', cased: true }), true);
  assert.equal(t({ field: 'proc.image', glob_any: ['c:\\windows\\*'], cased: true }), false);
});

test('contains / startswith / endswith, _any and _all', () => {
  assert.equal(t({ field: 'proc.cmdline', contains_any: ['WHOAMI', 'zzz'] }), true);
  assert.equal(t({ field: 'proc.cmdline', contains_any: ['zzz'] }), false);
  assert.equal(t({ field: 'proc.cmdline', contains_all: ['whoami', 'NET USER'] }), true);
  assert.equal(t({ field: 'proc.cmdline', contains_all: ['whoami', 'ipconfig'] }), false);
  assert.equal(t({ field: 'proc.image', startswith_any: ['c:\\windows\\'] }), true);
  assert.equal(t({ field: 'proc.image', startswith_any: ['\\windows\\'] }), false);
  assert.equal(t({ field: 'proc.image', endswith_any: ['\\cmd.exe'] }), true);
  assert.equal(t({ field: 'proc.image', endswith_any: ['\\cmd'] }), false);
  assert.equal(t({ field: 'proc.pid', contains_any: [424] }), true, 'numbers are compared as strings');
});

test('regex on RE2 with flags; glob whole-value match', () => {
  assert.equal(t({ field: 'proc.cmdline', regex_any: ['whoami\\s+&'] }), true);
  assert.equal(t({ field: 'proc.cmdline', regex_any: ['^net'] }), false);
  assert.equal(t({ field: 'proc.cmdline', regex_any: ['^net'], regex_flags: 'm' }), false);
  assert.equal(t({ field: 'raw.Image', regex_any: ['x.mimi'], regex_flags: '' }), true);
  const multi = { ...ev, proc: { cmdline: 'first\nnet user' } };
  assert.equal(t({ field: 'proc.cmdline', regex_any: ['^net'], regex_flags: 'm' }, multi), true);
  assert.equal(t({ field: 'proc.cmdline', regex_any: ['first.net'] }, multi), false);
  assert.equal(t({ field: 'proc.cmdline', regex_any: ['first.net'], regex_flags: 's' }, multi), true);
  assert.equal(t({ field: 'proc.image', glob_any: ['C:\\Windows\\*\\cmd.exe'] }), true);
  assert.equal(t({ field: 'proc.image', glob_any: ['C:\\Windows\\*\\cmd.ex?'] }), true);
  assert.equal(t({ field: 'proc.image', glob_any: ['*\\cmd'] }), false, 'glob matches the whole value');
  assert.equal(t({ field: 'proc.image', glob_any: ['C:\\Windows\\System??\\cmd.exe'] }), true);
  assert.equal(t({ field: 'proc.image', glob_any: ['C:\\Windows\\System?\\cmd.exe'] }), false);
  assert.equal(t({ field: 'proc.image', glob_any: ['c:\\windows\\system32\\(cmd).exe'] }), false, 'regex specials are literal');
});

test('a catastrophic regex on a long input finishes (RE2 is linear)', () => {
  const c = compileCondition({ field: 'proc.cmdline', regex_any: ['(a+)+$', '(x+x+)+y'] }, env);
  const long = { type: 'process.start', time: 1, proc: { cmdline: `${'a'.repeat(50_000)}!${'x'.repeat(50_000)}` } };
  assert.equal(c.test(long), false);
  const hit = { type: 'process.start', time: 1, proc: { cmdline: 'a'.repeat(50_000) } };
  assert.equal(c.test(hit), true);
});

test('cidr v4 and v6, including IPv4-mapped and zone ids', () => {
  assert.equal(t({ field: 'net.dst_ip', cidr_any: ['10.0.0.0/8'] }), true);
  assert.equal(t({ field: 'net.dst_ip', cidr_any: ['192.168.0.0/16', '10.1.2.4/32'] }), false);
  assert.equal(t({ field: 'net.dst_ip', cidr_any: ['10.1.2.3'] }), true);
  assert.equal(t({ field: 'net.src_ip', cidr_any: ['fe80::/10'] }), true);
  assert.equal(t({ field: 'net.src_ip', cidr_any: ['fc00::/7'] }), false);
  assert.equal(t({ field: 'net.dst_ip', cidr_any: ['fe80::/10'] }), false, 'v4 address never in a v6 range');
  const mapped = { type: 'net.connect', time: 1, net: { dst_ip: '::ffff:192.168.1.9' } };
  assert.equal(t({ field: 'net.dst_ip', cidr_any: ['192.168.0.0/16'] }, mapped), true);
  assert.equal(t({ field: 'net.dst_ip', cidr_any: ['2001:db8::/32'] }, { type: 'x', time: 1, net: { dst_ip: '2001:DB8:0:0:1::1' } }), true);
  assert.equal(t({ field: 'net.dst_ip', cidr_any: ['10.0.0.0/8'] }, { type: 'x', time: 1, net: { dst_ip: 'not-an-ip' } }), false);
  refuses({ field: 'net.dst_ip', cidr_any: ['10.0.0.0/33'] }, /^\/match\/cidr_any\/0$/, /prefix length/);
  refuses({ field: 'net.dst_ip', cidr_any: ['300.1.1.1/8'] }, /^\/match\/cidr_any\/0$/, /not an IPv4\/IPv6/);
});

test('lt / lte / gt / gte with numbers, numeric strings and hex', () => {
  assert.equal(t({ field: 'net.dst_port', gt: 1024 }), true);
  assert.equal(t({ field: 'net.dst_port', lt: 1024 }), false);
  assert.equal(t({ field: 'net.dst_port', lte: 4444 }), true);
  assert.equal(t({ field: 'net.dst_port', gte: 4445 }), false);
  assert.equal(t({ field: 'raw.GrantedAccess', gte: '0x100000' }), true);
  assert.equal(t({ field: 'raw.EventID', lt: 11 }), true);
  assert.equal(t({ field: 'proc.image', gt: 0 }), false, 'non-numeric value never compares');
  refuses({ field: 'net.dst_port', gt: 'abc' }, /\/match\/gt$/, /single number/);
});

test('masks: mask_any / mask_all with numbers and hex strings on both sides', () => {
  assert.equal(t({ field: 'access.granted', mask_any: [0x10] }), true);
  assert.equal(t({ field: 'access.granted', mask_any: ['0x1', '0x2'] }), false);
  assert.equal(t({ field: 'access.granted', mask_all: ['0x1000', '0x400', 0x10] }), true);
  assert.equal(t({ field: 'access.granted', mask_all: ['0x1010', '0x1'] }), false);
  assert.equal(t({ field: 'raw.GrantedAccess', mask_all: ['0x1F0FFF'] }), true);
  assert.equal(t({ field: 'raw.GrantedAccess', mask_any: ['0x200000'] }), false);
  const big = { type: 'x', time: 1, raw: { Flags: '0x100000000' } };
  assert.equal(t({ field: 'raw.Flags', mask_any: ['0x100000000'] }, big), true, 'beyond 32 bits');
  refuses({ field: 'access.granted', mask_any: ['0xZZ'] }, /\/match\/mask_any\/0$/, /mask/);
});

test('exists and missing fields', () => {
  assert.equal(t({ field: 'proc.cwd', exists: false }), true);
  assert.equal(t({ field: 'proc.cwd', exists: true }), false);
  assert.equal(t({ field: 'proc.image', exists: true }), true);
  assert.equal(t({ field: 'file.path', exists: true }), false, 'missing group');
  for (const op of [
    { equals_any: [''] },
    { contains_any: [''] },
    { regex_any: ['.*'] },
    { glob_any: ['*'] },
    { lt: 1e9 },
    { mask_any: [1] },
    { cidr_any: ['0.0.0.0/0'] },
  ]) {
    assert.equal(t({ field: 'proc.cwd', ...op }), false, `missing field is false for ${Object.keys(op)[0] ?? ''}`);
  }
  assert.equal(t({ field: 'raw.Nope', exists: false }), true);
  assert.equal(t({ field: 'raw.Nope', exists: false }, { type: 'x', time: 1 }), true, 'no raw at all');
});

test('arrays: any element satisfies', () => {
  assert.equal(t({ field: 'scan.findings', equals_any: ['hollowing'] }), true);
  assert.equal(t({ field: 'scan.findings', contains_any: ['code'] }), true);
  assert.equal(t({ field: 'scan.findings', equals_any: ['injection'] }), false);
  assert.equal(t({ field: 'scan.findings', exists: true }), true);
  assert.equal(t({ field: 'scan.findings', exists: true }, { type: 'x', time: 1, scan: { findings: [] } }), false);
});

test('raw fields: dotted source names and nested values; * is any raw value', () => {
  assert.equal(t({ field: 'raw.Data.Name', equals_any: ['dotted'] }), true);
  assert.equal(t({ field: 'raw.Nested.Deep', equals_any: ['needle'] }), true);
  assert.equal(t({ field: '*', contains_any: ['mimikatz'] }), true);
  assert.equal(t({ field: '*', equals_any: ['needle'] }), true, 'nested raw values count');
  assert.equal(t({ field: '*', contains_any: ['winword'] }), false, 'only raw, not normalized groups');
  assert.equal(t({ field: '*', equals_any: [10] }), true);
});

test('all / any / not / n_of', () => {
  const img = { field: 'proc.image', endswith_any: ['\\cmd.exe'] };
  const no = { field: 'proc.image', endswith_any: ['\\nope.exe'] };
  assert.equal(t({ all: [img, { field: 'proc.cmdline', contains_any: ['whoami'] }] }), true);
  assert.equal(t({ all: [img, no] }), false);
  assert.equal(t({ any: [no, img] }), true);
  assert.equal(t({ any: [no] }), false);
  assert.equal(t({ any: [] }), false);
  assert.equal(t({ all: [] }), true);
  assert.equal(t({ not: no }), true);
  assert.equal(t({ not: img }), false);
  assert.equal(t({ n_of: { n: 2, of: [img, no, { field: 'proc.pid', gt: 1 }] } }), true);
  assert.equal(t({ n_of: { n: 3, of: [img, no, { field: 'proc.pid', gt: 1 }] } }), false);
  assert.equal(t({ n_of: { n: 0, of: [no] } }), true);
});

test('macros and lists', () => {
  assert.equal(t({ macro: 'office_shell' }), true);
  assert.equal(t({ macro: 'is_office' }, { type: 'x', time: 1, parent: { image: 'c:\\explorer.exe' } }), false);
  assert.equal(t({ field: 'proc.image', in_list: 'lolbins' }), false);
  assert.equal(t({ field: 'proc.image', in_list: 'lolbins' }, { type: 'x', time: 1, proc: { image: 'MSHTA.exe' } }), true);
  assert.equal(t({ field: 'net.dst_port', in_list: 'ports' }), true);
  assert.equal(t({ field: 'net.dst_port', in_list: 'ports' }, { type: 'x', time: 1, net: { dst_port: 1337 } }), true, 'hex list value');
  refuses({ macro: 'nope' }, /\/match\/macro$/, /unknown macro "nope"/);
  refuses({ macro: 'loop_a' }, /macro/, /refers to itself/);
  refuses({ field: 'proc.image', in_list: 'nope' }, /\/match\/in_list$/, /unknown list "nope"/);
});

test('field-to-field comparison', () => {
  const e = { type: 'x', time: 1, proc: { image: 'C:\\A.exe', pid: 5, user: 'x' }, target: { image: 'c:\\a.exe', pid: '5' }, parent: { image: 'c:\\b.exe' } };
  assert.equal(t({ field: 'proc.image', equals_field: 'target.image' }, e), true);
  assert.equal(t({ field: 'proc.image', equals_field: 'target.image', cased: true }, e), false);
  assert.equal(t({ field: 'proc.pid', equals_field: 'target.pid' }, e), true);
  assert.equal(t({ field: 'proc.image', not_equals_field: 'parent.image' }, e), true);
  assert.equal(t({ field: 'proc.image', not_equals_field: 'target.image' }, e), false);
  assert.equal(t({ field: 'proc.image', not_equals_field: 'file.path' }, e), false, 'missing other field is false');
});

test('broken conditions are refused with the JSON path and what was expected', () => {
  refuses({ field: 'proc.image', equal_any: ['x'] }, /^\/match\/equal_any$/, /unknown operator "equal_any"/);
  refuses({ field: 'proc.image' }, /^\/match$/, /exactly one operator/);
  refuses({ field: 'proc.image', equals_any: ['x'], contains_any: ['y'] }, /^\/match$/, /exactly one operator/);
  refuses({ field: 'process.image', equals_any: ['x'] }, /^\/match\/field$/, /unknown field group "process"/);
  refuses({ all: [{ field: 'proc.image', regex_any: ['(?<=x)abc'] }] }, /^\/match\/all\/0\/regex_any\/0$/, /refused by RE2/);
  refuses({ field: 'proc.image', regex_any: ['(a)\\1'] }, /regex_any\/0$/, /refused by RE2/);
  refuses({ field: 'proc.image', regex_any: ['x'], regex_flags: 'g' }, /regex_flags$/, /subset of "ims"/);
  refuses({ field: 'proc.image', contains_any: 'x' }, /contains_any$/, /takes an array/);
  refuses({ all: [], any: [] }, /^\/match$/, /exactly one of/);
  refuses({ n_of: { n: -1, of: [] } }, /n_of\/n$/, /non-negative/);
  refuses('x', /^\/match$/, /must be an object/);
  refuses({ field: 'raw.constructor', exists: true }, /field$/, /reserved name/);
});

test('explain reports every node with value and verdict', () => {
  const c = compileCondition(
    { all: [{ field: 'proc.image', endswith_any: ['\\cmd.exe'] }, { not: { field: 'proc.cwd', exists: true } }, { macro: 'is_office' }] },
    { ...env, basePath: '/match' },
  );
  const tr = c.explain(ev);
  assert.deepEqual(
    tr.map((x) => [x.path, x.node, x.verdict]),
    [
      ['/match', 'all', true],
      ['/match/all/0', 'predicate', true],
      ['/match/all/1', 'not', true],
      ['/match/all/1/not', 'predicate', false],
      ['/match/all/2', 'macro', true],
      ['/match/all/2/macro:is_office', 'predicate', true],
    ],
  );
  assert.equal(tr[1]?.value, 'C:\\Windows\\System32\\CMD.EXE');
  assert.equal(tr[3]?.negated, true);
});

test('anchors: derived literals for the prefilter', () => {
  const c = compileCondition(
    { all: [{ field: 'proc.image', endswith_any: ['\\Cmd.exe'] }, { field: 'proc.cmdline', regex_any: ['x'] }] },
    env,
  );
  assert.deepEqual(c.anchors, [{ field: 'proc.image', kind: 'ends', key: '\\cmd.exe' }]);
  assert.equal(compileCondition({ not: { field: 'proc.image', equals_any: ['x'] } }, env).anchors, null);
  assert.deepEqual(compileCondition({ any: [] }, env).anchors, []);
});

test('extra operators: a host adds an operator, checked and traced like the built-in ones', () => {
  const seen: string[] = [];
  let wanted: unknown;
  const hostEnv: CompileEnv = {
    ...env,
    basePath: '/match',
    extraOperators: {
      // Compares the field with a value the host supplies at evaluation time.
      equals_host: (p) => {
        if (typeof p.operand !== 'string') throw new ConditionError(`${p.path}/${p.op}`, '"equals_host" takes a key', 'string', typeof p.operand);
        seen.push(`${p.path} ${p.field} ${String(p.cased)}`);
        return (e) => compareFieldValues(p.get(e), wanted, p.cased, true);
      },
      // A built-in name: the built-in meaning wins.
      equals_any: () => () => true,
    },
  };
  const c = compileCondition({ all: [{ field: 'proc.pid', gt: 1 }, { field: 'proc.user', equals_host: 'user' }] }, hostEnv);
  assert.deepEqual(seen, ['/match/all/1 proc.user false']);
  wanted = 'corp\\ALICE';
  assert.equal(c.test(ev), true);
  wanted = ['x', 'CORP\\alice'];
  assert.equal(c.test(ev), true);
  wanted = 'corp\\bob';
  assert.equal(c.test(ev), false);
  wanted = undefined;
  assert.equal(c.test(ev), false);
  // No literal is known for an added operator: the prefilter must not skip the condition on it.
  assert.equal(compileCondition({ field: 'proc.user', equals_host: 'user' }, hostEnv).anchors, null);
  wanted = 'corp\\alice';
  const trace = c.explain(ev).find((x) => x.op === 'equals_host');
  assert.deepEqual(trace, { path: '/match/all/1', node: 'predicate', depth: 1, field: 'proc.user', op: 'equals_host', expected: 'user', verdict: true, negated: false, value: 'CORP\\alice' });
  assert.equal(compileCondition({ field: 'proc.user', equals_any: ['nobody'] }, hostEnv).test(ev), false);
  assert.throws(
    () => compileCondition({ field: 'proc.user', equals_host: 7 }, hostEnv),
    (err: unknown) => err instanceof ConditionError && err.path === '/match/equals_host' && /takes a key/.test(err.message),
  );
  assert.throws(
    () => compileCondition({ field: 'nogroup.x', equals_host: 'user' }, hostEnv),
    (err: unknown) => err instanceof ConditionError && err.path === '/match/field' && /unknown field group/.test(err.message),
  );
  assert.throws(
    () => compileCondition({ field: 'proc.user', equals_guest: 'user' }, hostEnv),
    (err: unknown) => err instanceof ConditionError && err.path === '/match/equals_guest' && err.expected !== undefined && err.expected.endsWith(', equals_host'),
  );
  // Without the hook the operator is unknown.
  refuses({ field: 'proc.user', equals_host: 'user' }, /^\/match\/equals_host$/, /unknown operator "equals_host"/);
});

test('compareFieldValues is what equals_field and not_equals_field decide', () => {
  const cases: Array<[unknown, unknown, boolean]> = [
    ['ABC', 'abc', false],
    ['ABC', 'abc', true],
    [10, '0xa', false],
    [['a', 'b'], ['c', 'B'], false],
    [['a'], [], false],
    [undefined, 'x', false],
    [null, null, false],
    [true, 'true', false],
    [{ o: 1 }, { o: 1 }, false],
  ];
  for (const [a, b, cased] of cases) {
    const e = { type: 'x', time: 0, raw: { A: a, B: b } };
    const opt = cased ? { cased: true } : {};
    assert.equal(compareFieldValues(a, b, cased, true), t({ field: 'raw.A', equals_field: 'raw.B', ...opt }, e), JSON.stringify([a, b, cased]));
    assert.equal(compareFieldValues(a, b, cased, false), t({ field: 'raw.A', not_equals_field: 'raw.B', ...opt }, e), JSON.stringify([a, b, cased]));
  }
  assert.equal(compareFieldValues(['a', 'b'], ['c', 'B'], false, true), true);
  assert.equal(compareFieldValues('ABC', 'abc', true, false), true);
});
