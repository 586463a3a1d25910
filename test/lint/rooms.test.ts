/**
 * The lint rules that keep the rooms apart, run through ESLint's own API on small snippets
 * placed at paths inside the tree: each rule must fire on what it forbids and stay silent on
 * what is allowed, or a broken selector would let violations through without a sound.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ESLint } from 'eslint';
import { projectRoot } from '../../core/paths.js';

const root = projectRoot();
const eslint = new ESLint({ cwd: root, overrideConfigFile: join(root, 'eslint.config.js') });

/** The import-related problems ESLint reports for `code` placed at `path` (relative to the root). */
async function problems(path: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(root, path) });
  assert.ok(result, `ESLint returned no result for ${path}`);
  const rules = new Set(['vigil/rooms', 'no-restricted-imports', 'no-restricted-syntax']);
  const out: string[] = [];
  for (const m of result.messages) {
    // A parse error or an ignored path would make every assertion below pass vacuously.
    assert.ok(m.ruleId !== null, `${path}: ${m.message}`);
    if (rules.has(m.ruleId)) out.push(m.messageId !== undefined && m.ruleId === 'vigil/rooms' ? `${m.ruleId}:${m.messageId}` : m.ruleId);
  }
  return out;
}

test('a plugin importing another plugin is refused, however the path is written', async () => {
  assert.deepEqual(await problems('plugins/sensors/replay/a.ts', "import { x } from '../procfs/sensor.js';\nexport const y = x;\n"), ['vigil/rooms:pluginImportsPlugin']);
  assert.deepEqual(await problems('plugins/sensors/replay/test/a.test.ts', "export { x } from '../../procfs/sensor.js';\n"), ['vigil/rooms:pluginImportsPlugin']);
  assert.deepEqual(await problems('plugins/sensors/replay/a.ts', "export * from '../../analyzers/correlation/index.js';\n"), ['vigil/rooms:pluginImportsPlugin']);
  assert.deepEqual(
    await problems('plugins/analyzers/rule-engine/a.ts', "export async function f(): Promise<unknown> {\n  return import('../correlation/engine.js');\n}\n"),
    ['vigil/rooms:pluginImportsPlugin'],
  );
  assert.deepEqual(
    await problems('plugins/analyzers/rule-engine/a.ts', "export type T = import('../../../plugins/sensors/procfs/sensor.js').ProcfsSensor;\n"),
    ['vigil/rooms:pluginImportsPlugin'],
  );
  assert.deepEqual(await problems('plugins/analyzers/rule-engine/a.ts', "import type { X } from '../correlation/model.js';\nexport type Y = X;\n"), ['vigil/rooms:pluginImportsPlugin']);
});

test('a plugin imports its own files, the SDK, lib/ and driver/; its tests also the test support', async () => {
  const own = [
    "import { a } from './config.js';",
    "import { b } from '../replay/discover.js';",
    "import { c } from '../../../core/index.js';",
    "import { d } from '../../../lib/files/index.js';",
    "import { e } from '../../../driver/ffi/linux/libc.js';",
    "import { readFile } from 'node:fs/promises';",
    'export const all = [a, b, c, d, e, readFile];',
  ].join('\n');
  assert.deepEqual(await problems('plugins/sensors/replay/a.ts', own), []);
  assert.deepEqual(await problems('plugins/sensors/replay/test/a.test.ts', "import { f } from '../../../../test/support/config.js';\nimport { g } from '../discover.js';\nexport const h = [f, g];\n"), []);
  assert.deepEqual(await problems('plugins/sensors/replay/a.ts', "import { f } from '../../../test/support/config.js';\nexport const h = f;\n"), ['vigil/rooms:pluginImportsOther']);
  assert.deepEqual(await problems('plugins/sensors/replay/a.ts', "import { k } from '../../../core/kernel/kernel.js';\nexport const h = k;\n"), ['vigil/rooms:pluginImportsCore']);
});

