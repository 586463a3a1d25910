import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Kernel } from '../../kernel/kernel.js';
import { StatusServer, queryStatus } from '../status-server.js';
import { silentLogger } from '../logger.js';
import { tempConfig } from '../../../test/support/config.js';
import { processStarts, recordingAnalyzer, ref, scriptedSensor } from '../../../test/support/fake-plugins.js';

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
