/**
 * YARA-X and libyara-wasm give identical matches on the shared corpus; libyara-wasm agrees
 * with the `yara` command (YARA 4.2.3, the same libyara version) where it is installed; a
 * rule set one engine refuses is refused by checkRuleSet naming that engine and its reason.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { checkRuleSet, compileRules, engineAvailable, type YaraRuleMatch, type YaraRules } from '../index.js';
import { CORPUS_SOURCES, corpusInputs } from './corpus.js';

const dir = mkdtempSync(join(tmpdir(), 'vigil-yara-parity-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// Every match reported: the parity is about what the engines find, not about the report bound.
const ALL = { maxReportedPerPattern: 1_000_000 };
const YARA_X_SKIP = engineAvailable('yara-x') ?? false;

interface Flat {
  rule: string;
  namespace: string;
  tags: string[];
  strings: string[];
}

function flat(matches: readonly YaraRuleMatch[]): Flat[] {
  return matches
    .map((m) => ({ rule: m.rule, namespace: m.namespace, tags: [...m.tags], strings: m.strings.map((s) => `${s.identifier}@${s.offset}+${s.length}`) }))
    .sort((a, b) => (a.namespace + ':' + a.rule < b.namespace + ':' + b.rule ? -1 : 1));
}

let compiled: { x: YaraRules; w: YaraRules } | undefined;
async function engines(): Promise<{ x: YaraRules; w: YaraRules }> {
  compiled ??= { x: await compileRules('yara-x', CORPUS_SOURCES, ALL), w: await compileRules('libyara-wasm', CORPUS_SOURCES, ALL) };
  return compiled;
}

test('the corpus has at least 10 rules and 5 inputs, and every rule matches some input', { skip: YARA_X_SKIP }, async () => {
  const { x } = await engines();
  const inputs = corpusInputs();
  assert.ok(inputs.length >= 5, `inputs: ${inputs.map((i) => i.name).join(', ')}`);
  assert.ok(inputs.some((i) => i.name === 'elf'), 'an ELF executable of this machine is part of the corpus');
  const matched = new Set(inputs.flatMap((i) => x.scan(i.data).map((m) => `${m.namespace}:${m.rule}`)));
  const expected = ['plain_ascii', 'hex_jump_wildcard', 'hex_alternation', 'regex_basic', 'regex_nocase', 'nocase_plain', 'wide_string', 'count_and_offset', 'elf_header', 'filesize_band', 'uint32_magic', 'uses_private', 'non_utf8_bytes', 'in_range_and_fullword', 'xor_string', 'many_hits'];
  for (const r of expected) assert.ok(matched.has(`main:${r}`), `main:${r} matches no input`);
  assert.ok(matched.has('second:second_marker') && matched.has('second:big_enough'));
  assert.ok(!matched.has('main:priv_marker'), 'a private rule is never reported');
});

test('YARA-X and libyara-wasm give identical matches (rule, namespace, tags, meta, strings, offsets) on every input', { skip: YARA_X_SKIP }, async () => {
  const { x, w } = await engines();
  for (const input of corpusInputs()) {
    const a = x.scan(input.data);
    const b = w.scan(input.data);
    assert.ok(a.length > 0, `${input.name}: something matches`);
    assert.deepEqual(b, a, `${input.name}: the engines disagree`);
  }
});

test('the global rule of one namespace gates only its own namespace', { skip: YARA_X_SKIP }, async () => {
  const { x, w } = await engines();
  const small = corpusInputs().find((i) => i.name === 'random-3k-xor-wide');
  assert.ok(small);
  for (const e of [x, w]) {
    const names = e.scan(small.data).map((m) => `${m.namespace}:${m.rule}`);
    assert.ok(names.includes('main:plain_ascii'), `${e.engine}: the marker matches in main`);
    assert.ok(!names.some((n) => n.startsWith('second:')), `${e.engine}: under 4 KB nothing of "second" matches: ${names.join(' ')}`);
  }
});

/** `yara -e -g -s -L` output: `ns:rule [t1,t2] file` then `0xOFF:LEN:$id: data` lines. */
function parseCli(stdout: string): Flat[] {
  const out: Flat[] = [];
  let cur: Flat | undefined;
  for (const line of stdout.split('\n')) {
    const s = /^0x([0-9a-f]+):(\d+):(\$[A-Za-z0-9_]*):/.exec(line);
    if (s && cur) {
      cur.strings.push(`${s[3] ?? ''}@${parseInt(s[1] ?? '', 16)}+${s[2] ?? ''}`);
      continue;
    }
    const h = /^([^:\s]+):(\S+) \[([^\]]*)\] /.exec(line);
    if (h) {
      cur = { namespace: h[1] ?? '', rule: h[2] ?? '', tags: (h[3] ?? '') === '' ? [] : (h[3] ?? '').split(','), strings: [] };
      out.push(cur);
    }
  }
  for (const m of out) m.strings.sort();
  return out.sort((a, b) => (a.namespace + ':' + a.rule < b.namespace + ':' + b.rule ? -1 : 1));
}

