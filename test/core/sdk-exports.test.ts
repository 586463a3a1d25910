import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import * as sdk from '../../core/index.js';
import { projectRoot } from '../../testing/index.js';

const SNAPSHOT = join(projectRoot(), 'test', 'core', 'sdk-exports.txt');
const WHY =
  'the SDK (core/index.ts) is the plugin API: every addition is a deliberate minor bump of PLUGIN_API_VERSION ' +
  '(core/plugin/types.ts), every removal or change a major one. Bump it, then update test/core/sdk-exports.txt ' +
  '(its "api" line and the names) and docs/plugin-guide.md';

/** The checked-in list: `api <version>`, then `value <name>` and `type <name>` lines. */
function snapshot(): { api: string; values: string[]; types: string[] } {
  const lines = readFileSync(SNAPSHOT, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  const field = (kind: string) => lines.filter((l) => l.startsWith(`${kind} `)).map((l) => l.slice(kind.length + 1));
  return { api: field('api')[0] ?? '', values: field('value'), types: field('type') };
}

/** Every name the compiled SDK declaration file exports, types included. */
function declaredNames(): string[] {
  const dts = join(projectRoot(), 'dist', 'core', 'index.d.ts');
  // The default libraries are not needed to list names, and loading them is most of the cost.
  const program = ts.createProgram([dts], { noEmit: true, noLib: true, types: [], skipLibCheck: true, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext });
  const checker = program.getTypeChecker();
  const file = program.getSourceFile(dts);
  assert.ok(file, `${dts} exists (the build writes it)`);
  const moduleSymbol = checker.getSymbolAtLocation(file);
  assert.ok(moduleSymbol, `${dts} is a module`);
  return checker.getExportsOfModule(moduleSymbol).map((s) => s.name).sort();
}

test('the snapshot is of the plugin API version the core implements', () => {
  assert.equal(snapshot().api, sdk.PLUGIN_API_VERSION, `test/core/sdk-exports.txt was written for another API version; ${WHY}`);
});

test("the SDK's runtime exports are the checked-in list", () => {
  assert.deepEqual(Object.keys(sdk).sort(), snapshot().values, `the SDK's runtime exports changed; ${WHY}`);
});

test("the SDK's exported types are the checked-in list", () => {
  const runtime = new Set(Object.keys(sdk));
  assert.deepEqual(declaredNames().filter((n) => !runtime.has(n)), snapshot().types, `the SDK's exported types changed; ${WHY}`);
});
