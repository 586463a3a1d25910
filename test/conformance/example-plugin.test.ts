import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { lstatSync, mkdirSync, readlinkSync, realpathSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { projectRoot } from '../../testing/index.js';

const folder = join(projectRoot(), 'test', 'example-plugin');

/**
 * What `npm install` in the example's folder makes of its devDependency
 * `"vigil": "file:../.."`: node_modules/vigil, a link to this package. Made here so that the
 * example's tests run without an install; node then resolves `vigil/testing` through this
 * package's `exports`, exactly as for a plugin that installed vigil.
 */
function linkVigil(): void {
  const modules = join(folder, 'node_modules');
  const link = join(modules, 'vigil');
  const stat = lstatSync(link, { throwIfNoEntry: false });
  if (stat?.isSymbolicLink() && realpathSync(link) === realpathSync(projectRoot())) return;
  assert.equal(stat, undefined, `${link} exists but is not a link to this package (${stat?.isSymbolicLink() ? readlinkSync(link) : 'not a link'})`);
  mkdirSync(modules, { recursive: true });
  symlinkSync(join('..', '..', '..'), link, 'dir');
}

test('the example third-party plugin runs its own tests, built on vigil/testing, from its folder', { timeout: 120_000 }, () => {
  linkVigil();
  // Without the parent runner's marker, which would make the child skip its files.
  const env = { ...process.env };
  delete env['NODE_TEST_CONTEXT'];
  const run = spawnSync(process.execPath, ['--test'], { cwd: folder, env, encoding: 'utf8', timeout: 110_000 });
  const output = `${run.stdout}\n${run.stderr}`;
  assert.equal(run.status, 0, `node --test in ${folder} failed:\n${output}`);
  // The runner found the plugin's tests and every one passed (a run of no tests also exits 0).
  assert.match(run.stdout, /^# pass [1-9]\d*$/m, output);
  assert.match(run.stdout, /^# fail 0$/m, output);
});
