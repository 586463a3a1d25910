import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, lstatSync, mkdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
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
  const server = new StatusServer(k, { socketPath, metricsFile, metricsIntervalMs: 50, prometheusPort: port, prometheusHost: '127.0.0.1', logger: silentLogger() });
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
    const second = new StatusServer(k, { socketPath, metricsIntervalMs: 50, prometheusPort: 0, prometheusHost: '127.0.0.1', logger: silentLogger() });
    await assert.rejects(second.start(), /VIGIL_ERR_STATUS_LISTEN|already serving/);
  } finally {
    await server.stop();
    await k.stop();
  }
  await assert.rejects(queryStatus(socketPath, 500), (err: Error & { code?: string }) => err.code === 'VIGIL_ERR_STATUS_UNAVAILABLE');
});

/** A socket left behind by an agent that was killed (nothing answers on it). */
function staleSocket(path: string): void {
  const r = spawnSync(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`]);
  assert.equal(r.signal, 'SIGKILL', r.stderr.toString());
  assert.ok(lstatSync(path).isSocket());
}

test('status socket path: a regular file, a folder, a link or a FIFO there is refused with a clear code and left intact', async (t) => {
  if (process.platform === 'win32') return t.skip('named pipes have no file at the path');
  const cfg = tempConfig({ plugins: {} });
  const k = new Kernel(cfg, { logger: silentLogger(), noBuiltins: true });
  const dir = cfg.dir;
  const victim = join(dir, 'precious.txt');
  writeFileSync(victim, 'keep me\n');
  const folder = join(dir, 'a-folder');
  mkdirSync(folder);
  writeFileSync(join(folder, 'inside'), 'x');
  const link = join(dir, 'link.sock');
  symlinkSync(victim, link);
  const cases: Array<[string, RegExp]> = [
    [victim, /is a regular file, not a socket; it was left as it is/],
    [folder, /is a folder, not a socket/],
    [link, /is a symbolic link, not a socket/],
  ];
  const fifo = join(dir, 'fifo');
  if (spawnSync('mkfifo', [fifo]).status === 0) cases.push([fifo, /is a FIFO, not a socket/]);
  for (const [path, message] of cases) {
    const server = new StatusServer(k, { socketPath: path, metricsIntervalMs: 50, prometheusPort: 0, prometheusHost: '127.0.0.1', logger: silentLogger() });
    await assert.rejects(server.start(), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'VIGIL_ERR_STATUS_SOCKET_PATH');
      assert.match(err.message, message);
      assert.ok(err.message.includes(path), 'the message names the path');
      return true;
    });
    await server.stop();
  }
  assert.equal(readFileSync(victim, 'utf8'), 'keep me\n', 'the file is not deleted');
  assert.equal(readFileSync(join(folder, 'inside'), 'utf8'), 'x');
  assert.equal(readlinkSync(link), victim);
  if (cases.length === 4) assert.ok(lstatSync(fifo).isFIFO());
});

test('status socket: a stale socket of the agent user is replaced; the new one is 0600 whatever the umask; a stale socket of another user is refused', async (t) => {
  if (process.platform === 'win32') return t.skip('unix sockets only');
  const cfg = tempConfig({ plugins: {} });
  const k = new Kernel(cfg, { logger: silentLogger(), noBuiltins: true });
  const shared = join(cfg.dir, 'shared');
  mkdirSync(shared);
  chmodSync(shared, 0o777);
  const socketPath = join(shared, 'vigil.sock');
  const metricsFile = join(cfg.dir, 'metrics', 'status.json');
  staleSocket(socketPath);
  // A metrics temp file left 0644 by an older version must not carry its mode over.
  mkdirSync(join(cfg.dir, 'metrics'));
  writeFileSync(metricsFile + '.tmp', '{}', { mode: 0o644 });
  chmodSync(metricsFile + '.tmp', 0o644);
  const previous = process.umask(0o000);
  const server = new StatusServer(k, { socketPath, metricsFile, metricsIntervalMs: 50, prometheusPort: 0, prometheusHost: '127.0.0.1', logger: silentLogger() });
  try {
    await server.start();
  } finally {
    process.umask(previous);
  }
  try {
    assert.equal(statSync(socketPath).mode & 0o777, 0o600, 'private even in a folder everyone can enter');
    assert.equal(statSync(metricsFile).mode & 0o777, 0o600);
    assert.equal(statSync(shared).mode & 0o777, 0o777, 'a folder that exists is not the agent\'s to change');
    const st = (await queryStatus(socketPath)) as { pid: number };
    assert.equal(st.pid, process.pid);
  } finally {
    await server.stop();
  }
  assert.equal(lstatSync(socketPath, { throwIfNoEntry: false }), undefined, 'stop removes the socket');
  assert.equal(statSync(metricsFile).mode & 0o777, 0o600);

  if (process.geteuid?.() !== 0) return t.skip('a socket of another user needs root to set up');
  staleSocket(socketPath);
  chownSync(socketPath, 65534, 65534);
  const other = new StatusServer(k, { socketPath, metricsIntervalMs: 50, prometheusPort: 0, prometheusHost: '127.0.0.1', logger: silentLogger() });
  await assert.rejects(other.start(), (err: Error & { code?: string }) => err.code === 'VIGIL_ERR_STATUS_SOCKET_PATH' && /socket of uid 65534/.test(err.message));
  assert.ok(lstatSync(socketPath).isSocket(), 'left as it is');
});
