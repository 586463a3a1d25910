/** Each engine on its own: compile, match, errors naming file and line, bounds, choice, reading rule files. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import {
  YaraError,
  chooseEngines,
  compileRules,
  engineAvailable,
  readYaraSources,
  reloadWasmEngine,
  toScanMatches,
  wasmEngineStats,
  type YaraEngineName,
  type YaraSource,
} from '../index.js';

const dir = mkdtempSync(join(tmpdir(), 'vigil-yara-engines-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const ENGINES: YaraEngineName[] = ['yara-x', 'libyara-wasm'];

const RULES: YaraSource[] = [
  {
    namespace: 'implants',
    path: 'implants.yar',
    text: String.raw`
rule shellcode_marker : memory implant {
  meta:
    author = "vigil tests"
    severity = 8
    confirmed = false
  strings:
    $nop = { 90 90 90 90 CC }
    $tag = "IMPLANT\xff\x00X"
  condition:
    $nop and $tag
}
`,
  },
  { namespace: 'other', path: 'other.yar', text: 'rule other_marker { strings: $o = "IMPLANT" condition: $o }\n' },
];

function sample(): Buffer {
  const b = Buffer.alloc(4096, 0x41);
  Buffer.from([0x90, 0x90, 0x90, 0x90, 0xcc]).copy(b, 1000);
  Buffer.from([...Buffer.from('IMPLANT', 'latin1'), 0xff, 0x00, 0x58]).copy(b, 2000);
  return b;
}

for (const engine of ENGINES) {
  const skip = engineAvailable(engine) ?? false;

  test(`${engine}: compiles and reports rule, namespace, tags, meta and string offsets`, { skip }, async () => {
    const rules = await compileRules(engine, RULES);
    assert.equal(rules.engine, engine);
    const data = sample();
    const m = rules.scan(data);
    assert.deepEqual(
      m.map((r) => `${r.namespace}:${r.rule}`),
      ['implants:shellcode_marker', 'other:other_marker'],
    );
    const first = m[0];
    assert.ok(first);
    assert.deepEqual(first.tags, ['memory', 'implant']);
    assert.deepEqual(first.meta, { author: 'vigil tests', severity: 8, confirmed: false });
    assert.deepEqual(first.strings, [
      { identifier: '$nop', offset: 1000, length: 5 },
      { identifier: '$tag', offset: 2000, length: 10 },
    ]);
    assert.deepEqual(m[1]?.strings, [{ identifier: '$o', offset: 2000, length: 7 }]);
    assert.deepEqual(rules.scan(Buffer.alloc(100)), [], 'nothing matches zeros');
  });

  test(`${engine}: offsets are relative to the buffer given, also for a view into a larger one`, { skip }, async () => {
    const rules = await compileRules(engine, RULES);
    const big = Buffer.concat([Buffer.alloc(777, 0x42), sample()]);
    const view = new Uint8Array(big.buffer, big.byteOffset + 777, 4096);
    const m = rules.scan(view);
    assert.equal(m[0]?.strings[0]?.offset, 1000);
  });

  test(`${engine}: toScanMatches slices the matched bytes (non-UTF-8 included) from the scanned buffer`, { skip }, async () => {
    const rules = await compileRules(engine, RULES);
    const data = sample();
    const out = toScanMatches(rules.scan(data), data, 0x7f0000001000n, engine, 0x7f0000001000n);
    const s = out[0]?.strings.find((x) => x.identifier === '$tag');
    assert.equal(s?.data_hex, '494d504c414e54ff0058');
    assert.equal(s?.offset, 0x7f0000001000 + 2000);
    assert.equal(out[0]?.region, '0x7f0000001000');
    assert.equal(out[0]?.engine, engine);
    assert.deepEqual(out[0]?.tags, ['memory', 'implant']);
  });

  test(`${engine}: a syntax error names the engine, the file and the line`, { skip }, async () => {
    const bad: YaraSource[] = [
      { namespace: 'good', path: 'rules/good.yar', text: 'rule fine { condition: true }\n' },
      { namespace: 'broken', path: 'rules/broken.yar', text: 'rule a {\n  condition:\n    true\n}\n\nrule b {\n  condition:\n    undefined_thing\n}\n' },
    ];
    await assert.rejects(compileRules(engine, bad), (err: unknown) => {
      assert.ok(err instanceof YaraError);
      assert.equal(err.code, 'VIGIL_ERR_YARA_COMPILE');
      assert.equal(err.engine, engine);
      assert.match(err.message, new RegExp(`^${engine}: rules/broken\\.yar:8: `), err.message);
      return true;
    });
  });

  test(`${engine}: two sources in one namespace: an error names the second file and its own line`, { skip }, async () => {
    const src: YaraSource[] = [
      { namespace: 'ns', path: 'a.yar', text: 'rule a1 { condition: true }\nrule a2 { condition: true }\n' },
      { namespace: 'ns', path: 'b.yar', text: '\nrule b1 {\n  condition: nope\n}\n' },
    ];
    await assert.rejects(compileRules(engine, src), (err: unknown) => err instanceof YaraError && new RegExp(`^${engine}: b\\.yar:3: `).test(err.message));
    const ok = await compileRules(engine, [src[0] as YaraSource, { namespace: 'ns', path: 'c.yar', text: 'rule c1 : t { strings: $c = "cc" condition: $c and a1 }\n' }]);
    assert.deepEqual(
      ok.scan(Buffer.from('xxcc')).map((m) => `${m.namespace}:${m.rule}:${m.tags.join(',')}`),
      ['ns:a1:', 'ns:a2:', 'ns:c1:t'],
    );
  });

  test(`${engine}: matches reported per pattern are bounded and the cut is counted`, { skip }, async () => {
    const rules = await compileRules(engine, [{ namespace: 'n', text: 'rule r { strings: $a = "AB" $b = "CD" condition: #a > 50 and $b }' }], { maxReportedPerPattern: 10 });
    const data = Buffer.from('AB'.repeat(200) + 'CD');
    const m = rules.scan(data);
    assert.equal(m.length, 1, 'the count condition sees every match, not the reported ones');
    assert.equal(m[0]?.strings.filter((s) => s.identifier === '$a').length, 10);
    assert.deepEqual(m[0]?.strings[9], { identifier: '$a', offset: 18, length: 2 }, 'the first matches by offset are kept');
    assert.equal(m[0]?.strings.filter((s) => s.identifier === '$b').length, 1);
    assert.equal(m[0]?.truncated, 190);
    assert.equal(rules.stats?.().truncated_matches, 190);
  });
}

test('libyara-wasm: loading the module leaves no process listeners behind, and a reload starts a fresh instance', async () => {
  const before = [process.listenerCount('uncaughtException'), process.listenerCount('unhandledRejection')];
  const rules = await compileRules('libyara-wasm', RULES);
  await reloadWasmEngine();
  assert.deepEqual([process.listenerCount('uncaughtException'), process.listenerCount('unhandledRejection')], before);
  const loads = wasmEngineStats().loads ?? 0;
  rules.scan(sample());
  assert.ok((wasmEngineStats().calls_since_load ?? 0) >= 2, 'one call per namespace');
  await reloadWasmEngine();
  assert.equal(wasmEngineStats().loads, loads + 1);
  assert.equal(wasmEngineStats().calls_since_load, 0);
  assert.equal(rules.scan(sample()).length, 2, 'the compiled set keeps working on the new instance');
});

test('chooseEngines: auto picks YARA-X where it loads; explicit names and lists are checked', () => {
  const auto = chooseEngines('auto');
  assert.deepEqual(auto, [engineAvailable('yara-x') === undefined ? 'yara-x' : 'libyara-wasm']);
  assert.deepEqual(chooseEngines(['libyara-wasm', 'auto', 'libyara-wasm']), ['libyara-wasm', ...auto.filter((e) => e !== 'libyara-wasm')]);
  assert.throws(() => chooseEngines('yara-9'), (e: unknown) => e instanceof YaraError && e.code === 'VIGIL_ERR_YARA_SETTING' && /yara-9/.test(e.message));
  assert.throws(() => chooseEngines([]), (e: unknown) => e instanceof YaraError && e.code === 'VIGIL_ERR_YARA_SETTING');
});

test('engineAvailable says undefined for the wasm engine and YARA-X on Linux x64', () => {
  assert.equal(engineAvailable('libyara-wasm'), undefined);
  if (process.platform === 'linux' && process.arch === 'x64') assert.equal(engineAvailable('yara-x'), undefined);
});

test('readYaraSources: .yar and .yara files, folders walked, namespace = file stem, repeated stems kept apart', async () => {
  const root = join(dir, 'rules');
  mkdirSync(join(root, 'sub'), { recursive: true });
  writeFileSync(join(root, 'alpha.yar'), 'rule a { condition: true }\n');
  writeFileSync(join(root, 'notes.txt'), 'not a rule file');
  writeFileSync(join(root, 'sub', 'alpha.yara'), 'rule a { condition: false }\n');
  writeFileSync(join(root, 'sub', 'beta.YAR'), 'rule b { condition: true }\n');
  const single = join(dir, 'single.rules');
  writeFileSync(single, 'rule s { condition: true }\n');
  const src = await readYaraSources([root, single]);
  assert.deepEqual(
    src.map((s) => [s.namespace, s.path]),
    [
      ['alpha', join(root, 'alpha.yar')],
      ['alpha_2', join(root, 'sub', 'alpha.yara')],
      ['beta', join(root, 'sub', 'beta.YAR')],
      ['single', single],
    ],
  );
  assert.equal(src[0]?.text, 'rule a { condition: true }\n');
  const rules = await compileRules('libyara-wasm', src);
  assert.deepEqual(
    rules.scan(Buffer.from('x')).map((m) => `${m.namespace}:${m.rule}`),
    ['alpha:a', 'beta:b', 'single:s'],
  );
});

test('readYaraSources: a missing path is VIGIL_ERR_YARA_READ naming it', async () => {
  const missing = join(dir, 'nope', 'missing.yar');
  await assert.rejects(readYaraSources([missing]), (e: unknown) => e instanceof YaraError && e.code === 'VIGIL_ERR_YARA_READ' && e.message.includes(missing) && e.message.includes('ENOENT'));
});
