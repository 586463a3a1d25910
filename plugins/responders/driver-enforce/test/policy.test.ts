import { test } from 'node:test';
import assert from 'node:assert/strict';
import { C, ZERO_POLICY } from '../../../../driver/protocol/protocol.js';
import { msToFiletime, protectProcess } from '../policy.js';

test('a flagged process joins the protected set after lsass.exe; the same one twice is already protected', () => {
  const r = protectProcess(ZERO_POLICY(), { pid: 1200, mode: C.MODE_ENFORCE, create_time: msToFiletime(1_700_000_000_000), name: '' });
  assert.deepEqual(r.policy.protected.slice(0, r.policy.protected_count).map((e) => e.name || e.pid), ['lsass.exe', 1200]);
  assert.equal(r.already, false);
  assert.equal(protectProcess(r.policy, { pid: 1200, mode: C.MODE_MONITOR, create_time: msToFiletime(1_700_000_000_000), name: '' }).already, true);
  const stronger = protectProcess(protectProcess(ZERO_POLICY(), { pid: 8, mode: C.MODE_MONITOR, create_time: 5n, name: '' }).policy, { pid: 8, mode: C.MODE_ENFORCE, create_time: 5n, name: '' });
  assert.equal(stronger.policy.protected[1]?.mode, C.MODE_ENFORCE);
  assert.equal(msToFiletime(0), 116444736000000000n);
});

test('a full set evicts the oldest flagged process, never lsass.exe or a name', () => {
  let p = ZERO_POLICY();
  for (let i = 1; i <= C.MAX_POLICY_ENTRIES - 1; i++) p = protectProcess(p, { pid: i * 4, mode: C.MODE_ENFORCE, create_time: BigInt(i), name: '' }).policy;
  assert.equal(p.protected_count, C.MAX_POLICY_ENTRIES);
  const r = protectProcess(p, { pid: 9999, mode: C.MODE_ENFORCE, create_time: 1n, name: '' });
  assert.equal(r.evicted?.pid, 4);
  assert.equal(r.policy.protected[0]?.name, 'lsass.exe');
  assert.equal(r.policy.protected.at(r.policy.protected_count - 1)?.pid, 9999);
  assert.equal(r.policy.protected_count, C.MAX_POLICY_ENTRIES);
});
