import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kernel } from '../kernel.js';
import { silentLogger } from '../../telemetry/logger.js';
import { tempConfig } from '../../../test/support/config.js';
import { processStarts, recordingAnalyzer, recordingResponder, ref, scriptedSensor, type Collected } from '../../../test/support/fake-plugins.js';

const collected = (): Collected & { actions: string[]; results: string[] } => ({ events: [], detections: [], actions: [], results: [] });

test('boots responders, analyzers, sensors in that order and stops in reverse', async () => {
  const log: string[] = [];
  const sink = collected();
  const cfg = tempConfig({ plugins: { s: {}, a: {}, r: {} } });
  const k = new Kernel(cfg, {
    logger: silentLogger(),
    noBuiltins: true,
    extraPlugins: [ref(scriptedSensor('s', () => processStarts(10), { log })), ref(recordingAnalyzer('a', sink, { log })), ref(recordingResponder('r', sink, log))],
  });
  await k.start();
  await k.whenSourcesFinished();
  await k.stop();
  assert.deepEqual(log, ['start:r', 'start:a', 'start:s', 'stop:s', 'stop:a', 'stop:r']);
  assert.equal(sink.events.length, 10);
});

test('the state memory keys left workers for the correlation plugin: workers.prefault_memory / return_freed_memory are refused, naming the key', () => {
  for (const key of ['prefault_memory', 'return_freed_memory']) {
    assert.throws(
      () => tempConfig({ workers: { [key]: true }, plugins: {} }),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'VIGIL_ERR_CONFIG_INVALID');
        assert.match(err.message, new RegExp(`vigil\\.yaml:\\d+ at /workers/${key}: expected one of the keys: max_queue_tasks, max_threads, task_timeout_seconds; found unknown key "${key}"`));
        return true;
      },
    );
  }
});

test('replay delivery never loses an event even with tiny queues and a slow analyzer', async () => {
  const sink = collected();
  const cfg = tempConfig({ agent: { max_queue_events: 16, batch_events: 4 }, plugins: { s: {}, a: {} } });
  const k = new Kernel(cfg, {
    logger: silentLogger(),
    noBuiltins: true,
    extraPlugins: [ref(scriptedSensor('s', () => processStarts(500))), ref(recordingAnalyzer('a', sink, { slowMs: 1 }))],
  });
  await k.start();
  await k.whenSourcesFinished();
  await k.stop();
  assert.equal(sink.events.length, 500);
  assert.deepEqual(sink.events.map((e) => e.seq), Array.from({ length: 500 }, (_, i) => i + 1));
  const a = k.status().plugins.find((p) => p.id === 'a')!;
  assert.deepEqual(a.counters.discarded, {});
});

test('live delivery drops and counts when a queue is full', async () => {
  const sink = collected();
  const cfg = tempConfig({ agent: { max_queue_events: 16, batch_events: 4 }, plugins: { s: {}, a: {} } });
  const k = new Kernel(cfg, {
    logger: silentLogger(),
    noBuiltins: true,
    extraPlugins: [ref(scriptedSensor('s', () => processStarts(1000), { delivery: 'live' })), ref(recordingAnalyzer('a', sink, { slowMs: 1 }))],
  });
  await k.start();
  await new Promise((r) => setTimeout(r, 200));
  await k.stop();
  const a = k.status().plugins.find((p) => p.id === 'a')!;
  const dropped = a.counters.discarded['queue_full']?.count ?? 0;
  assert.ok(dropped > 0, 'some events were dropped');
  assert.equal(sink.events.length + dropped, 1000, 'every event is either delivered or counted as dropped');
});

