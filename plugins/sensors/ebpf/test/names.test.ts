import { test } from 'node:test';
import assert from 'node:assert/strict';
import { memfdFlags, moduleName } from '../sensor.js';

test("a module's name comes from its file name as the kernel spells it", () => {
  assert.equal(moduleName('/tmp/x/evil-mod.ko'), 'evil_mod');
  assert.equal(moduleName('/lib/modules/6.1/kernel/fs/zstd.ko.zst'), 'zstd');
  assert.equal(moduleName('/usr/lib/modules/a/b/nf_tables.ko.xz'), 'nf_tables');
  assert.equal(moduleName('/tmp/payload'), 'payload');
});

test('memfd_create flags are named; the hugetlb size bits are not', () => {
  assert.deepEqual(memfdFlags(0), []);
  assert.deepEqual(memfdFlags(0x3), ['cloexec', 'allow_sealing']);
  assert.deepEqual(memfdFlags(0x4 | (21 << 26)), ['hugetlb']);
  assert.deepEqual(memfdFlags(0x18), ['noexec_seal', 'exec']);
});
