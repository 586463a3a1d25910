/**
 * The committed BPF object is the one its source builds. The object is byte-for-byte
 * reproducible from the same kernel BTF (driver/linux/vigil.bpf.o.btf-sha256 names the one it
 * was built against); on a machine with another kernel the local types differ, so the test
 * compares what does not depend on them: the sections, the programs, the maps and the
 * instruction count of every program section.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('../../../../driver/linux/', import.meta.url));
const committed = join(here, 'vigil.bpf.o');
const btf = '/sys/kernel/btf/vmlinux';

function onPath(tool: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${tool} || test -x /usr/sbin/${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    // `command -v` exits non-zero for a missing tool: that is the answer, not an error.
    return false;
  }
}

function skipReason(): string | undefined {
  if (process.platform !== 'linux') return 'building the BPF object needs Linux';
  for (const tool of ['clang', 'llvm-strip', 'llvm-objdump', 'bpftool']) {
    if (!onPath(tool)) return `${tool} is not installed (apt-get install clang llvm bpftool libbpf-dev; .ci/run does)`;
  }
  if (!existsSync('/usr/include/bpf/bpf_helpers.h')) return 'libbpf-dev is not installed (bpf/bpf_helpers.h)';
  if (!existsSync(btf)) return `the kernel has no BTF (${btf}) to generate vmlinux.h from`;
  return undefined;
}
const skip = skipReason();

/** Section names and sizes of program sections, and the global symbols (programs and maps). */
function shape(object: string): string {
  const headers = execFileSync('llvm-objdump', ['-h', object], { encoding: 'utf8' });
  const sections = headers
    .split('\n')
    .map((l) => /^\s*\d+\s+(\S+)\s+([0-9a-f]+)/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => (m[1]?.includes('/') === true ? `${m[1]} ${m[2]}` : `${m[1]}`));
  const symbols = execFileSync('llvm-objdump', ['-t', object], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => / g /.test(l))
    .map((l) => l.trim().split(/\s+/).slice(-1)[0])
    .sort();
  return [...sections, '--', ...symbols].join('\n');
}

test('the committed BPF object is what driver/linux/build.sh builds from vigil.bpf.c', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bpf-'));
  try {
    const out = join(dir, 'vigil.bpf.o');
    execFileSync(join(here, 'build.sh'), [out], { stdio: ['ignore', 'ignore', 'pipe'] });
    const sameBtf = readFileSync(`${committed}.btf-sha256`, 'utf8').trim() === createHash('sha256').update(readFileSync(btf)).digest('hex');
    if (sameBtf) {
      assert.ok(readFileSync(out).equals(readFileSync(committed)), 'rebuild driver/linux/vigil.bpf.o (driver/linux/build.sh) and commit it');
    } else {
      assert.equal(shape(out), shape(committed), 'the programs, maps or sections differ: rebuild driver/linux/vigil.bpf.o and commit it');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
