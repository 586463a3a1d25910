import { strict as assert } from 'node:assert';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import type { Detection } from '../../../../core/index.js';
import { plugin, JsonlResponder, type JsonlConfig } from '../index.js';
import { recordingContext, sampleDetection } from '../../../../testing/index.js';

const root = mkdtempSync(join(tmpdir(), 'vigil-jsonl-test-'));
after(() => rm(root, { recursive: true, force: true }));
let n = 0;
const freshDir = (): string => mkdtempSync(join(root, `case${n++}-`));

function make(config: Partial<JsonlConfig>, options: { logLevel?: 'warn' } = {}) {
  const ctx = recordingContext(plugin, { ...options, config: { path: 'unused.jsonl', max_file_bytes: 100 * 1024 * 1024, max_files: 5, ...config } });
  return { ctx, r: plugin.create(ctx.ctx) };
}

function readLines(file: string): unknown[] {
  const text = readFileSync(file, 'utf8');
  assert.ok(text === '' || text.endsWith('\n'), `${file} ends mid-line`);
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l, i) => {
      try {
        return JSON.parse(l) as unknown;
      } catch (err) {
        throw new Error(`${file}:${i + 1} is not a complete JSON line`, { cause: err });
      }
    });
}

const idOf = (v: unknown): string => String((v as { id?: unknown }).id);

test('manifest and schema', () => {
  assert.equal(plugin.manifest.id, 'jsonl');
  assert.deepEqual(plugin.manifest.consumes, ['detection']);
  const schema = plugin.manifest.configSchema as { additionalProperties: boolean; properties: Record<string, { default?: unknown }> };
  assert.equal(schema.additionalProperties, false);
  assert.equal(schema.properties['path']?.default, 'vigil-detections.jsonl');
  assert.equal(schema.properties['max_file_bytes']?.default, 100 * 1024 * 1024);
  assert.equal(schema.properties['max_files']?.default, 5);
});

test('create does no I/O and resolves a relative path through the core (ctx.resolvePath)', () => {
  const dir = join(freshDir(), 'not-yet');
  const { r } = make({ path: join(dir, 'out.jsonl') });
  assert.ok(r instanceof JsonlResponder);
  assert.equal(existsSync(dir), false);
  const ctx = recordingContext(plugin, { config: { path: 'rel/out.jsonl', max_file_bytes: 4096, max_files: 1 }, baseDir: '/config-dir' });
  const rel = new JsonlResponder(ctx.ctx);
  assert.equal(rel.path, resolve('/config-dir', 'rel/out.jsonl'));
});

test('writes one detection per line, everything is on disk when stop resolves', async () => {
  const file = join(freshDir(), 'sub', 'detections.jsonl');
  const { ctx, r } = make({ path: file });
  await r.start();
  const sent: Detection[] = [];
  for (let i = 0; i < 50; i++) {
    const batch = [sampleDetection({ id: `d${i}a` }), sampleDetection({ id: `d${i}b`, severity: 'low' })];
    sent.push(...batch);
    // Not awaited on purpose: stop() must still wait for every queued line.
    void r.onDetections?.(batch);
  }
  await r.stop();
  const lines = readLines(file);
  assert.equal(lines.length, 100);
  assert.deepEqual(lines, JSON.parse(JSON.stringify(sent)));
  assert.equal(ctx.counters.emitted, 100);
  assert.equal(ctx.counters.errorTotal, 0);
  await ctx.dispose();
});

test('rotation by size keeps max_files complete files, newest first', async () => {
  const file = join(freshDir(), 'det.jsonl');
  const { ctx, r } = make({ path: file, max_file_bytes: 4096, max_files: 2 });
  await r.start();
  const lineBytes = Buffer.byteLength(JSON.stringify(sampleDetection({ id: 'd00', cmdlinePad: 200 }))) + 1;
  for (let i = 0; i < 40; i++) await r.onDetections?.([sampleDetection({ id: `d${String(i).padStart(2, '0')}`, cmdlinePad: 200 })]);
  await r.stop();
  await ctx.dispose();

  const names = readdirSync(join(file, '..')).sort();
  assert.deepEqual(names, ['det.jsonl', 'det.jsonl.1', 'det.jsonl.2']);
  const current = readLines(file).map(idOf);
  const one = readLines(`${file}.1`).map(idOf);
  const two = readLines(`${file}.2`).map(idOf);
  for (const f of [file, `${file}.1`, `${file}.2`]) assert.ok(statSync(f).size <= 4096, `${f} is over max_file_bytes`);
  const perFile = Math.floor(4096 / lineBytes);
  assert.equal(one.length, perFile);
  assert.equal(two.length, perFile);
  // Oldest kept lines are in .2, then .1, then the current file, with no gap between them.
  const kept = [...two, ...one, ...current];
  const first = 40 - kept.length;
  assert.deepEqual(kept, Array.from({ length: kept.length }, (_, i) => `d${String(first + i).padStart(2, '0')}`));
  assert.ok((ctx.counters.snapshot().custom['rotations'] ?? 0) >= 2);
  assert.equal(ctx.counters.emitted, 40);
});

