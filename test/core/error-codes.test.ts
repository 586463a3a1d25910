import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_CODES } from '../../core/errors/index.js';
import { projectRoot } from '../../core/paths.js';

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) sources(p, out);
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

test('every error code used in the code is in the documented table, and the docs list every code', () => {
  const root = projectRoot();
  const used = new Set<string>();
  for (const dir of ['core', 'plugins', 'driver']) {
    if (!existsSync(join(root, dir))) continue; // a room that does not exist yet has no codes
    for (const f of sources(join(root, dir))) for (const m of readFileSync(f, 'utf8').matchAll(/VIGIL_ERR_[A-Z0-9_]+/g)) used.add(m[0]);
  }
  const known = new Set(Object.keys(ERROR_CODES));
  assert.deepEqual([...used].filter((c) => !known.has(c)).sort(), [], 'codes used but not in core/errors/codes.ts');
  const doc = readFileSync(join(root, 'docs', 'error-codes.md'), 'utf8');
  for (const [code, meaning] of Object.entries(ERROR_CODES)) {
    assert.ok(doc.includes(`| \`${code}\` | ${meaning.replace(/\|/g, '\\|')} |`), `docs/error-codes.md lacks ${code} with its current meaning`);
  }
  const documented = [...doc.matchAll(/`(VIGIL_ERR_[A-Z0-9_]+)`/g)].map((m) => m[1]!);
  assert.deepEqual(documented.filter((c) => !known.has(c)), [], 'codes documented but gone from the code');
});
