/**
 * Data stays private: what the agent creates is 0700 / 0600 whatever the umask it was
 * started with, and what it finds open to other users is tightened and reported once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, closeSync, mkdirSync, readFileSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Kernel } from '../kernel/kernel.js';
import type { ResponderPlugin } from '../index.js';
import { applyPrivateUmask, ensurePrivateDir, ensurePrivateFile, openPrivateFile, openPrivateFileSync, tightenPrivate } from '../private-files.js';
import { captureLogger } from '../../test/support/capture-logger.js';
import { tempConfig, tempDir } from '../../test/support/config.js';
import { ref } from '../../test/support/fake-plugins.js';

const modeOf = (p: string): number => statSync(p).mode & 0o7777;

/** Runs `fn` with the process umask set to `mask`, then puts the previous one back. */
async function withUmask<T>(mask: number, fn: () => T | Promise<T>): Promise<T> {
  const previous = process.umask(mask);
  try {
    return await fn();
  } finally {
    process.umask(previous);
  }
}

function currentUmask(): number {
  const m = process.umask(0o077);
  process.umask(m);
  return m;
}

test('the kernel sets the umask to 077 at load (logged once per process), keeping bits the caller masks already', async () => {
  await withUmask(0o022, async () => {
    const cap = captureLogger();
    const k = new Kernel(tempConfig({ plugins: {} }), { logger: cap.logger, noBuiltins: true });
    await k.load();
    assert.equal(currentUmask(), 0o077);
    const set = cap.lines.filter((l) => l.msg.startsWith('umask set'));
    assert.equal(set.length, 1);
    assert.equal(set[0]!['umask'], '0077');
    assert.equal(set[0]!['previous'], '0022');
    await k.stop();

    process.umask(0o022);
    const again = captureLogger();
    const k2 = new Kernel(tempConfig({ plugins: {} }), { logger: again.logger, noBuiltins: true });
    await k2.load();
    assert.equal(currentUmask(), 0o077, 'every kernel sets it');
    assert.equal(again.lines.filter((l) => l.msg.startsWith('umask set')).length, 0, 'logged once per process');
    await k2.stop();

    process.umask(0o277);
    applyPrivateUmask(again.logger);
    assert.equal(currentUmask(), 0o277, 'a stricter umask stays');
  });
});

test('new folders are 0700 and new files 0600 whatever the umask (even 000 or 277), and nothing is reported', async () => {
  for (const mask of [0o000, 0o022, 0o277]) {
    await withUmask(mask, async () => {
      const cap = captureLogger();
      const dir = tempDir();
      const deep = join(dir, 'a', 'b', 'c');
      assert.equal(ensurePrivateDir(deep, cap.logger), deep);
      for (const d of [join(dir, 'a'), join(dir, 'a', 'b'), deep]) assert.equal(modeOf(d), 0o700, `${d} under umask ${mask.toString(8)}`);

      const viaSync = join(dir, 'new', 'out.jsonl');
      const fd = openPrivateFileSync(viaSync, 'w', cap.logger);
      writeSync(fd, 'line\n');
      closeSync(fd);
      assert.equal(modeOf(join(dir, 'new')), 0o700);
      assert.equal(modeOf(viaSync), 0o600);

      const viaAsync = join(dir, 'other', 'state.json');
      const h = await openPrivateFile(viaAsync, 'a', cap.logger);
      await h.write('{}\n');
      await h.close();
      assert.equal(modeOf(join(dir, 'other')), 0o700);
      assert.equal(modeOf(viaAsync), 0o600);

      const empty = ensurePrivateFile(join(dir, 'alerts.db'), cap.logger);
      assert.equal(modeOf(empty), 0o600);
      assert.equal(statSync(empty).size, 0);
      assert.deepEqual(cap.warnings(), []);
    });
  }
});

