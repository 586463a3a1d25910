import { test } from 'node:test';
import assert from 'node:assert/strict';
import { plugin } from '../index.js';
import { recordingContext } from '../../../../testing/index.js';

async function startError(config: Record<string, unknown>): Promise<{ code?: string; message: string }> {
  const f = recordingContext(plugin, { config });
  const sensor = plugin.create(f.ctx);
  try {
    await sensor.start();
  } catch (err) {
    return err as { code?: string; message: string };
  } finally {
    await sensor.stop();
    await f.dispose();
  }
  throw new Error('start() succeeded');
}

test('a ring buffer size that is not a power of two fails start with VIGIL_ERR_EBPF_CONFIG', async () => {
  const err = await startError({ ring_buffer_bytes: 100_000 });
  assert.equal(err.code, 'VIGIL_ERR_EBPF_CONFIG');
  assert.match(err.message, /ring_buffer_bytes 100000 is not a power of two/);
});

test('start names what is missing: the platform, the privilege, or the BPF object', async () => {
  const err = await startError({ object_path: '/nonexistent/vigil.bpf.o' });
  if (process.platform !== 'linux') assert.equal(err.code, 'VIGIL_ERR_EBPF_PLATFORM');
  else if (process.getuid?.() !== 0) {
    assert.equal(err.code, 'VIGIL_ERR_EBPF_PRIVILEGE');
    assert.match(err.message, /lacks CAP_BPF \+ CAP_PERFMON or CAP_SYS_ADMIN/);
  } else {
    assert.equal(err.code, 'VIGIL_ERR_EBPF_OBJECT');
    assert.match(err.message, /\/nonexistent\/vigil\.bpf\.o is not readable/);
  }
});
