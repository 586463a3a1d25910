import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Kernel } from '../../core/kernel/kernel.js';
import { StatusServer, queryStatus } from '../../core/telemetry/status-server.js';
import { silentLogger } from '../../core/telemetry/logger.js';
import { tempConfig } from '../support/config.js';
import { processStarts, recordingAnalyzer, ref, scriptedSensor } from '../support/fake-plugins.js';
import { plugin as correlation } from '../../plugins/analyzers/correlation/index.js';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('status: the socket (mode 0600), the metrics file and the Prometheus endpoint report the same counters', async () => {
  const cfg = tempConfig({ plugins: { s: {}, a: {} } });
  const k = new Kernel(cfg, {
    logger: silentLogger(),
    noBuiltins: true,
    extraPlugins: [ref(scriptedSensor('s', () => processStarts(25))), ref(recordingAnalyzer('a', { events: [], detections: [] }))],
  });
  await k.start();
  await k.whenSourcesFinished();
  const port = await freePort();
  const socketPath = join(cfg.dir, 'var', 'vigil.sock');
  const metricsFile = join(cfg.dir, 'var', 'metrics.json');
  const server = new StatusServer(k, { socketPath, metricsFile, metricsIntervalMs: 50, prometheusPort: port, prometheusHost: '127.0.0.1' });
  await server.start();
  try {
    assert.equal(statSync(socketPath).mode & 0o777, 0o600, 'only the agent user may read the socket');
    const st = (await queryStatus(socketPath)) as { events: { total: number }; plugins: Array<{ id: string; counters: { received: number } }> };
    assert.equal(st.events.total, 25);
    assert.equal(st.plugins.find((p) => p.id === 'a')?.counters.received, 25);

    const metrics = JSON.parse(readFileSync(metricsFile, 'utf8')) as { events: { total: number } };
    assert.equal(metrics.events.total, 25);

    const prom = await get(port, '/metrics');
    assert.equal(prom.status, 200);
    assert.match(prom.body, /^vigil_events_total\{type="process.start"\} 25$/m);
    assert.match(prom.body, /^vigil_plugin_received_total\{plugin="a",kind="analyzer"\} 25$/m);
    assert.match(prom.body, /^vigil_plugin_up\{plugin="s",state="running"\} 1$/m);
    assert.equal((await get(port, '/other')).status, 404);

    // A second agent on the same socket is refused while the first one answers.
    const second = new StatusServer(k, { socketPath, metricsIntervalMs: 50, prometheusPort: 0, prometheusHost: '127.0.0.1' });
    await assert.rejects(second.start(), /VIGIL_ERR_STATUS_LISTEN|already serving/);
  } finally {
    await server.stop();
    await k.stop();
  }
  await assert.rejects(queryStatus(socketPath, 500), (err: Error & { code?: string }) => err.code === 'VIGIL_ERR_STATUS_UNAVAILABLE');
});

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