test('a restart appends to the existing file and counts its size for rotation', async () => {
  const file = join(freshDir(), 'det.jsonl');
  const lineBytes = Buffer.byteLength(JSON.stringify(sampleDetection({ id: 'r0-0' }))) + 1;
  // Room for two lines: the third one, written after the restart, must rotate.
  const max = Math.max(1024, Math.floor(lineBytes * 2.5));
  const runs = [['r0-0', 'r0-1'], ['r1-0']];
  for (const ids of runs) {
    const { ctx, r } = make({ path: file, max_file_bytes: max, max_files: 3 });
    await r.start();
    for (const id of ids) await r.onDetections?.([sampleDetection({ id })]);
    await r.stop();
    await ctx.dispose();
  }
  assert.deepEqual(readLines(`${file}.1`).map(idOf), ['r0-0', 'r0-1']);
  assert.deepEqual(readLines(file).map(idOf), ['r1-0']);
});

test('stop without start, stop twice, detections after stop are counted', async () => {
  const file = join(freshDir(), 'never.jsonl');
  const { ctx, r } = make({ path: file });
  await r.stop();
  await r.stop();
  await r.onDetections?.([sampleDetection()]);
  await ctx.dispose();
  assert.equal(existsSync(file), false);
  assert.deepEqual(ctx.counters.snapshot().discarded['plugin_not_running'], { count: 1, intended: false });

  const b = make({ path: join(freshDir(), 'b.jsonl') });
  await b.r.start();
  await b.r.stop();
  await b.r.stop();
  await b.ctx.dispose();
});

test('an output path that cannot be opened fails start with a message naming it', async () => {
  const dir = freshDir();
  const { ctx, r } = make({ path: dir });
  await assert.rejects(r.start(), (err: Error) => err.message.includes(dir) && /EISDIR|EPERM|EACCES/.test(err.message));
  await r.stop();
  await ctx.dispose();
});

test('a write error is counted, never thrown into the bus', { skip: !existsSync('/dev/full') && 'needs /dev/full (Linux)' }, async () => {
  const { ctx, r } = make({ path: '/dev/full', max_file_bytes: 4096 });
  await r.start();
  await r.onDetections?.([sampleDetection({ id: 'a' }), sampleDetection({ id: 'b' })]);
  await r.onDetections?.([sampleDetection({ id: 'c' })]);
  await r.flush?.();
  await r.stop();
  await ctx.dispose();
  const snap = ctx.counters.snapshot();
  assert.ok((snap.errors['send:write:ENOSPC'] ?? 0) >= 1, JSON.stringify(snap.errors));
  assert.equal(snap.discarded['write_error']?.count, 3);
  assert.equal(snap.emitted, 0);
});

test('bigint values in raw fields are written as strings', async () => {
  const file = join(freshDir(), 'big.jsonl');
  const { ctx, r } = make({ path: file });
  await r.start();
  const base = sampleDetection();
  const ev = base.evidence[0];
  assert.ok(ev);
  await r.onDetections?.([{ ...base, evidence: [{ ...ev, raw: { Handle: 2n ** 64n } }] }]);
  await r.stop();
  await ctx.dispose();
  const [line] = readLines(file);
  assert.equal((line as { evidence: Array<{ raw: { Handle: string } }> }).evidence[0]?.raw.Handle, '18446744073709551616');
});

test('the output and its rotations are 0600 in a new 0700 folder whatever the umask; files left 0644 are tightened and reported', async () => {
  const previous = process.umask(0o000);
  try {
    const modeOf = (p: string): number => statSync(p).mode & 0o777;
    const file = join(freshDir(), 'new-folder', 'det.jsonl');
    const { ctx, r } = make({ path: file, max_file_bytes: 2048, max_files: 2 });
    await r.start();
    for (let i = 0; i < 20; i++) await r.onDetections?.([sampleDetection({ id: `p${i}`, cmdlinePad: 200 })]);
    await r.stop();
    await ctx.dispose();
    assert.equal(modeOf(join(file, '..')), 0o700);
    for (const f of [file, `${file}.1`, `${file}.2`]) assert.equal(modeOf(f), 0o600, `${f} under umask 000`);

    // As an older version left them: every local user could read the detections.
    for (const f of [file, `${file}.1`, `${file}.2`]) chmodSync(f, 0o644);
    const before = readLines(file).length;
    const again = make({ path: file, max_file_bytes: 1 << 20, max_files: 2 }, { logLevel: 'warn' });
    await again.r.start();
    await again.r.onDetections?.([sampleDetection({ id: 'after' })]);
    await again.r.stop();
    await again.ctx.dispose();
    for (const f of [file, `${file}.1`, `${file}.2`]) assert.equal(modeOf(f), 0o600, `${f} tightened`);
    assert.deepEqual(
      again.ctx.logs.filter((l) => l.level === 40).map((l) => [l['path'], l['from'], l['to']]).sort(),
      [file, `${file}.1`, `${file}.2`].map((f) => [f, '0644', '0600']).sort(),
    );
    assert.equal(readLines(file).length, before + 1, 'the existing lines are kept');
  } finally {
    process.umask(previous);
  }
});
