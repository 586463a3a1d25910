/**
 * The CLI is a room above the core: the core imports neither the CLI nor commander, and
 * plugins declare their commands as data instead of building commander objects.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { projectRoot } from '../../core/paths.js';

const root = projectRoot();

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    // A plugin's installed dependencies are not its code (the example plugin links vigil there).
    if (name === 'node_modules') continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) sources(path, out);
    else if (/\.(ts|js|mjs)$/.test(name) && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** Every module specifier a file names (static imports, re-exports, import(), import types). */
function specifiers(text: string): string[] {
  const found: string[] = [];
  for (const re of [/\bfrom\s+['"]([^'"]+)['"]/g, /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g, /\bimport\s+['"]([^'"]+)['"]/g]) {
    for (const m of text.matchAll(re)) found.push(m[1]!);
  }
  return found;
}

test('nothing in core/ imports commander or the cli/ room', () => {
  const offenders: string[] = [];
  for (const file of sources(join(root, 'core'))) {
    for (const spec of specifiers(readFileSync(file, 'utf8'))) {
      if (spec === 'commander' || spec.startsWith('commander/') || /(^|\/)cli\//.test(spec)) offenders.push(`${relative(root, file)}: ${spec}`);
    }
  }
  assert.deepEqual(offenders, []);
});

test('no plugin imports commander: commands are declared in the manifest and handled with plain data', () => {
  const offenders: string[] = [];
  for (const file of [...sources(join(root, 'plugins')), ...sources(join(root, 'test', 'example-plugin'))]) {
    // Tests may drive the CLI's parser; the plugins' own modules may not depend on it.
    if (file.endsWith('.test.ts')) continue;
    for (const spec of specifiers(readFileSync(file, 'utf8'))) if (spec === 'commander') offenders.push(relative(root, file));
  }
  assert.deepEqual(offenders, []);
});
