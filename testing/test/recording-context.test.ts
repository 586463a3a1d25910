import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { AnalyzerContext, PluginContext, PluginManifest, ResponderContext, SensorContext, VigilPlugin } from '../../core/index.js';
import { Kernel } from '../../core/kernel/kernel.js';
import { silentLogger } from '../../core/telemetry/logger.js';
import { tempConfig, tempDir } from '../../test/support/config.js';
import { ref } from '../../test/support/fake-plugins.js';
import { pluginConfig, recordingContext, sampleEvents } from '../index.js';

const SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: { limit: { type: 'integer', minimum: 1, default: 10 }, tags: { type: 'array', items: { type: 'string' }, default: [] } },
};

/** A plugin of `kind` that hands its context to `seen` from create(). */
function probe(kind: PluginManifest['kind'], seen: PluginContext[], extra: Partial<PluginManifest> = {}): VigilPlugin {
  const manifest = {
    id: `probe-${kind}`,
    kind,
    apiVersion: '2.0.0',
    version: '1.0.0',
    description: 'hands out its context',
    platforms: ['any'],
    produces: kind === 'sensor' ? ['process.start'] : [],
    consumes: kind === 'sensor' ? [] : ['detection'],
    ...(kind === 'sensor' ? { delivery: 'live' } : {}),
    configSchema: SCHEMA,
    ...extra,
  };
  return {
    manifest,
    create(ctx: PluginContext) {
      seen.push(ctx);
      return { async start() {}, async stop() {}, ...(kind === 'sensor' ? {} : { onDetections() {} }) };
    },
  } as unknown as VigilPlugin;
}

/** Each member of a context: its name and whether it is a getter, a function or a value. */
function shape(ctx: object): string[] {
  return Object.entries(Object.getOwnPropertyDescriptors(ctx))
    .map(([k, d]) => `${k}:${d.get ? 'getter' : typeof d.value === 'function' ? 'function' : 'value'}`)
    .sort();
}

for (const kind of ['sensor', 'analyzer', 'responder'] as const) {
  test(`a ${kind}'s recording context has exactly the members the kernel's has`, async () => {
    const seen: PluginContext[] = [];
    const p = probe(kind, seen);
    const k = new Kernel(tempConfig({ plugins: { [p.manifest.id]: { config: { limit: 3 } } } }), { logger: silentLogger(), noBuiltins: true, extraPlugins: [ref(p)] });
    await k.load();
    await k.stop();
    const kernelCtx = seen[0]!;
    const rec = recordingContext(p, { config: { limit: 3 } });
    assert.deepEqual(shape(rec.ctx), shape(kernelCtx));
    assert.deepEqual(rec.ctx.config, kernelCtx.config, 'the same config: defaults filled in');
    assert.ok(Object.isFrozen(rec.ctx.config) && Object.isFrozen(kernelCtx.config));
  });
}

test('config: validated as the kernel validates it, with every finding at its config path', async () => {
  const seen: PluginContext[] = [];
  const p = probe('analyzer', seen);
  assert.deepEqual(pluginConfig(p, {}), { limit: 10, tags: [] });
  const bad = { limit: 0, colour: 'red' };
  assert.throws(() => recordingContext(p, { config: bad }), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'VIGIL_ERR_PLUGIN_CONFIG');
    assert.match(err.message, /\/plugins\/probe-analyzer\/config\/limit: expected must be >= 1, found number 0/);
    assert.match(err.message, /\/plugins\/probe-analyzer\/config\/colour: expected one of the keys: limit, tags, found unknown key "colour"/);
    return true;
  });
  const k = new Kernel(tempConfig({ plugins: { 'probe-analyzer': { config: bad } } }), { logger: silentLogger(), noBuiltins: true, extraPlugins: [ref(p)] });
  await assert.rejects(k.load(), (err: Error & { details?: { findings?: Array<{ path: string }> } }) => {
    assert.deepEqual(err.details?.findings?.map((f) => f.path).sort(), ['/plugins/probe-analyzer/config/colour', '/plugins/probe-analyzer/config/limit']);
    return true;
  });
  assert.deepEqual(bad, { limit: 0, colour: 'red' }, "the caller's block is not touched");
});

