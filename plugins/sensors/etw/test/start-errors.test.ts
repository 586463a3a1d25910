/** Off Windows the sensor refuses to start with its platform code, before touching any DLL. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { recordingContext } from '../../../../testing/index.js';
import { EtwError, createEtwSensor, plugin, ETW_DEFAULTS } from '../index.js';

test('off Windows start() fails with VIGIL_ERR_ETW_PLATFORM; the config defaults are the documented ones', { skip: process.platform === 'win32' ? 'runs off Windows' : false }, async () => {
  const rec = recordingContext(plugin, { config: {} });
  assert.equal(rec.ctx.config['session_name'], 'Vigil-ETW');
  assert.equal((rec.ctx.config['providers'] as unknown[]).length, 4);
  assert.deepEqual(rec.ctx.config, { ...ETW_DEFAULTS, providers: ETW_DEFAULTS.providers.map((p) => ({ ...p })) });
  const s = createEtwSensor(rec.ctx, { dlls: { advapi32: '/nonexistent/advapi32.dll' } });
  await assert.rejects(s.start(), (err: unknown) => err instanceof EtwError && err.code === 'VIGIL_ERR_ETW_PLATFORM' && /Windows only \(this is linux\)/.test(err.message));
  await s.stop();
  assert.deepEqual(rec.disposers, [], 'nothing acquired');
  await rec.dispose();
});

test('a provider GUID that is not one is refused by the config schema', () => {
  assert.throws(() => recordingContext(plugin, { config: { providers: [{ guid: 'not-a-guid' }] } }), /VIGIL_ERR_PLUGIN_CONFIG|providers/);
});
