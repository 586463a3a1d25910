import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AnalyzerInstance, PluginManifest, ResponderInstance, SensorInstance, VigilPlugin } from '../../index.js';
import { Kernel } from '../../kernel/kernel.js';
import { manifestProblems } from '../manifest.js';
import { silentLogger } from '../../telemetry/logger.js';
import { checkConformance, instantiate, recordingContext } from '../../../testing/index.js';
import { tempConfig } from '../../../test/support/config.js';
import { ref } from '../../../test/support/fake-plugins.js';

type Instance = SensorInstance & AnalyzerInstance & ResponderInstance;
const lifecycle = { async start() {}, async stop() {} };

function plugin(manifest: Partial<PluginManifest> & Pick<PluginManifest, 'kind'>, handlers: Partial<Instance>): VigilPlugin {
  return {
    manifest: {
      id: 'p',
      apiVersion: '2.0.0',
      version: '1.0.0',
      description: 'capability test',
      platforms: ['any'],
      produces: [],
      consumes: [],
      ...(manifest.kind === 'sensor' ? { produces: ['process.start'], delivery: 'live' as const } : {}),
      configSchema: { type: 'object' },
      ...manifest,
    },
    create: () => ({ ...lifecycle, ...handlers }),
  } as VigilPlugin;
}

/** The kernel refuses the plugin at load with the capability code and a message naming `words`. */
async function refusedAtLoad(p: VigilPlugin, ...words: string[]): Promise<void> {
  const k = new Kernel(tempConfig({ plugins: { p: {} } }), { logger: silentLogger(), noBuiltins: true, extraPlugins: [ref(p)] });
  await assert.rejects(k.load(), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'VIGIL_ERR_PLUGIN_CAPABILITY', err.message);
    for (const w of words) assert.ok(err.message.includes(w), `"${err.message}" names ${w}`);
    return true;
  });
  // The kit builds the instance the same way and refuses it the same way.
  assert.throws(() => instantiate(p, recordingContext(p)), { code: 'VIGIL_ERR_PLUGIN_CAPABILITY' });
  await assert.rejects(checkConformance(p), { code: 'VIGIL_ERR_PLUGIN_CAPABILITY' });
}

const handler = () => undefined;

test('declared without its handler: refused, naming the missing handler', async () => {
  await refusedAtLoad(plugin({ kind: 'analyzer', consumes: ['process.start'] }, {}), 'event types in consumes', 'no onEvents()');
  await refusedAtLoad(plugin({ kind: 'analyzer', consumes: ['*', 'detection'] }, { onEvents: handler }), "'detection' in consumes", 'no onDetections()');
  await refusedAtLoad(plugin({ kind: 'responder', consumes: ['detection'] }, {}), 'no onDetections()');
  await refusedAtLoad(plugin({ kind: 'responder', consumes: ['detection'], actions: ['alert', 'kill'] }, { onDetections: handler }), "actions other than 'alert'", 'no onActions()');
});

test('a handler without its declaration: refused, naming the missing declaration', async () => {
  await refusedAtLoad(plugin({ kind: 'analyzer', consumes: ['*'] }, { onEvents: handler, onDetections: handler }), 'has onDetections()', "declares no 'detection' in consumes");
  await refusedAtLoad(plugin({ kind: 'responder', consumes: ['detection'], actions: ['alert'] }, { onDetections: handler, onActions: handler }), 'has onActions()', "declares no a responder's actions other than 'alert'");
  await refusedAtLoad(plugin({ kind: 'responder', consumes: ['detection'] }, { onDetections: handler, onEvents: handler }), 'has onEvents()', 'declares no event types in consumes');
  await refusedAtLoad(plugin({ kind: 'sensor' }, { onEvents: handler }), 'has onEvents()');
});

test('an instance without start() or stop() is refused', async () => {
  const p = plugin({ kind: 'analyzer', consumes: ['process.start'] }, {});
  (p as { create: unknown }).create = () => ({ onEvents: handler, async start() {} });
  await refusedAtLoad(p, 'no stop()');
});

test('whole capabilities load, in the kernel and in the kit', async () => {
  const whole = [
    plugin({ kind: 'analyzer', consumes: ['process.start', 'detection'] }, { onEvents: handler, onDetections: handler }),
    plugin({ kind: 'responder', consumes: ['detection'], actions: ['alert', 'kill'] }, { onDetections: handler, onActions: handler, onActionResults: handler }),
    plugin({ kind: 'responder', consumes: ['process.start'], actions: ['alert'] }, { onEvents: handler, flush: async () => undefined }),
    plugin({ kind: 'sensor' }, { summary: () => ({}) }),
  ];
  for (const p of whole) {
    const k = new Kernel(tempConfig({ plugins: { p: {} } }), { logger: silentLogger(), noBuiltins: true, extraPlugins: [ref(p)] });
    await k.load();
    await k.stop();
    await checkConformance(p);
  }
});

test('readOnlyActions must be among the actions; playbook is the core\'s and alert is no read-only action', () => {
  const base = { id: 'r', kind: 'responder', apiVersion: '2.2.0', version: '1.0.0', description: 'd', platforms: ['any'], produces: [], consumes: [], configSchema: { type: 'object' } };
  assert.deepEqual(manifestProblems({ ...base, actions: ['memscan'], readOnlyActions: ['memscan'] }), []);
  assert.match(manifestProblems({ ...base, actions: ['kill'], readOnlyActions: ['memscan'] }).join('\n'), /readOnlyActions: "memscan" is not among the manifest's actions/);
  assert.match(manifestProblems({ ...base, actions: ['alert'], readOnlyActions: ['alert'] }).join('\n'), /"alert" is not a responder's action to declare read-only/);
  assert.match(manifestProblems({ ...base, actions: ['playbook'] }).join('\n'), /"playbook" is the core's/);
});