test('a plugin that throws on every event is restarted, then detached; the others keep going', async () => {
  const good = collected();
  const bad = collected();
  const cfg = tempConfig({
    agent: { batch_events: 1, max_restarts: 2, restart_backoff_ms: 5, max_errors_before_restart: 3 },
    health: { check_interval_seconds: 0.05 },
    plugins: { s: {}, good: {}, bad: {}, r: {} },
  });
  const sink = collected();
  const k = new Kernel(cfg, {
    logger: silentLogger(),
    noBuiltins: true,
    extraPlugins: [
      ref(scriptedSensor('s', () => processStarts(1000), { pauseEvery: 5 })),
      ref(recordingAnalyzer('good', good)),
      ref(recordingAnalyzer('bad', bad, { throwEvery: true })),
      ref(recordingResponder('r', sink)),
    ],
  });
  await k.start();
  await k.whenSourcesFinished();
  // Let the restarts with backoff play out.
  for (let i = 0; i < 100 && k.status().plugins.find((p) => p.id === 'bad')!.state !== 'detached'; i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  await new Promise((r) => setTimeout(r, 120));
  const st = k.status();
  await k.stop();
  assert.equal(good.events.length, 1000, 'the healthy analyzer saw every event');
  const b = st.plugins.find((p) => p.id === 'bad')!;
  assert.equal(b.state, 'detached');
  assert.equal(b.restarts, 2);
  const errors = Object.values(b.counters.errors).reduce((x, y) => x + y, 0);
  assert.ok(errors >= 9, `errors counted (${errors})`);
  assert.match(b.lastError ?? '', /fails on every batch/);
  const lost = Object.entries(b.counters.discarded).reduce((n, [, d]) => n + d.count, 0);
  assert.ok(lost > 0, 'events not handled by the detached plugin are counted');
  assert.ok(sink.detections.some((d) => d.rule.source === 'health' && /bad was detached/.test(d.summary ?? '')), 'a health detection is raised');
});

test('a plugin for another platform is skipped with the reason; an undeclared type is refused', async () => {
  const sink = collected();
  const cfg = tempConfig({ plugins: { winonly: {}, s: {}, a: {} } });
  const k = new Kernel(cfg, {
    logger: silentLogger(),
    noBuiltins: true,
    platform: 'linux',
    extraPlugins: [
      ref(scriptedSensor('winonly', () => processStarts(1), { platforms: ['win32'] })),
      ref(scriptedSensor('s', () => [{ type: 'dns.query', time: 1 }], { produces: ['process.start'] })),
      ref(recordingAnalyzer('a', sink)),
    ],
  });
  await k.start();
  await k.whenSourcesFinished();
  await k.stop();
  const st = k.status();
  assert.match(st.skipped.find((s) => s.id === 'winonly')?.reason ?? '', /built for win32, this is linux/);
  const s = st.plugins.find((p) => p.id === 's')!;
  assert.ok((s.counters.errors['send:VIGIL_ERR_PLUGIN_UNDECLARED_TYPE'] ?? 0) >= 1);
  assert.match(s.lastError ?? '', /emitted "dns.query", which its manifest does not declare/);
  assert.equal(sink.events.length, 0);
});

test('detections reach responders, requested actions are performed, results come back', async () => {
  const sink = collected();
  const seen = collected();
  // Enforce, on old fixture events, at pids no kernel hands out (above pid_max), so the live checks find nothing.
  const cfg = tempConfig({ response: { mode: 'enforce', cooldown_seconds: 0, max_event_age_seconds: 0 }, plugins: { s: {}, a: {}, r: {} } });
  const k = new Kernel(cfg, {
    logger: silentLogger(),
    noBuiltins: true,
    extraPlugins: [
      ref(scriptedSensor('s', () => [...processStarts(20)].map((d) => ({ ...d, proc: { ...d.proc, pid: 4_200_000 + (d.proc?.pid ?? 0) } })), { delivery: 'live' })),
      ref(recordingAnalyzer('a', seen, { detectOn: (e) => e.proc?.image?.endsWith('p3.exe') === true })),
      ref(recordingResponder('r', sink)),
    ],
  });
  await k.start();
  await k.whenSourcesFinished();
  await k.stop();
  assert.equal(sink.detections.length, 3);
  assert.ok(Object.isFrozen(sink.detections[0]) && Object.isFrozen(sink.detections[0]!.evidence[0]));
  assert.equal(sink.actions.length, 3);
  assert.deepEqual(sink.results, ['kill:done', 'kill:done', 'kill:done']);
});

test('monitor mode (the default) performs nothing and says what would have happened', async () => {
  const sink = collected();
  const cfg = tempConfig({ response: { max_event_age_seconds: 0 }, plugins: { s: {}, a: {}, r: {} } });
  const k = new Kernel(cfg, {
    logger: silentLogger(),
    noBuiltins: true,
    extraPlugins: [
      ref(scriptedSensor('s', () => processStarts(3), { delivery: 'live' })),
      ref(recordingAnalyzer('a', collected(), { detectOn: () => true })),
      ref(recordingResponder('r', sink)),
    ],
  });
  await k.start();
  await k.whenSourcesFinished();
  await k.stop();
  assert.equal(sink.actions.length, 0);
  assert.equal(sink.results.length, 3);
  for (const r of sink.results) assert.match(r, /^kill:skipped:would have: kill pid \d+ \(C:\\Windows\\System32\\p\d\.exe\) \(monitor mode\)$/);
});

test('a wrong key in a plugin block is refused with file, path and allowed keys', async () => {
  const cfg = tempConfig({ plugins: { a: { config: { colour: 1 } } } });
  const strict = recordingAnalyzer('a', collected());
  const plugin = { ...strict, manifest: { ...strict.manifest, configSchema: { type: 'object', additionalProperties: false, properties: { color: { type: 'string' } } } } };
  const k = new Kernel(cfg, { logger: silentLogger(), noBuiltins: true, extraPlugins: [ref(plugin)] });
  await assert.rejects(k.load(), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'VIGIL_ERR_CONFIG_INVALID');
    assert.match(err.message, /vigil\.yaml:\d+ at \/plugins\/a\/config\/colour: expected one of the keys: color; found unknown key "colour"/);
    return true;
  });
  await k.stop();
});

test('enrichment fills process fields from the process table and is pid-reuse safe', async () => {
  const sink = collected();
  const cfg = tempConfig({ plugins: { s: {}, a: {} } });
  const k = new Kernel(cfg, {
    logger: silentLogger(),
    noBuiltins: true,
    extraPlugins: [
      ref(
        scriptedSensor('s', () => [
          { type: 'process.start', time: 1000, proc: { pid: 42, start_time: 1000, image: '/usr/bin/first', cmdline: 'first' } },
          { type: 'net.connect', time: 1500, proc: { pid: 42 }, net: { dst_ip: '10.0.0.1' } },
          { type: 'process.start', time: 2000, proc: { pid: 42, start_time: 2000, image: '/usr/bin/second' } },
          { type: 'net.connect', time: 2500, proc: { pid: 42 }, net: { dst_ip: '10.0.0.2' } },
          { type: 'net.connect', time: 2600, proc: { pid: 42, start_time: 1000 }, net: { dst_ip: '10.0.0.3' } },
        ]),
      ),
      ref(recordingAnalyzer('a', sink)),
    ],
  });
  await k.start();
  await k.whenSourcesFinished();
  await k.stop();
  const nets = sink.events.filter((e) => e.type === 'net.connect');
  assert.equal(nets[0]!.proc?.image, '/usr/bin/first');
  assert.equal(nets[1]!.proc?.image, '/usr/bin/second');
  assert.equal(nets[2]!.proc?.image, undefined, 'an old start time does not join the new process with the reused pid');
});
