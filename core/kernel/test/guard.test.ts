import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pathToFileURL } from 'node:url';
import { folderPrefix, pluginOfStack, type GuardedPlugin } from '../guard.js';

const plugin = (id: string, root: string): GuardedPlugin => ({ id, root: folderPrefix(root), crashed() {} });

test('a crash is attributed to the plugin whose folder holds the first matching frame, paths or file URLs', () => {
  const a = plugin('a', '/opt/vigil/plugins/a');
  const ab = plugin('ab', '/opt/vigil/plugins/ab');
  const stack = [
    'Error: boom',
    '    at helper (node:internal/timers:1:1)',
    `    at Timeout._onTimeout (${pathToFileURL('/opt/vigil/plugins/ab/index.js').href}:3:11)`,
    '    at listOnTimeout (node:internal/timers:573:17)',
  ].join('\n');
  assert.equal(pluginOfStack(stack, [a, ab])?.id, 'ab', 'the folder /a does not claim /ab');
  assert.equal(pluginOfStack('Error: x\n    at /opt/vigil/plugins/a/lib/x.js:1:2', [a, ab])?.id, 'a');
  assert.equal(pluginOfStack('Error: x\n    at run (/opt/vigil/core/kernel.js:1:2)', [a, ab]), undefined, 'core frames name no plugin');
  assert.equal(pluginOfStack(undefined, [a]), undefined);
  assert.equal(pluginOfStack('Error: x\n    at /opt/vigil/plugins/a/x.js:1:2', [{ id: 'u', root: '', crashed() {} }]), undefined, 'an unknown folder claims nothing');
});
