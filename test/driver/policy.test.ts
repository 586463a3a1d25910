/**
 * The pre-operation access-stripping decision and the policy lookups (driver/windows/policy.c)
 * are pure C: built natively with gcc and run over their table of requested rights × caller ×
 * mode (driver/windows/test/policy-test.c).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('../../../driver/windows/', import.meta.url));

test('the access decision table passes under gcc (-Wall -Wextra -Werror)', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'vigil-policy-'));
  try {
    const exe = join(tmp, 'policy-test');
    const c = spawnSync('gcc', ['-std=c11', '-O2', '-Wall', '-Wextra', '-Werror', '-o', exe, join(dir, 'test', 'policy-test.c'), join(dir, 'policy.c')], { encoding: 'utf8' });
    assert.equal(c.status, 0, c.stderr);
    const r = spawnSync(exe, { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout);
    const m = /^(\d+) cases, 0 failed$/m.exec(r.stdout);
    assert.ok(m, r.stdout);
    assert.ok(Number(m[1]) >= 60, `only ${m[1]} cases ran`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
