/**
 * The driver protocol is defined once (driver/protocol/protocol.json): the committed C header
 * and TypeScript module must be what the generator makes of it, and the C compiler's layout
 * of every struct must equal the TypeScript offsets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as P from '../../driver/protocol/protocol.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const protoDir = join(root, 'driver', 'protocol');

function gen(dir: string, ...args: string[]) {
  return spawnSync(process.execPath, [join(dir, 'generate.mjs'), ...args], { encoding: 'utf8' });
}

test('the committed header and TypeScript module are what protocol.json generates', () => {
  const r = gen(protoDir, '--check');
  assert.equal(r.status, 0, r.stderr);
});

test('the check fails when protocol.json changed without regenerating', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-proto-'));
  try {
    cpSync(protoDir, dir, { recursive: true });
    const spec = JSON.parse(readFileSync(join(dir, 'protocol.json'), 'utf8')) as { version: { minor: number } };
    spec.version.minor += 1;
    writeFileSync(join(dir, 'protocol.json'), JSON.stringify(spec));
    const r = gen(dir, '--check');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /vigil_protocol\.h differs/);
    assert.match(r.stderr, /protocol\.ts differs/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the generator refuses a layout with implicit padding', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-proto-'));
  try {
    cpSync(protoDir, dir, { recursive: true });
    const spec = JSON.parse(readFileSync(join(dir, 'protocol.json'), 'utf8')) as { structs: { name: string; fields: string[][] }[] };
    spec.structs.push({ name: 'BAD', fields: [['a', 'u32'], ['b', 'u64']] });
    writeFileSync(join(dir, 'protocol.json'), JSON.stringify(spec));
    const r = gen(dir);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /BAD\.b: offset 4 is not aligned to 8/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function compiledLayout(cc: string): Record<string, number> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-probe-'));
  try {
    const exe = join(dir, 'probe');
    const c = spawnSync(cc, ['-std=c11', '-Wall', '-Wextra', '-Werror', '-o', exe, join(protoDir, 'test', 'layout-probe.c')], { encoding: 'utf8' });
    assert.equal(c.status, 0, `${cc}: ${c.stderr}`);
    if (cc !== 'gcc') return {};
    const r = spawnSync(exe, { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as Record<string, number>;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('gcc lays out every protocol struct with the sizes and offsets of the TypeScript side', () => {
  const probe = compiledLayout('gcc');
  let checked = 0;
  for (const [name, want] of Object.entries(P.LAYOUT)) {
    assert.equal(probe[name], want.size, `sizeof ${name}`);
    for (const [field, off] of Object.entries(want.offsets)) {
      assert.equal(probe[`${name}.${field}`], off, `offsetof ${name}.${field}`);
      checked++;
    }
  }
  assert.equal(Object.keys(probe).length, Object.keys(P.LAYOUT).length + checked, 'the probe and the TypeScript side name the same structs and fields');
});

test('mingw-w64 compiles the same layout (the probe asserts every offset at compile time)', () => {
  compiledLayout('x86_64-w64-mingw32-gcc');
});

test('the codecs round-trip every field at its offset', () => {
  const buf = new DataView(new ArrayBuffer(P.LAYOUT.POLICY.size + 16));
  const policy: P.POLICY = {
    ...P.ZERO_POLICY(),
    default_mode: P.C.MODE_MONITOR,
    protected_count: 1,
    protected: [{ pid: 0, mode: P.C.MODE_ENFORCE, create_time: 0n, name: 'lsass.exe' }],
  };
  P.encodePOLICY(buf, 8, policy);
  assert.equal(buf.getUint32(8 + P.LAYOUT.POLICY.offsets.protected + P.LAYOUT.POLICY_ENTRY.offsets.mode, true), P.C.MODE_ENFORCE);
  const back = P.decodePOLICY(buf, 8);
  assert.equal(back.protected[0]?.name, 'lsass.exe');
  assert.equal(back.protected.length, P.C.MAX_POLICY_ENTRIES);
  assert.equal(back.allow[3]?.name, '');
  const h: P.HANDLE_ACCESS = { ...P.ZERO_HANDLE_ACCESS(), caller_pid: 1234, target_create_time: 0x01dc_1234_5678_9abcn, granted: 0x1fffff, caller_image: { offset: 96, bytes: 20 } };
  const v = new DataView(new ArrayBuffer(P.LAYOUT.HANDLE_ACCESS.size));
  P.encodeHANDLE_ACCESS(v, 0, h);
  assert.equal(v.getUint32(P.LAYOUT.HANDLE_ACCESS.offsets.caller_pid, true), 1234);
  assert.deepEqual(P.decodeHANDLE_ACCESS(v, 0), h);
  assert.throws(() => P.encodePOLICY(buf, 0, { ...policy, protected: [{ pid: 0, mode: 1, create_time: 0n, name: 'x'.repeat(64) }] }), /longer than 63/);
});

test('the test-only IOCTL is marked so and every code is distinct', () => {
  assert.deepEqual(P.TEST_ONLY_IOCTLS, ['TEST_INJECT']);
  assert.equal(new Set(Object.values(P.IOCTL)).size, Object.keys(P.IOCTL).length);
  assert.equal(P.IOCTL.HELLO, 0x222000);
});
