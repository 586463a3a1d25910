import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crc32, crc32Js } from '../crc32.js';

test('CRC-32 matches the standard check value and chains over ranges', () => {
  const check = new TextEncoder().encode('123456789');
  assert.equal(crc32(check, 0, check.length), 0xcbf43926);
  assert.equal(crc32Js(check, 0, check.length), 0xcbf43926);
  const data = Uint8Array.from({ length: 70000 }, (_, i) => (i * 31 + (i >> 7)) & 0xff);
  const whole = crc32Js(data, 0, data.length);
  assert.equal(crc32(data, 0, data.length), whole);
  assert.equal(crc32(data, 5000, data.length, crc32(data, 0, 5000)), whole);
  assert.equal(crc32Js(data, 5001, data.length, crc32Js(data, 0, 5001)), whole);
});