test('existing paths open to others are tightened with their content kept, reported once per path; a shared parent folder is left alone', async () => {
  await withUmask(0o022, async () => {
    const cap = captureLogger();
    const shared = tempDir();
    chmodSync(shared, 0o755);
    const file = join(shared, 'detections.jsonl');
    writeFileSync(file, 'old line\n', { mode: 0o644 });
    chmodSync(file, 0o644);

    const fd = openPrivateFileSync(file, 'a', cap.logger);
    writeSync(fd, 'new line\n');
    closeSync(fd);
    assert.equal(modeOf(file), 0o600);
    assert.equal(readFileSync(file, 'utf8'), 'old line\nnew line\n', "appending keeps what was there");
    assert.equal(modeOf(shared), 0o755, 'the folder of a data file may be shared (/var/log): not ours to change');
    const w = cap.warnings();
    assert.equal(w.length, 1);
    assert.equal(w[0]!['path'], file);
    assert.equal(w[0]!['from'], '0644');
    assert.equal(w[0]!['to'], '0600');

    chmodSync(file, 0o666);
    const h = await openPrivateFile(file, 'a', cap.logger);
    await h.close();
    assert.equal(modeOf(file), 0o600, 'tightened again');
    assert.equal(cap.warnings().length, 1, 'but reported once per path');

    const dataDir = join(shared, 'var');
    mkdirSync(dataDir);
    chmodSync(dataDir, 0o755);
    ensurePrivateDir(dataDir, cap.logger);
    assert.equal(modeOf(dataDir), 0o700);
    assert.equal(cap.warnings().at(-1)?.['path'], dataDir);
    assert.equal(cap.warnings().at(-1)?.['from'], '0755');

    const rotated = join(shared, 'detections.jsonl.1');
    writeFileSync(rotated, 'x\n');
    chmodSync(rotated, 0o640);
    assert.equal(tightenPrivate(rotated, cap.logger), true);
    assert.equal(modeOf(rotated), 0o600, 'group bits count too');
    assert.equal(tightenPrivate(join(shared, 'absent'), cap.logger), false);
    assert.equal(cap.warnings().length, 3);
  });
});

test('a FIFO (a pipe to a collector) is left as it is', { skip: spawnSync('mkfifo', ['--version']).status !== 0 && 'needs mkfifo' }, () => {
  const cap = captureLogger();
  const dir = tempDir();
  const fifo = join(dir, 'pipe');
  assert.equal(spawnSync('mkfifo', ['-m', '0666', fifo]).status, 0);
  chmodSync(fifo, 0o666);
  assert.equal(tightenPrivate(fifo, cap.logger), true);
  assert.equal(modeOf(fifo), 0o666);
  assert.deepEqual(cap.warnings(), []);
});

test("the kernel's data dir is created 0700 or tightened at start; plugin data dirs and their files are private", async () => {
  await withUmask(0o022, async () => {
    const cap = captureLogger();
    const dir = tempDir();
    const dataDir = join(dir, 'var');
    mkdirSync(dataDir);
    chmodSync(dataDir, 0o755);
    let journal = '';
    const journaling: ResponderPlugin = {
      manifest: {
        id: 'journaling',
        kind: 'responder',
        apiVersion: '2.0.0',
        version: '1.0.0',
        description: 'keeps a journal in its data dir',
        platforms: ['any'],
        produces: [],
        consumes: [],
        configSchema: { type: 'object' },
      },
      create(ctx) {
        return {
          async start() {
            journal = join(ctx.dataDir, 'journal.log');
            const h = await ctx.files.open(journal, 'a');
            ctx.defer(() => h.close());
            await h.write('started\n');
          },
          async stop() {},
        };
      },
    };
    const k = new Kernel(tempConfig({ agent: { data_dir: dataDir }, plugins: { journaling: {} } }, dir), {
      logger: cap.logger,
      noBuiltins: true,
      extraPlugins: [ref(journaling)],
    });
    // Whatever the embedding program's umask, the kernel's own is in force once it loads.
    process.umask(0o000);
    await k.start();
    try {
      assert.equal(modeOf(dataDir), 0o700);
      assert.ok(cap.warnings().some((l) => l['path'] === dataDir && l['from'] === '0755'), 'the tightened data dir is logged');
      assert.equal(modeOf(join(dataDir, 'plugins')), 0o700);
      assert.equal(modeOf(join(dataDir, 'plugins', 'journaling')), 0o700);
      assert.equal(modeOf(journal), 0o600);
      // A file a plugin creates its own way still gets the kernel's umask.
      const raw = join(dataDir, 'plugins', 'journaling', 'raw.txt');
      writeFileSync(raw, 'x');
      assert.equal(modeOf(raw), 0o600);
    } finally {
      await k.stop();
    }

    const fresh = join(tempDir(), 'state', 'var');
    const k2 = new Kernel(tempConfig({ agent: { data_dir: fresh }, plugins: {} }), { logger: cap.logger, noBuiltins: true });
    await k2.start();
    await k2.stop();
    assert.equal(modeOf(fresh), 0o700);
    assert.equal(modeOf(join(fresh, '..')), 0o700, 'missing parents too');
  });
});
