/**
 * Runs under Wine's node.exe with the release build of the Vigil driver loaded
 * (`harness.mjs run --driver release`): it is not a test build and has no injection IOCTL.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as P from '../../driver/protocol/protocol.js';
import { canaryRecord } from '../../driver/protocol/records.js';
import { ERROR_INVALID_FUNCTION, openDriver } from '../../driver/ffi/windows/driver.js';

test('the release build says it is not a test build and refuses the injection IOCTL', async () => {
  const c = await openDriver();
  if (!c.ok) assert.fail(c.message);
  try {
    assert.equal(c.hello.build_flags & P.C.BUILD_TEST, 0);
    const r = c.device.inject(canaryRecord(P.C.CANARY_HANDLE, 1n));
    assert.ok(!r.ok && r.error === ERROR_INVALID_FUNCTION, JSON.stringify(r));
    const s = c.device.stats();
    assert.ok(s.ok && s.value.enqueued === 0n, JSON.stringify(s, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
  } finally {
    c.device.close();
  }
});