test('emit: accepted drafts are recorded and counted; undeclared and malformed ones as the core treats them', () => {
  const rec = recordingContext(probe('sensor', []));
  assert.equal(rec.ctx.emit({ type: 'process.start', time: 1 }), undefined);
  assert.throws(() => rec.ctx.emit({ type: 'net.connect', time: 2 }), { code: 'VIGIL_ERR_PLUGIN_UNDECLARED_TYPE' });
  rec.ctx.emit({ type: 'process.start' } as never);
  assert.deepEqual(rec.emitted.map((d) => d.time), [1]);
  assert.deepEqual(rec.undeclared, ['net.connect']);
  const snap = rec.counters.snapshot();
  assert.equal(snap.emitted, 1);
  assert.equal(snap.errors['send:VIGIL_ERR_PLUGIN_UNDECLARED_TYPE'], 1);
  assert.equal(snap.errors['send:VIGIL_ERR_EVENT_INVALID'], 1);
  assert.equal(snap.discarded['invalid_event']?.count, 1);
});

test('emit: onEmit can hold the sensor back with a Promise (a full queue)', async () => {
  let release!: () => void;
  const rec = recordingContext(probe('sensor', []), { onEmit: (_d, n) => (n === 2 ? new Promise<void>((r) => (release = r)) : undefined) });
  assert.equal(rec.ctx.emit({ type: 'process.start', time: 1 }), undefined);
  const held = rec.ctx.emit({ type: 'process.start', time: 2 });
  assert.ok(held instanceof Promise);
  release();
  await held;
  const found = await rec.waitFor((d) => d.time === 2, 100);
  assert.equal(found.time, 2);
  await assert.rejects(rec.waitFor((d) => d.time === 3, 50), /no matching event within 50 ms/);
});

test('detect, result, finished and fail are recorded', async () => {
  const analyzer = recordingContext(probe('analyzer', []));
  const [start] = sampleEvents();
  (analyzer.ctx as AnalyzerContext).detect({ rule: { id: 'r', title: 'R', source: 'native' }, severity: 'low', evidence: [start!] });
  assert.equal(analyzer.detections.length, 1);
  assert.equal(analyzer.counters.emitted, 1, 'the core counts a raised detection as emitted');

  const responder = recordingContext(probe('responder', []));
  const result = { request_id: 'q', detection_id: 'd', action: 'kill', responder: 'probe', status: 'done' as const, time: 1 };
  (responder.ctx as ResponderContext).result(result);
  assert.deepEqual(responder.results, [result]);
  assert.ok(Object.isFrozen(responder.results[0]), 'frozen, as the core freezes results');

  const sensor = recordingContext(probe('sensor', []));
  (sensor.ctx as SensorContext).finished();
  await sensor.whenFinished;
  assert.equal(sensor.finishedCalls, 1);
  sensor.ctx.fail(new Error('loop died'));
  assert.deepEqual(sensor.failures.map(String), ['Error: loop died']);
});

test('dispose(): abort, then every disposer last in first out; failures counted and reported together', async () => {
  const rec = recordingContext(probe('analyzer', []), { stopTimeoutMs: 100 });
  const order: string[] = [];
  rec.ctx.defer(() => {
    order.push(`first:${rec.ctx.signal.aborted}`);
  });
  rec.ctx.defer(() => {
    order.push('second');
    throw new Error('second failed');
  });
  rec.ctx.defer(() => new Promise(() => order.push('third (hangs)')));
  assert.equal(rec.disposers.length, 3);
  await assert.rejects(rec.dispose(), (err: AggregateError) => {
    assert.deepEqual(err.errors.map((e: Error) => e.message), ['disposer took longer than 100 ms', 'second failed']);
    return true;
  });
  assert.deepEqual(order, ['third (hangs)', 'second', 'first:true']);
  assert.equal(rec.disposers.length, 0);
  assert.equal(rec.counters.snapshot().errors['stop:Error'], 2);
});

test('dataDir is made on first use only; paths resolve against baseDir; logs are kept when asked', () => {
  const base = tempDir();
  const dataDir = join(base, 'state');
  const rec = recordingContext(probe('analyzer', []), { baseDir: base, dataDir, logLevel: 'info' });
  assert.equal(existsSync(dataDir), false);
  assert.equal(rec.ctx.dataDir, dataDir);
  assert.equal(existsSync(dataDir), true);
  assert.equal(rec.ctx.resolvePath('rules'), join(base, 'rules'));
  assert.equal(rec.ctx.resolvePath('/abs'), '/abs');
  rec.ctx.logger.debug('not kept');
  rec.ctx.logger.warn({ n: 1 }, 'kept');
  assert.deepEqual(rec.logs.map((l) => [l.level, l.msg, l['plugin'], l['n']]), [[40, 'kept', 'probe-analyzer', 1]]);
});
