/**
 * The driver builds warning-free with mingw-w64 (driver/windows/build.mjs) and the built PE is
 * what Windows needs of a kernel driver that registers ObRegisterCallbacks: native subsystem,
 * FORCE_INTEGRITY, imports from ntoskrnl.exe / hal.dll only, a test signature. The test-only
 * injection IOCTL is compiled into the test build only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';
import { IOCTL } from '../../driver/protocol/protocol.js';
import { IMAGE_DLLCHARACTERISTICS_FORCE_INTEGRITY, IMAGE_SUBSYSTEM_NATIVE, readPe } from './pe.js';

const build = fileURLToPath(new URL('../../../driver/windows/build.mjs', import.meta.url));
const out = mkdtempSync(join(tmpdir(), 'vigil-drv-'));
after(() => rmSync(out, { recursive: true, force: true }));
const r = spawnSync(process.execPath, [build, out], { encoding: 'utf8' });
const built = r.status === 0 ? (JSON.parse(r.stdout) as { cert: string; vigil: string; 'vigil-test': string }) : undefined;

test('both builds compile and link with -Wall -Wextra -Werror and are test-signed', () => {
  assert.equal(r.status, 0, r.stderr);
  assert.ok(built);
  for (const sys of [built.vigil, built['vigil-test']]) {
    const v: { status: number | null; stdout: string; stderr: string } = spawnSync('osslsigncode', ['verify', '-CAfile', built.cert, '-in', sys], { encoding: 'utf8' });
    assert.equal(v.status, 0, v.stdout + v.stderr);
    assert.match(v.stdout, /Number of verified signatures: 1/);
  }
});

for (const name of ['vigil', 'vigil-test'] as const) {
  test(`${name}.sys: x64, native subsystem, FORCE_INTEGRITY, imports only from ntoskrnl.exe and hal.dll`, () => {
    assert.ok(built);
    const pe = readPe(readFileSync(built[name]));
    assert.equal(pe.machine, 0x8664);
    assert.equal(pe.subsystem, IMAGE_SUBSYSTEM_NATIVE);
    assert.ok(pe.dllCharacteristics & IMAGE_DLLCHARACTERISTICS_FORCE_INTEGRITY, `DllCharacteristics ${pe.dllCharacteristics.toString(16)}`);
    assert.ok(pe.dllCharacteristics & 0x0040, 'DYNAMIC_BASE');
    assert.ok(pe.dllCharacteristics & 0x0100, 'NX_COMPAT');
    assert.ok(pe.signed);
    const dlls = [...pe.imports.keys()].map((d) => d.toLowerCase());
    assert.ok(dlls.includes('ntoskrnl.exe'), dlls.join());
    assert.deepEqual(dlls.filter((d) => d !== 'ntoskrnl.exe' && d !== 'hal.dll'), []);
    const fns = pe.imports.get('ntoskrnl.exe') ?? [];
    for (const f of ['PsSetCreateProcessNotifyRoutineEx', 'PsSetCreateThreadNotifyRoutine', 'PsSetLoadImageNotifyRoutine', 'ObRegisterCallbacks', 'ObUnRegisterCallbacks', 'PsRemoveLoadImageNotifyRoutine', 'PsRemoveCreateThreadNotifyRoutine'])
      assert.ok(fns.includes(f), `imports ${f}`);
    // Not exported by the kernels Vigil supports under test (see docs/driver.md).
    for (const f of ['ExAllocatePool2', 'PsSetCreateProcessNotifyRoutineEx2', 'PsSetCreateThreadNotifyRoutineEx', 'IoCsqInitialize'])
      assert.ok(!fns.includes(f), `does not import ${f}`);
  });
}

test('the test-only injection IOCTL code is in the test build and absent from the release build', () => {
  assert.ok(built);
  const code = Buffer.alloc(4);
  code.writeUInt32LE(IOCTL.TEST_INJECT);
  const hello = Buffer.alloc(4);
  hello.writeUInt32LE(IOCTL.HELLO);
  const release = readFileSync(built.vigil);
  const testBuild = readFileSync(built['vigil-test']);
  assert.ok(release.includes(hello) && testBuild.includes(hello), 'the search finds the codes the dispatcher compares with');
  assert.ok(testBuild.includes(code), 'the test build compares with TEST_INJECT');
  assert.ok(!release.includes(code), 'the release build never mentions TEST_INJECT');
});
