import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { container as rootContainer } from 'tsyringe';
import { PROCESS_TABLE, WORKER_POOL, type AnalyzerPlugin, type ProcessTable, type WorkerPool } from '../../index.js';
import { Kernel } from '../../kernel/kernel.js';
import { loadPluginFromFolder } from '../../plugin/loader.js';
import { createPluginContainer, SERVICE_NAMES } from '../../plugin/services.js';
import { silentLogger } from '../../telemetry/logger.js';
import { recordingContext } from '../../../testing/index.js';
import { tempConfig, tempDir } from '../../../test/support/config.js';
import { ref } from '../../../test/support/fake-plugins.js';

interface Seen {
  table?: ProcessTable;
  pool?: WorkerPool;
  error?: unknown;
}

/** An analyzer that resolves services in start() and keeps what it got (or the error). */
function resolver(id: string, services: readonly string[] | undefined, seen: Seen, wants: 'table' | 'pool' | 'both'): AnalyzerPlugin {
  return {
    manifest: {
      id,
      kind: 'analyzer',
      apiVersion: '2.0.0',
      version: '1.0.0',
      description: 'resolves core services',
      platforms: ['any'],
      produces: [],
      consumes: ['process.start'],
      ...(services ? { services: services as NonNullable<AnalyzerPlugin['manifest']['services']> } : {}),
      configSchema: { type: 'object' },
    },
    create(ctx) {
      return {
        async start() {
          try {
            if (wants !== 'pool') seen.table = ctx.container.resolve(PROCESS_TABLE);
            if (wants !== 'table') seen.pool = ctx.container.resolve(WORKER_POOL);
          } catch (err) {
            seen.error = err;
          }
        },
        async stop() {},
        onEvents() {},
      };
    },
  };
}

const hasCode = (code: string, ...words: string[]) => (err: unknown) => {
  const e = err as { code?: string; message?: string };
  assert.equal(e.code, code, String(e.message));
  for (const w of words) assert.ok(e.message?.includes(w), `"${e.message}" names ${w}`);
  return true;
};

test('the core offers a closed set of services', () => {
  assert.deepEqual([...SERVICE_NAMES], ['worker-pool', 'process-table']);
});

test('a plugin gets the services it declares, from its own container: the kernel\'s instances', async () => {
  const seen: Seen = {};
  const k = new Kernel(tempConfig({ plugins: { r: {} } }), { logger: silentLogger(), noBuiltins: true, extraPlugins: [ref(resolver('r', ['process-table', 'worker-pool'], seen, 'both'))] });
  await k.start();
  await k.stop();
  assert.equal(seen.error, undefined);
  assert.equal(seen.table, k.processTable);
  assert.equal(seen.pool, k.pool);
});

test('resolving a service the manifest does not declare fails clearly, naming what to declare', async () => {
  const seen: Seen = {};
  const k = new Kernel(tempConfig({ plugins: { r: {} } }), { logger: silentLogger(), noBuiltins: true, extraPlugins: [ref(resolver('r', ['process-table'], seen, 'both'))] });
  await k.start();
  await k.stop();
  assert.equal(seen.table, k.processTable, 'the declared one resolves');
  assert.equal(seen.pool, undefined);
  hasCode('VIGIL_ERR_PLUGIN_SERVICE', 'plugin r', 'worker-pool', "add 'worker-pool' to its manifest's services")(seen.error);

  const none: Seen = {};
  const bare = new Kernel(tempConfig({ plugins: { n: {} } }), { logger: silentLogger(), noBuiltins: true, extraPlugins: [ref(resolver('n', undefined, none, 'table'))] });
  await bare.start();
  await bare.stop();
  hasCode('VIGIL_ERR_PLUGIN_SERVICE', 'plugin n', 'process-table')(none.error);
});

test('a declared service the core does not offer is refused at load, naming it', async () => {
  const k = new Kernel(tempConfig({ plugins: { r: {} } }), { logger: silentLogger(), noBuiltins: true, extraPlugins: [ref(resolver('r', ['process-table', 'scan-service'], {}, 'table'))] });
  await assert.rejects(k.load(), hasCode('VIGIL_ERR_PLUGIN_SERVICE', 'plugin r', 'scan-service', 'worker-pool, process-table'));

  // From a folder, as an operator installs it: refused before the plugin's create() can run.
  const dir = join(tempDir(), 'wants-scanner');
  mkdirSync(dir);
  writeFileSync(
    join(dir, 'index.js'),
    `export const plugin = { manifest: { id: 'wants-scanner', kind: 'analyzer', apiVersion: '2.0.0', version: '1.0.0', description: 'x', platforms: ['any'],
       produces: [], consumes: ['process.start'], services: ['scanner'], configSchema: { type: 'object' } },
     create() { throw new Error('create must not run'); } };\n`,
  );
  await assert.rejects(loadPluginFromFolder(dir), hasCode('VIGIL_ERR_PLUGIN_SERVICE', 'wants-scanner', 'scanner'));
});

test('a host that lacks a declared service refuses the plugin, naming the service', () => {
  const manifest = { id: 'p', services: ['worker-pool', 'process-table'] as const };
  assert.throws(() => createPluginContainer(rootContainer, manifest, { 'worker-pool': () => ({}) as WorkerPool }), hasCode('VIGIL_ERR_PLUGIN_SERVICE', 'plugin p', 'process-table'));
});

test('what a plugin registers in its container stays private to it', () => {
  const a = createPluginContainer(rootContainer, { id: 'a' }, {});
  const b = createPluginContainer(rootContainer, { id: 'b' }, {});
  const token = Symbol('private');
  a.registerInstance(token, 'mine');
  assert.equal(a.resolve(token), 'mine');
  assert.equal(b.isRegistered(token, true), false);
});

test('the kit gives a declared service (its default or the one passed) and refuses an undeclared one', async () => {
  const seen: Seen = {};
  const plugin = resolver('kit', ['process-table'], seen, 'table');
  const rec = recordingContext(plugin, {});
  const inst = plugin.create(rec.ctx);
  await inst.start();
  assert.ok(seen.table, 'a process table by default');
  assert.equal(typeof seen.table.resolve, 'function');

  const mine = {} as ProcessTable;
  const given: Seen = {};
  const withTable = resolver('kit2', ['process-table'], given, 'both');
  await withTable.create(recordingContext(withTable, { services: { 'process-table': () => mine } }).ctx).start();
  assert.equal(given.table, mine);
  hasCode('VIGIL_ERR_PLUGIN_SERVICE', 'worker-pool')(given.error);
  await rec.dispose();
});
