import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { projectRoot } from '../../testing/index.js';
import { ERROR_CODE_ROOMS, renderErrorCodesDoc } from '../support/error-code-rooms.js';

const root = projectRoot();
const REGEN = 'regenerate docs/error-codes.md: node --import tsx test/support/write-error-codes-doc.ts';
const CODE = /\bVIGIL_ERR_[A-Z0-9]+(?:_[A-Z0-9]+)*\b/g;

/** Source files (no tests, no test folders, no fixtures), as paths relative to the root with `/`. */
function sources(dir: string, out: string[] = []): string[] {
  for (const ent of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, ent.name);
    if (ent.isDirectory()) {
      if (!['test', 'fixtures', 'node_modules'].includes(ent.name)) sources(p, out);
    } else if (ent.isFile() && ent.name.endsWith('.ts') && !ent.name.endsWith('.test.ts') && !ent.name.endsWith('.d.ts')) {
      out.push(relative(root, p).split(sep).join('/'));
    }
  }
  return out;
}

/** The room a file belongs to: core, cli, testing, lib/<name>, plugins/<kind>/<id>, driver/<name>. */
function roomOf(file: string): string {
  const parts = file.split('/');
  if (parts[0] === 'plugins') return parts.slice(0, 3).join('/');
  if (parts[0] === 'lib' || parts[0] === 'driver') return parts.slice(0, 2).join('/');
  return parts[0]!;
}

/** Whose codes a room may raise: its own, the core's, and (above the core) the libraries'. The CLI maps every code to an exit status. */
function mayUse(user: string, owner: string): boolean {
  if (user === owner || owner === 'core' || user === 'cli') return true;
  return owner.startsWith('lib/') && user !== 'core';
}

const files = ['core', 'cli', 'testing', 'lib', 'plugins', 'driver'].filter((d) => existsSync(join(root, d))).flatMap((d) => sources(join(root, d)));
const owner = new Map<string, string>();
for (const r of ERROR_CODE_ROOMS) for (const code of Object.keys(r.codes)) owner.set(code, r.room);

test('every room that declares error codes is listed, and no code has two owners', () => {
  const declaring = files.filter((f) => f !== 'core/errors/define.ts' && f !== 'core/errors/index.ts' && /\bdefineErrorCodes\(/.test(readFileSync(join(root, f), 'utf8')));
  assert.deepEqual(declaring.sort(), ERROR_CODE_ROOMS.map((r) => r.file).sort(), 'files calling defineErrorCodes vs test/support/error-code-rooms.ts');
  for (const r of ERROR_CODE_ROOMS) assert.equal(roomOf(r.file), r.room, `${r.file} is in room ${r.room}`);
  const all = ERROR_CODE_ROOMS.flatMap((r) => Object.keys(r.codes));
  assert.deepEqual(all.filter((c, i) => all.indexOf(c) !== i), [], 'codes declared by two rooms');
});

test('every error code used in the code is declared by its owner, and every declared code is used', () => {
  const used = new Set<string>();
  const problems: string[] = [];
  for (const f of files) {
    const user = roomOf(f);
    for (const [code] of readFileSync(join(root, f), 'utf8').matchAll(CODE)) {
      used.add(code);
      const o = owner.get(code);
      if (o === undefined) problems.push(`${f}: ${code} is declared by no room`);
      else if (!mayUse(user, o)) problems.push(`${f}: ${code} belongs to ${o}; ${user} declares its own codes or translates`);
    }
  }
  assert.deepEqual([...new Set(problems)].sort(), []);
  assert.deepEqual([...owner.keys()].filter((c) => !used.has(c)).sort(), [], 'declared codes nothing raises (drop them from their room)');
});

test('docs/error-codes.md lists every room\'s codes with their meanings, and only those', () => {
  const doc = readFileSync(join(root, 'docs', 'error-codes.md'), 'utf8');
  const documented = [...doc.matchAll(CODE)].map((m) => m[0]);
  assert.deepEqual([...new Set(documented)].filter((c) => !owner.has(c)).sort(), [], `codes documented but gone from the code; ${REGEN}`);
  assert.equal(doc, renderErrorCodesDoc(), `docs/error-codes.md is stale; ${REGEN}`);
});
