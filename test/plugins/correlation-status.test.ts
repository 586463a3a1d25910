/** The correlation plugin run by the real kernel: its state memory shows in `vigil status` under the plugin. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kernel } from '../../core/kernel/kernel.js';
import { silentLogger } from '../../core/telemetry/logger.js';
import { tempConfig } from '../support/config.js';
import { ref, scriptedSensor } from '../support/fake-plugins.js';
import { plugin as correlation } from '../../plugins/analyzers/correlation/index.js';

test('status: the correlation state\'s memory shows as the plugin\'s gauges; the agent itself reports no memory blocks', async () => {
  const cfg = tempConfig({ plugins: { s: {}, correlation: { config: { rule_paths: ['rules'] } } } });
  mkdirSync(join(cfg.dir, 'rules'));
  writeFileSync(
    join(cfg.dir, 'rules', 'burst.json'),
    JSON.stringify({ id: 'test.burst', title: 'failures', severity: 'medium', kind: 'count', event: ['logon.failure'], group_by: ['user.target_name'], timespan: '1m', condition: { gte: 3 } }),
  );
  const failures = function* () {
    for (let i = 0; i < 20_000; i++) yield { type: 'logon.failure', time: 1_700_000_000_000 + i, user: { target_name: `u${i}` } };
  };
  const k = new Kernel(cfg, {
    logger: silentLogger(),
    noBuiltins: true,
    extraPlugins: [ref(scriptedSensor('s', failures, { produces: ['logon.failure'] })), ref(correlation)],
  });
  await k.start();
  await k.whenSourcesFinished();
  try {
    const st = k.status();
    assert.equal('memory_blocks' in st, false);
    assert.equal('native_heap' in st, false);
    const c = st.plugins.find((p) => p.id === 'correlation')?.counters;
    assert.equal(c?.received, 20_000);
    const g = c?.custom ?? {};
    assert.equal(g['live_keys'], 20_000);
    assert.ok((g['memory_blocks_taken'] ?? 0) >= 2, `blocks taken: ${g['memory_blocks_taken']}`);
    assert.equal(g['memory_blocks_worker'], 1, 'prefault_memory (default true): the helper thread runs');
    const glibc = process.platform === 'linux' && (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header?.glibcVersionRuntime !== undefined;
    assert.equal(g['native_heap_mmap_threshold_bytes'], glibc ? 512 * 1024 : 0);
  } finally {
    await k.stop();
  }
  const after = k.status().plugins.find((p) => p.id === 'correlation')?.counters.custom ?? {};
  assert.equal(after['memory_blocks_worker'], 0, 'the plugin gave its pool up when it stopped');
});
