#!/usr/bin/env node
// Builds the Vigil driver with mingw-w64 on Linux: the release build (vigil.sys) and the test
// build (vigil-test.sys, with the test-only injection IOCTL), each test-signed with a
// throw-away certificate made on the spot.
//
//   node driver/windows/build.mjs [OUTDIR]    default OUTDIR: dist/driver/windows
//
// Prints the output paths as JSON. Warnings are errors. --forceinteg sets FORCE_INTEGRITY
// (IMAGE_DLLCHARACTERISTICS_FORCE_INTEGRITY), which ObRegisterCallbacks requires.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const root = join(here, '..', '..');
const out = process.argv[2] ?? join(root, 'dist', 'driver', 'windows');
const CC = 'x86_64-w64-mingw32-gcc';

export const CFLAGS = [
  '-std=gnu11', '-O2', '-Wall', '-Wextra', '-Werror',
  // GCC 12+ takes the gs:0 read of KeGetCurrentThread for a null-pointer access.
  '--param=min-pagesize=0',
  '-fno-stack-protector', '-mno-red-zone',
  '-I/usr/share/mingw-w64/include/ddk',
];
export const LDFLAGS = [
  '-shared', '-nostdlib', '-nostartfiles',
  '-Wl,--subsystem,native', '-Wl,--entry,DriverEntry', '-Wl,--image-base,0x140000000',
  '-Wl,--dynamicbase', '-Wl,--nxcompat', '-Wl,--high-entropy-va', '-Wl,--forceinteg',
];

function run(cmd, args, quietStderr = false) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0 || (quietStderr && r.stderr.trim() !== '')) throw new Error(`${cmd} ${args.join(' ')} failed (status ${r.status}):\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

mkdirSync(out, { recursive: true });
const sources = [join(here, 'vigil.c'), join(here, 'policy.c')];
const unsigned = {};
for (const [name, defs] of [['vigil', []], ['vigil-test', ['-DVIGIL_TEST_BUILD']]]) {
  const target = join(out, `${name}.unsigned.sys`);
  run(CC, [...CFLAGS, ...defs, ...LDFLAGS, '-o', target, ...sources, '-lntoskrnl', '-lhal'], true);
  unsigned[name] = target;
}

// A throw-away code-signing certificate: good for a test-signing machine only.
const key = join(out, 'test-signing.key');
const cert = join(out, 'test-signing.crt');
if (!existsSync(cert)) {
  run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '30', '-subj', '/CN=Vigil Test Signing (throw-away)',
    '-addext', 'extendedKeyUsage=codeSigning', '-addext', 'keyUsage=digitalSignature', '-keyout', key, '-out', cert]);
}
const result = { cert };
for (const [name, src] of Object.entries(unsigned)) {
  const signed = join(out, `${name}.sys`);
  const tmp = `${signed}.tmp`;
  rmSync(tmp, { force: true });
  run('osslsigncode', ['sign', '-certs', cert, '-key', key, '-h', 'sha256', '-n', 'Vigil driver', '-in', src, '-out', tmp]);
  renameSync(tmp, signed);
  result[name] = signed;
}
process.stdout.write(`${JSON.stringify(result)}\n`);
