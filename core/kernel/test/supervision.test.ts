import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kernel } from '../kernel.js';
import { silentLogger } from '../../telemetry/logger.js';
import type { SensorContext, SensorPlugin } from '../../plugin/types.js';
import { tempConfig } from '../../../test/support/config.js';
import { ref } from '../../../test/support/fake-plugins.js';
import { ManualClock } from './manual-clock.js';

/** A live sensor that does nothing until the test makes it fail through `ctx.fail()`. */
function flakySensor(id: string): { plugin: SensorPlugin; fail(): void } {
  let ctx: SensorContext | undefined;
  let failures = 0;
  const plugin: SensorPlugin = {
    manifest: {
      id,
      kind: 'sensor',
      apiVersion: '1.0.0',
      version: '1.0.0',
      description: 'fails when told to',
      platforms: ['any'],
      produces: ['process.start'],
      consumes: [],
      delivery: 'live',
      configSchema: { type: 'object' },
    },
    create(c: SensorContext) {
      ctx = c;
      return { async start() {}, async stop() {} };
    },
  };
  return {
    plugin,
    fail() {
      assert.ok(ctx, 'the sensor was created');
      ctx.fail(new Error(`read loop died (${++failures})`));
    },
  };
}

const WINDOW_SECONDS = 10;

async function agent(clock: ManualClock, maxRestarts = 3) {
  const flaky = flakySensor('flaky');
  const cfg = tempConfig({
    agent: { max_restarts: maxRestarts, restart_window_seconds: WINDOW_SECONDS, restart_backoff_ms: 500 },
    health: { enabled: false },
    plugins: { flaky: {} },
  });
  const k = new Kernel(cfg, { logger: silentLogger(), noBuiltins: true, extraPlugins: [ref(flaky.plugin)], clock });
  await k.start();
  const status = () => k.status().plugins.find((p) => p.id === 'flaky')!;
  /** Fail, let the backoff pass on the clock, and wait until the restart has settled. */
  const failAndRecover = async (): Promise<number> => {
    flaky.fail();
    assert.equal(status().state, 'restarting');
    const delay = clock.delays.at(-1)!;
    clock.advance(delay);
    // The restart (stop, create, start) settles within a few turns of the event loop.
    for (let i = 0; i < 100 && status().state !== 'running'; i++) await new Promise((r) => setImmediate(r));
    assert.equal(status().state, 'running', 'the plugin came back');
    return delay;
  };
  return { k, flaky, status, failAndRecover };
}

const errorCount = (errors: Record<string, number>) => Object.values(errors).reduce((a, b) => a + b, 0);

test('a plugin failing once every restart_window_seconds + 1 s is restarted every time and never detached', async () => {
  const clock = new ManualClock();
  const { k, status, failAndRecover } = await agent(clock);
  const delays: number[] = [];
  for (let i = 0; i < 20; i++) {
    const delay = await failAndRecover();
    delays.push(delay);
    clock.advance((WINDOW_SECONDS + 1) * 1000 - delay);
  }
  const st = status();
  await k.stop();
  assert.equal(st.state, 'running');
  assert.equal(st.restarts, 20, 'status counts every restart since start');
  assert.deepEqual(delays, Array(20).fill(500), 'the backoff starts again from restart_backoff_ms after a quiet window');
  assert.equal(errorCount(st.counters.errors), 20, 'each failure is counted');
  assert.ok(!Object.keys(st.counters.errors).some((key) => key.includes('VIGIL_ERR_PLUGIN_DETACHED')), JSON.stringify(st.counters.errors));
  assert.match(st.lastError ?? '', /read loop died \(20\)/);
});

test('a plugin failing faster than the window allows is detached after max_restarts restarts', async () => {
  const clock = new ManualClock();
  const { k, flaky, status, failAndRecover } = await agent(clock);
  const delays: number[] = [];
  for (let i = 0; i < 3; i++) {
    delays.push(await failAndRecover());
    clock.advance(2_000);
  }
  flaky.fail();
  const st = status();
  await k.stop();
  assert.deepEqual(delays, [500, 1000, 2000], 'the backoff doubles within the window');
  assert.equal(st.state, 'detached');
  assert.equal(st.restarts, 3);
  assert.ok(Object.keys(st.counters.errors).some((key) => key.endsWith(':VIGIL_ERR_PLUGIN_DETACHED')), JSON.stringify(st.counters.errors));
  assert.equal(clock.pending, 0, 'no restart is scheduled after the detach');
});

test('restarts older than the window no longer count: after a quiet window the full budget is back', async () => {
  const clock = new ManualClock();
  const { k, flaky, status, failAndRecover } = await agent(clock);
  const delays: number[] = [];
  for (let i = 0; i < 3; i++) delays.push(await failAndRecover());
  clock.advance((WINDOW_SECONDS + 1) * 1000);
  for (let i = 0; i < 3; i++) delays.push(await failAndRecover());
  assert.equal(status().state, 'running', 'six restarts, but never more than three in one window');
  assert.equal(status().restarts, 6);
  flaky.fail();
  const st = status();
  await k.stop();
  assert.deepEqual(delays, [500, 1000, 2000, 500, 1000, 2000]);
  assert.equal(st.state, 'detached', 'a fourth failure within the window detaches');
  assert.equal(st.restarts, 6);
});

test('max_restarts 0 detaches at the first failure whatever the window', async () => {
  const clock = new ManualClock();
  const { k, flaky, status } = await agent(clock, 0);
  flaky.fail();
  const st = status();
  await k.stop();
  assert.equal(st.state, 'detached');
  assert.equal(st.restarts, 0);
});

test('after the agent decided to stop, nothing restarts: a pending restart timer is cancelled and a failure during the stop schedules none', async () => {
  const clock = new ManualClock();
  const { k, flaky, status } = await agent(clock);
  flaky.fail();
  assert.equal(status().state, 'restarting');
  const timers = clock.delays.length;
  const stopping = k.stop();
  // A failure reported while the agent stops.
  flaky.fail();
  await stopping;
  assert.equal(clock.delays.length, timers, 'no restart was scheduled during the stop');
  assert.equal(clock.pending, 0, 'the restart timer pending at the stop was cancelled');
  clock.advance(60_000);
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  assert.notEqual(status().state, 'running', 'the pending restart did not fire');
  assert.notEqual(status().state, 'restarting');
});
