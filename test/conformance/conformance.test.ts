import assert from 'node:assert/strict';
import { test } from 'node:test';
import { join } from 'node:path';
import { builtinPluginFiles, importPluginFile, loadPluginFromFolder } from '../../core/plugin/loader.js';
import { checkConformance, projectRoot } from '../../testing/index.js';

// Every built-in plugin folder must hold a conforming plugin; the list is discovered, so a
// new plugin is covered the moment it is added.
const files = builtinPluginFiles();

test('there are built-in plugins of every kind', async () => {
  const kinds = new Set<string>();
  for (const f of files) kinds.add((await importPluginFile(f, 'builtin')).plugin.manifest.kind);
  assert.deepEqual([...kinds].sort(), ['analyzer', 'responder', 'sensor']);
});

for (const file of files) {
  const id = file.split(/[\\/]/).slice(-2, -1)[0];
  test(`conformance: built-in plugin ${id}`, async () => {
    const ref = await importPluginFile(file, 'builtin');
    await checkConformance(ref.plugin);
  });
}

test('conformance: the example third-party plugin, loaded from its folder', async () => {
  const folder = join(projectRoot(), 'test', 'example-plugin');
  const ref = await loadPluginFromFolder(folder);
  await checkConformance(ref.plugin);
});
