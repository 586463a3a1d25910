/**
 * The declared capabilities (`commands`, `ruleKinds` + `ruleTooling`, `replay`): what the
 * manifest check refuses, what the loader requires of a module, and the built-in plugins'
 * side-effect-free manifest files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { builtinPluginEntries, importBuiltinPlugin, loadBuiltinManifests, readBuiltinManifest } from '../../core/plugin/loader.js';
import { commandPaths, manifestProblems, moduleExportProblems } from '../../core/plugin/manifest.js';
import type { PluginManifest } from '../../core/plugin/types.js';
import { DEFAULT_SLICE_MS } from '../../plugins/analyzers/correlation/engine.js';
import { tempDir } from '../support/config.js';

const base = {
  apiVersion: '2.0.0',
  version: '1.0.0',
  description: 'test',
  platforms: ['any'],
  produces: [],
  consumes: ['process.start'],
  configSchema: { type: 'object', properties: { paths: { type: 'array' }, on: { type: 'boolean' }, stream: { enum: ['stdout', 'stderr'] }, name: { type: 'string' } } },
};
const analyzer = (extra: Record<string, unknown>): unknown => ({ ...base, id: 'a', kind: 'analyzer', ...extra });

function problems(m: unknown): string {
  return manifestProblems(m).join('\n');
}

test('commands: data only, each level of names unique, the CLI options reserved, arguments in a usable order', () => {
  const ok = analyzer({
    commands: [
      { name: 'tool', description: 'group', subcommands: [{ name: 'run', description: 'd', arguments: [{ name: 'x', description: 'd' }, { name: 'rest', description: 'd', required: false, variadic: true }], options: [{ name: 'max', short: 'm', value: 'n', description: 'd', choices: ['1', '2'] }, { name: 'json', description: 'd' }] }] },
      { name: 'other', description: 'd' },
    ],
  });
  assert.deepEqual(manifestProblems(ok), []);
  assert.deepEqual(commandPaths((ok as PluginManifest).commands), ['tool run', 'other']);

  assert.match(problems(analyzer({ commands: [{ name: 'Bad Name', description: 'd' }] })), /\/commands\/0\/name: expected must match pattern/);
  assert.match(problems(analyzer({ commands: [{ name: 'x', description: 'd', handler: 'f' }] })), /\/commands\/0\/handler: expected no such key/);
  assert.match(problems(analyzer({ commands: [{ name: 'x', description: 'd' }, { name: 'x', description: 'e' }] })), /\/commands\/1\/name: a second command "x"/);
  assert.match(
    problems(analyzer({ commands: [{ name: 'g', description: 'd', options: [{ name: 'q', description: 'd' }], subcommands: [{ name: 's', description: 'd' }] }] })),
    /\/commands\/0: a command with subcommands takes no arguments or options/,
  );
  assert.match(problems(analyzer({ commands: [{ name: 'x', description: 'd', options: [{ name: 'config', value: 'f', description: 'd' }] }] })), /--config is the CLI's own option/);
  assert.match(problems(analyzer({ commands: [{ name: 'x', description: 'd', options: [{ name: 'quiet', short: 'h', description: 'd' }] }] })), /-h is the CLI's own option/);
  assert.match(problems(analyzer({ commands: [{ name: 'x', description: 'd', options: [{ name: 'a', short: 'a', description: 'd' }, { name: 'b', short: 'a', description: 'd' }] }] })), /a second option "-a"/);
  assert.match(problems(analyzer({ commands: [{ name: 'x', description: 'd', options: [{ name: 'a', choices: ['1'], description: 'd' }] }] })), /\/options\/0\/choices: a flag has no values/);
  assert.match(problems(analyzer({ commands: [{ name: 'x', description: 'd', arguments: [{ name: 'a', description: 'd', variadic: true }, { name: 'b', description: 'd' }] }] })), /only the last argument may be variadic/);
  assert.match(problems(analyzer({ commands: [{ name: 'x', description: 'd', arguments: [{ name: 'a', description: 'd', required: false }, { name: 'b', description: 'd' }] }] })), /a required argument cannot follow an optional one/);
  assert.match(problems(analyzer({ commands: [{ name: 'x', description: 'd', subcommands: [{ name: 'y', description: 'd', subcommands: [{ name: 'Z', description: 'd' }] }] }] })), /\/commands\/0\/subcommands\/0\/subcommands\/0\/name/);
});

test('ruleKinds belong to analyzers; replay keys must name config properties of the right type, for the right kind', () => {
  assert.deepEqual(manifestProblems(analyzer({ ruleKinds: ['detection', 'count'] })), []);
  assert.match(problems({ ...base, id: 'r', kind: 'responder', consumes: ['detection'], ruleKinds: ['x'] }), /\/ruleKinds: only analyzers own rule kinds/);
  assert.match(problems(analyzer({ ruleKinds: [] })), /\/ruleKinds: /);

  const sensor = (replay: unknown, delivery = 'replay'): unknown => ({ ...base, id: 's', kind: 'sensor', produces: ['process.start'], consumes: [], delivery, replay });
  assert.deepEqual(manifestProblems(sensor({ pathsKey: 'paths', mergeByTimeKey: 'on' })), []);
  assert.match(problems(sensor({ pathsKey: 'paths' }, 'live')), /\/replay: a sensor that replays recordings has delivery 'replay'/);
  assert.match(problems(sensor({ pathsKey: 'nowhere' })), /\/replay\/pathsKey: the config schema has no property "nowhere"/);
  assert.match(problems(sensor({ pathsKey: 'name' })), /\/replay\/pathsKey: config property "name" must be an array/);
  assert.match(problems(sensor({ pathsKey: 'paths', mergeByTimeKey: 'paths' })), /\/replay\/mergeByTimeKey: config property "paths" must be a boolean/);
  assert.match(problems(sensor({ mergeByTimeKey: 'on' })), /\/replay\/mergeByTimeKey: needs pathsKey/);
  assert.match(problems(sensor({ sigmaPathsKey: 'paths' })), /\/replay\/sigmaPathsKey: only for analyzers, this is a sensor/);
  assert.match(problems(sensor({ guess: 'paths' })), /\/replay\/guess: expected one of the keys: mergeByTimeKey, pathsKey, sigmaPathsKey, streamKey, found unknown key "guess"/);
  assert.deepEqual(manifestProblems(analyzer({ replay: { sigmaPathsKey: 'paths' } })), []);
  assert.match(problems(analyzer({ replay: { streamKey: 'stream' } })), /\/replay\/streamKey: only for responders/);
  const responder = (replay: unknown): unknown => ({ ...base, id: 'r', kind: 'responder', consumes: ['detection'], replay });
  assert.deepEqual(manifestProblems(responder({ streamKey: 'stream' })), []);
  assert.match(problems(responder({ streamKey: 'name' })), /\/replay\/streamKey: config property "name" must be a choice that includes 'stderr'/);
});

test('a module exports a handler for every declared command and none other, and the tooling of its declared rule kinds', () => {
  const m = analyzer({ commands: [{ name: 'g', description: 'd', subcommands: [{ name: 'a', description: 'd' }, { name: 'b', description: 'd' }] }] }) as PluginManifest;
  const fn = (): void => undefined;
  assert.deepEqual(moduleExportProblems(m, { commands: { 'g a': fn, 'g b': fn } }), []);
  assert.deepEqual(moduleExportProblems(m, { commands: { 'g a': fn } }), ['export commands: no handler function "g b" for the declared command `vigil g b`']);
  assert.deepEqual(moduleExportProblems(m, { commands: { 'g a': fn, 'g b': fn, g: fn } }), ['export commands: "g" is not a command the manifest declares']);
  assert.match(moduleExportProblems(m, {}).join('\n'), /no handler function "g a"/);
  assert.deepEqual(moduleExportProblems(analyzer({}) as PluginManifest, { commands: 'x' }), ['export commands: must be an object of handlers by command path']);

  const kinds = analyzer({ ruleKinds: ['sequence', 'count'] }) as PluginManifest;
  const tooling = { name: 'a', kinds: ['count', 'sequence'], lint: fn, test: fn };
  assert.deepEqual(moduleExportProblems(kinds, { ruleTooling: tooling }), []);
  assert.match(moduleExportProblems(kinds, {}).join('\n'), /export ruleTooling: missing, but the manifest declares ruleKinds sequence, count/);
  assert.match(moduleExportProblems(kinds, { ruleTooling: { ...tooling, kinds: ['count'] } }).join('\n'), /differ from the manifest's ruleKinds/);
  assert.match(moduleExportProblems(kinds, { ruleTooling: { ...tooling, name: 'b' } }).join('\n'), /name must be the plugin id "a"/);
  assert.match(moduleExportProblems(kinds, { ruleTooling: { ...tooling, explain: 1 } }).join('\n'), /explain must be a function/);
  assert.match(moduleExportProblems(analyzer({}) as PluginManifest, { ruleTooling: tooling }).join('\n'), /the manifest declares no ruleKinds/);
});

test('every built-in plugin has a manifest file that its index re-uses; the declared capabilities are where the CLI expects them', async () => {
  const errors: string[] = [];
  const refs = await loadBuiltinManifests((err) => errors.push(String(err)));
  assert.deepEqual(errors, []);
  assert.deepEqual(refs.map((r) => r.manifest.id), builtinPluginEntries().map((e) => e.id));
  const byId = new Map(refs.map((r) => [r.manifest.id, r.manifest]));
  assert.deepEqual(byId.get('alert-store')?.commands?.map((c) => c.name), ['alerts']);
  assert.deepEqual(byId.get('rule-engine')?.ruleKinds, ['detection']);
  assert.deepEqual(byId.get('correlation')?.ruleKinds, ['sequence', 'count']);
  assert.deepEqual(byId.get('replay')?.replay, { pathsKey: 'paths', mergeByTimeKey: 'merge_by_time' });
  assert.deepEqual(byId.get('console')?.replay, { streamKey: 'stream' });
  for (const id of ['rule-engine', 'correlation']) assert.deepEqual(byId.get(id)?.replay, { sigmaPathsKey: 'sigma_paths' });
  const slice = (byId.get('correlation')?.configSchema as { properties: { slice_ms: { default: number } } }).properties.slice_ms.default;
  assert.equal(slice, DEFAULT_SLICE_MS, "the correlation manifest's slice_ms default is the engine's");

  for (const ref of refs) {
    const mod = await importBuiltinPlugin(ref);
    assert.deepEqual(mod.plugin.manifest, ref.manifest, `${ref.manifest.id}: index and manifest file agree`);
    assert.equal(mod.ruleTooling !== undefined, ref.manifest.ruleKinds !== undefined, `${ref.manifest.id}: ruleTooling iff ruleKinds`);
  }
});

test('the loader refuses a built-in folder without a manifest file, or whose id is not the folder name, or whose index declares another manifest', async () => {
  const dir = tempDir();
  const ext = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
  const folder = (name: string): string => {
    const f = join(dir, 'analyzers', name);
    mkdirSync(f, { recursive: true });
    return f;
  };
  const manifest = (id: string): string =>
    `export const manifest = { id: '${id}', kind: 'analyzer', apiVersion: '2.0.0', version: '1.0.0', description: 'd', platforms: ['any'], produces: [], consumes: ['*'], configSchema: { type: 'object' } };\n`;
  writeFileSync(join(folder('no-manifest'), `index.${ext}`), '');
  writeFileSync(join(folder('named-other'), `index.${ext}`), '');
  writeFileSync(join(folder('named-other'), `manifest.${ext}`), manifest('something-else'));
  writeFileSync(join(folder('drifted'), `index.${ext}`), `export const plugin = { manifest: { ...(${manifest('drifted').replace('export const manifest = ', '').replace(/;\n$/, '')}), description: 'other' }, create() { return {}; } };\n`);
  writeFileSync(join(folder('drifted'), `manifest.${ext}`), manifest('drifted'));

  const entries = new Map(builtinPluginEntries(dir).map((e) => [e.id, e]));
  await assert.rejects(readBuiltinManifest(entries.get('no-manifest')!), (e: { code?: string; message: string }) => e.code === 'VIGIL_ERR_PLUGIN_MANIFEST' && /has no manifest\./.test(e.message));
  await assert.rejects(readBuiltinManifest(entries.get('named-other')!), /declares id "something-else"; a built-in's id is its folder's name/);
  const drifted = await readBuiltinManifest(entries.get('drifted')!);
  await assert.rejects(importBuiltinPlugin(drifted), /exports a manifest other than its manifest file's/);
});