const CLI = '/usr/bin/yara';
const cliVersion = spawnSync(CLI, ['--version'], { encoding: 'utf8' });
const CLI_SKIP = cliVersion.status === 0 ? false : `the yara command (Debian package yara) is not installed at ${CLI}`;
if (CLI_SKIP) process.stdout.write(`# skipping the yara command comparison: ${CLI_SKIP}\n`);

test('libyara-wasm matches what the yara command (YARA 4.2.3) prints for the corpus', { skip: CLI_SKIP }, async () => {
  assert.match(cliVersion.stdout, /^4\.2\./, 'the same libyara version as the wasm build');
  const w = await compileRules('libyara-wasm', CORPUS_SOURCES, ALL);
  const ruleArgs = CORPUS_SOURCES.map((s) => {
    const p = join(dir, `${s.namespace}.yar`);
    writeFileSync(p, s.text);
    return `${s.namespace}:${p}`;
  });
  for (const input of corpusInputs()) {
    const file = join(dir, `input-${input.name}`);
    writeFileSync(file, input.data);
    const r = spawnSync(CLI, ['-e', '-g', '-s', '-L', '-w', ...ruleArgs, file], { encoding: 'latin1', maxBuffer: 64 * 1024 * 1024 });
    assert.equal(r.status, 0, `yara failed: ${r.stderr}`);
    const cli = parseCli(r.stdout);
    const ours = flat(w.scan(input.data)).map((m) => ({ ...m, strings: [...m.strings].sort() }));
    assert.ok(cli.length > 0, `${input.name}: the yara command matched nothing`);
    assert.deepEqual(ours, cli, `${input.name}: libyara-wasm and the yara command disagree`);
  }
});

test('a rule set YARA-X refuses and libyara accepts is refused by checkRuleSet, naming yara-x and the reason', { skip: YARA_X_SKIP }, async () => {
  // YARA 4.x reads an unescaped `{` not starting a repetition as a literal; YARA-X requires `\{`.
  const src = [{ namespace: 'brace', path: 'rules/brace.yar', text: 'rule brace_literal {\n  strings:\n    $a = /ab{/\n  condition:\n    $a\n}\n' }];
  const wasmOnly = await checkRuleSet(src, ['libyara-wasm']);
  assert.equal(wasmOnly.accepted, true, 'libyara-wasm compiles it');
  const both = await checkRuleSet(src, ['libyara-wasm', 'yara-x']);
  assert.equal(both.accepted, false);
  if (both.accepted) return;
  assert.equal(both.engine, 'yara-x');
  assert.equal(both.error.code, 'VIGIL_ERR_YARA_COMPILE');
  assert.match(both.reason, /^yara-x: rules\/brace\.yar:3: .*invalid regular expression/);
});

test('a rule set libyara refuses and YARA-X accepts (a module only YARA-X has) is refused, naming libyara-wasm', { skip: YARA_X_SKIP }, async () => {
  const src = [{ namespace: 'lnk', path: 'rules/lnk.yar', text: 'import "lnk"\n\nrule is_shortcut {\n  condition:\n    lnk.is_lnk\n}\n' }];
  const xOnly = await checkRuleSet(src, ['yara-x']);
  assert.equal(xOnly.accepted, true, 'yara-x compiles it');
  const both = await checkRuleSet(src, ['yara-x', 'libyara-wasm']);
  assert.equal(both.accepted, false);
  if (both.accepted) return;
  assert.equal(both.engine, 'libyara-wasm');
  assert.match(both.reason, /^libyara-wasm: rules\/lnk\.yar:1: unknown module "lnk"/);
});

test('a rule set both engines compile is accepted with one compiled rule set per engine', { skip: YARA_X_SKIP }, async () => {
  const r = await checkRuleSet(CORPUS_SOURCES, ['yara-x', 'libyara-wasm']);
  assert.equal(r.accepted, true);
  if (!r.accepted) return;
  assert.deepEqual([...r.rules.keys()], ['yara-x', 'libyara-wasm']);
  assert.equal(r.rules.get('libyara-wasm')?.engine, 'libyara-wasm');
});
