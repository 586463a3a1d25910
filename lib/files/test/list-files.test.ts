import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listFiles } from '../index.js';

/** A folder tree from `{ 'a/b.json': 'text' }`; returns its root. */
function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'vigil-list-'));
  for (const [rel, text] of Object.entries(files)) {
    const p = join(root, rel);
    mkdirSync(join(p, '..'), { recursive: true });
    writeFileSync(p, text);
  }
  return root;
}

const noProblem = (given: string, path: string, err: Error): never => assert.fail(`unexpected unreadable ${given} → ${path}: ${err.message}`);

test('folders are walked recursively in name order; the filter sees names case-insensitively', async (t) => {
  const root = tree({ 'b.json': '', 'a/z.JSON': '', 'a/y.txt': '', 'a-c/x.json': '', 'c/d/e.json': '' });
  t.after(() => rmSync(root, { recursive: true }));
  const rel = (files: string[]): string[] => files.map((f) => f.slice(root.length + 1));
  assert.deepEqual(rel(await listFiles([root], '.json', noProblem)), ['a/z.JSON', 'a-c/x.json', 'b.json', 'c/d/e.json']);
  assert.deepEqual(rel(await listFiles([root], ['.txt', '.JSON'], noProblem)), ['a/y.txt', 'a/z.JSON', 'a-c/x.json', 'b.json', 'c/d/e.json']);
  assert.deepEqual(rel(await listFiles([root], (name) => name.startsWith('e'), noProblem)), ['c/d/e.json']);
  const excluded: string[] = [];
  await listFiles([root], '.txt', noProblem, { excluded: (p) => excluded.push(p) });
  assert.deepEqual(rel(excluded), ['a/z.JSON', 'a-c/x.json', 'b.json', 'c/d/e.json']);
});

test('a file given is listed whatever its name, resolved, and a file named twice once', async (t) => {
  const root = tree({ 'notes.txt': '', 'r/a.json': '' });
  t.after(() => rmSync(root, { recursive: true }));
  const files = await listFiles([join(root, 'notes.txt'), join(root, 'r'), join(root, 'r', 'a.json'), join(root, 'r', '..', 'notes.txt')], '.json', noProblem);
  assert.deepEqual(files, [join(root, 'notes.txt'), join(root, 'r', 'a.json')]);
});

test('an unreadable path is reported with the path given and skipped; the others are still listed', async (t) => {
  const root = tree({ 'ok/a.json': '', 'ok/b.json': '' });
  t.after(() => rmSync(root, { recursive: true }));
  symlinkSync(join(root, 'gone.json'), join(root, 'ok', 'dangling.json'));
  const seen: { given: string; path: string; code: string | undefined }[] = [];
  const files = await listFiles([join(root, 'missing'), join(root, 'ok')], '.json', (given, path, err) => seen.push({ given, path, code: err.code }));
  assert.deepEqual(files, [join(root, 'ok', 'a.json'), join(root, 'ok', 'b.json')]);
  assert.deepEqual(seen, [
    { given: join(root, 'missing'), path: join(root, 'missing'), code: 'ENOENT' },
    { given: join(root, 'ok'), path: join(root, 'ok', 'dangling.json'), code: 'ENOENT' },
  ]);
  await assert.rejects(listFiles([join(root, 'ok'), join(root, 'missing')], '.json'), { code: 'ENOENT' }, 'without a callback the first unreadable path rejects');
});

test('links are followed, and a link back up the tree is walked once', async (t) => {
  const root = tree({ 'pack/a.json': '', 'elsewhere/b.json': '' });
  t.after(() => rmSync(root, { recursive: true }));
  symlinkSync(join(root, 'elsewhere'), join(root, 'pack', 'linked'));
  symlinkSync(join(root, 'elsewhere', 'b.json'), join(root, 'pack', 'c.json'));
  symlinkSync(root, join(root, 'elsewhere', 'loop'));
  const files = await listFiles([join(root, 'pack')], '.json', noProblem);
  // linked/loop leads to the root, whose folders were all walked already (or are being walked).
  assert.deepEqual(files, [join(root, 'pack', 'a.json'), join(root, 'pack', 'c.json'), join(root, 'pack', 'linked', 'b.json')]);
});

test('an abort ends the listing with the signal reason', async (t) => {
  const root = tree({ 'a.json': '', 'b.json': '' });
  t.after(() => rmSync(root, { recursive: true }));
  const stop = new AbortController();
  const reason = new Error('stopping');
  let calls = 0;
  const filter = (): boolean => {
    if (++calls === 1) stop.abort(reason);
    return true;
  };
  await assert.rejects(listFiles([root], filter, noProblem, { signal: stop.signal }), (err) => err === reason);
  assert.equal(calls, 1, 'no entry is looked at after the abort');
  await assert.rejects(listFiles([root], '.json', noProblem, { signal: AbortSignal.abort(reason) }), (err) => err === reason);
});