test('lib/ never imports plugins/ nor the core past its SDK, and a lib room only lower rooms', async () => {
  assert.deepEqual(await problems('lib/rules/a.ts', "import { x } from '../../plugins/analyzers/correlation/index.js';\nexport const y = x;\n"), ['vigil/rooms:libImportsPlugin']);
  assert.deepEqual(
    await problems('lib/sigma/test/a.test.ts', "export async function f(): Promise<unknown> {\n  return import('../../../plugins/analyzers/rule-engine/engine.js');\n}\n"),
    ['vigil/rooms:libImportsPlugin'],
  );
  assert.deepEqual(await problems('lib/evtx/a.ts', "import { Kernel } from '../../core/kernel/kernel.js';\nexport const y = Kernel;\n"), ['vigil/rooms:libImportsCore']);
  assert.deepEqual(await problems('lib/windows/a.ts', "export { projectRoot } from '../../core/paths.js';\n"), ['vigil/rooms:libImportsCore']);
  assert.deepEqual(await problems('lib/rules/a.ts', "import { loadSigmaRules } from '../sigma/index.js';\nexport const y = loadSigmaRules;\n"), ['vigil/rooms:libImportsHigher']);
  assert.deepEqual(await problems('lib/files/a.ts', "export { compileRuleSet } from '../rules/index.js';\n"), ['vigil/rooms:libImportsHigher']);
  assert.deepEqual(await problems('lib/sigma/a.ts', "export { x } from '../novel/index.js';\n"), ['vigil/rooms:libRoomUnknown']);
  assert.deepEqual(await problems('lib/rules/a.ts', "export { main } from '../../cli/main.js';\n"), ['vigil/rooms:libImportsOther']);
  const allowed = [
    "import { SEVERITIES } from '../../core/index.js';",
    "import { compileRuleSet } from '../rules/index.js';",
    "import { SYSMON_EVENTS } from '../windows/field-map.js';",
    "import { listFiles } from '../files/index.js';",
    "import { parseCondition } from './condition-parser.js';",
    'export const all = [SEVERITIES, compileRuleSet, SYSMON_EVENTS, listFiles, parseCondition];',
  ].join('\n');
  assert.deepEqual(await problems('lib/sigma/a.ts', allowed), []);
});

test('the core imports no plugin, library or command; the CLI reaches plugins only through the loader', async () => {
  assert.deepEqual(await problems('core/kernel/a.ts', "export { x } from '../../plugins/sensors/procfs/index.js';\n"), ['vigil/rooms:coreImportsAbove']);
  assert.deepEqual(await problems('core/a.ts', "export { listFiles } from '../lib/files/index.js';\n"), ['vigil/rooms:coreImportsAbove']);
  assert.deepEqual(await problems('core/kernel/a.ts', "export { main } from '../../cli/main.js';\n"), ['vigil/rooms:coreImportsAbove']);
  assert.deepEqual(await problems('cli/a.ts', "export { plugin } from '../plugins/analyzers/rule-engine/index.js';\n"), ['vigil/rooms:cliImportsPlugin']);
  assert.deepEqual(
    await problems('cli/a.ts', "import { Kernel } from '../core/kernel/kernel.js';\nimport { listFiles } from '../lib/files/index.js';\nexport const all = [Kernel, listFiles];\n"),
    [],
  );
});

test('tests and benchmarks are not rooms: they may import any plugin', async () => {
  assert.deepEqual(await problems('test/core/a.test.ts', "import { x } from '../../plugins/sensors/procfs/index.js';\nimport { k } from '../../core/kernel/kernel.js';\nexport const y = [x, k];\n"), []);
  assert.deepEqual(await problems('bench/a.ts', "import { x } from '../plugins/analyzers/correlation/engine.js';\nexport const y = x;\n"), []);
});

test('no computed import() anywhere but the third-party plugin loader', async () => {
  const computed = "export async function f(spec: string): Promise<unknown> {\n  return import(spec);\n}\n";
  for (const path of ['plugins/analyzers/correlation/a.ts', 'lib/rules/a.ts', 'core/kernel/a.ts', 'cli/a.ts', 'test/a.test.ts', 'driver/ffi/linux/a.ts', 'bin/a.js']) {
    assert.deepEqual(await problems(path, path.endsWith('.js') ? computed.replace(': Promise<unknown>', '').replace('spec: string', 'spec') : computed), ['no-restricted-syntax'], path);
  }
  const template = "export async function f(name: string): Promise<unknown> {\n  return import(`../../lib/${name}/index.js`);\n}\n";
  assert.deepEqual(await problems('plugins/analyzers/rule-engine/a.ts', template), ['no-restricted-syntax']);
  assert.deepEqual(await problems('core/plugin/loader.ts', computed), []);
  const literal = "export async function f(): Promise<unknown> {\n  return import('./discover.js');\n}\n";
  assert.deepEqual(await problems('plugins/sensors/replay/a.ts', literal), []);
});

test('only driver/ffi imports koffi, statically or dynamically', async () => {
  const staticImport = "import koffi from 'koffi';\nexport const k = koffi;\n";
  const dynamicImport = "export async function f(): Promise<unknown> {\n  return import('koffi');\n}\n";
  for (const path of ['plugins/sensors/procfs/a.ts', 'lib/evtx/a.ts', 'core/memory/a.ts', 'core/plugin/loader.ts']) {
    assert.deepEqual(await problems(path, staticImport), ['no-restricted-imports'], path);
    assert.deepEqual(await problems(path, dynamicImport), ['no-restricted-syntax'], path);
  }
  assert.deepEqual(await problems('driver/ffi/linux/a.ts', staticImport), []);
  assert.deepEqual(await problems('driver/ffi/linux/a.ts', dynamicImport), []);
});
