/**
 * procfs as the last fallback: `fallback_for` takes one source or a list, and stands by for
 * the first that can run here, naming it; for a source that cannot, it polls and says why.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { recordingContext } from '../../../../testing/index.js';
import { runChildScript } from '../../../../test/support/child-script.js';
import { fallbackList } from '../config.js';
import { plugin } from '../index.js';

test('fallback_for: one name, a list, or empty; anything else is refused', () => {
  assert.deepEqual(fallbackList(''), []);
  assert.deepEqual(fallbackList('ebpf'), ['ebpf']);
  assert.deepEqual(fallbackList(['ebpf', 'proc-connector', 'ebpf']), ['ebpf', 'proc-connector']);
  assert.doesNotThrow(() => recordingContext(plugin, { config: { fallback_for: ['ebpf', 'proc-connector'] } }));
  assert.doesNotThrow(() => recordingContext(plugin, { config: { fallback_for: 'proc-connector' } }));
  assert.throws(() => recordingContext(plugin, { config: { fallback_for: ['fanotify'] } }), { code: 'VIGIL_ERR_PLUGIN_CONFIG' });
  assert.throws(() => recordingContext(plugin, { config: { fallback_for: 'kprobe' } }), { code: 'VIGIL_ERR_PLUGIN_CONFIG' });
});

const rootSkip = process.platform !== 'linux' ? 'Linux only' : process.getuid?.() !== 0 ? 'the proc connector needs root: run the tests as root' : undefined;

test('as root, fallback_for: proc-connector stands by for the connector and names it', { skip: rootSkip }, async () => {
  const f = recordingContext(plugin, { config: { fallback_for: ['proc-connector'], emit_existing: true }, logLevel: 'info' });
  const sensor = plugin.create(f.ctx);
  try {
    await sensor.start();
    const c = f.counters.snapshot().custom;
    assert.equal(c['standby'], 1);
    assert.equal(c['standby_for:proc-connector'], 1);
    assert.equal(c['polls'], undefined, 'no scan while standing by');
    assert.equal(f.emitted.length, 0);
    assert.ok(f.logs.some((l) => /procfs: standing by: the proc-connector sensor can run here/.test(l.msg)));
  } finally {
    await sensor.stop();
    await f.dispose();
  }
});

const unshareSkip = rootSkip ?? (spawnSync('unshare', ['--pid', '--fork', 'true']).status === 0 ? undefined : 'unshare --pid --fork does not work here');

test('in another pid namespace the connector is deaf: procfs polls and says why', { skip: unshareSkip }, async () => {
  const r = runChildScript(
    `import { recordingContext } from {{testing}};
import { plugin } from {{plugin}};
const f = recordingContext(plugin, { config: { fallback_for: 'proc-connector', emit_existing: false }, logLevel: 'warn' });
const s = plugin.create(f.ctx);
await s.start();
console.log(JSON.stringify({ custom: f.counters.snapshot().custom, logs: f.logs.map((l) => l.msg) }));
await s.stop();
await f.dispose();`,
    { modules: { testing: new URL('../../../../testing/index.js', import.meta.url), plugin: new URL('../index.js', import.meta.url) }, wrap: ['unshare', '--pid', '--fork', '--mount-proc'] },
  );
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').pop() as string) as { custom: Record<string, number>; logs: string[] };
  assert.equal(out.custom['standby'], 0);
  assert.equal(out.custom['fallback_reason:proc-connector:deaf'], 1);
  assert.ok((out.custom['polls'] ?? 0) >= 1, 'it polls');
  assert.ok(out.logs.some((l) => /procfs: polling \/proc as the fallback for proc-connector, which cannot run here: proc-connector: the proc connector delivered no event/.test(l)), JSON.stringify(out.logs));
});
