/**
 * Linux live telemetry as an operator runs it: `vigil run` with the eBPF sensor and procfs as
 * its fallback. As root, the kernel reports a short shell with its own command line and a
 * native rule fires on it, and procfs stands by; as an unprivileged user, ebpf fails to start
 * with the reason and procfs polls instead, and both say so.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../core/paths.js';
import { tempDir } from '../support/config.js';
import { detections, markerRule, NOBODY, unprivilegedSkip as unprivilegedSkipFor, waitFor, withAgent, writeAgentConfig } from '../support/live-agent.js';

const root = projectRoot();

function skipReason(): string | undefined {
  if (process.platform !== 'linux') return 'Linux live sources need Linux';
  if (process.getuid?.() !== 0) return 'the eBPF sensor needs root: run the tests as root to exercise it';
  if (!existsSync('/sys/kernel/btf/vmlinux')) return 'the kernel has no BTF (/sys/kernel/btf/vmlinux)';
  if (!['/usr/lib/x86_64-linux-gnu', '/usr/lib64', '/usr/lib'].some((d) => existsSync(join(d, 'libbpf.so.1')))) return 'libbpf.so.1 is not installed';
  return undefined;
}
const skip = skipReason();
const unprivilegedSkip = () => unprivilegedSkipFor(skip);

function writeConfig(dir: string, marker: string, ebpfConfig: Record<string, unknown> = {}, rulePaths: string[] = ['rules']): string {
  return writeAgentConfig(dir, markerRule('test.marker_shell', 'Shell carrying the test marker (test rule)', marker), {
    ebpf: { enabled: true, config: ebpfConfig },
    procfs: { enabled: true, config: { poll_interval_ms: 50, fallback_for: 'ebpf', emit_existing: false } },
    console: { enabled: false },
    correlation: { enabled: false },
    'rule-engine': { enabled: true, config: { rule_paths: rulePaths } },
    jsonl: { enabled: true, config: { path: 'out/detections.jsonl' } },
    'alert-store': { enabled: false },
  });
}

test('vigil run as root: ebpf is the source, procfs stands by, a native rule fires on a shell that execs at once', { skip }, async () => {
  const dir = tempDir();
  const marker = `VIGIL-MARKER-${process.pid}-${Date.now()}`;
  const config = writeConfig(dir, marker);
  const logs = await withAgent(dir, config, undefined, async (status) => {
    const plugins = await waitFor('ebpf and procfs running', () => {
      const p = status();
      return p?.find((x) => x.id === 'ebpf')?.state === 'running' && p.find((x) => x.id === 'procfs')?.state === 'running' ? p : undefined;
    });
    const ebpf = plugins.find((x) => x.id === 'ebpf')!;
    assert.equal(ebpf.counters.custom['programs_attached'], 5);
    assert.equal(ebpf.counters.custom['program:vigil_exec'], 1);
    assert.equal(plugins.find((x) => x.id === 'procfs')!.counters.custom['standby'], 1, 'procfs stands by while ebpf runs');
    // (b): the shell lives about a millisecond before it becomes sleep; polling never sees its command line.
    spawnSync('sh', ['-c', `: ${marker}; exec sleep 0.3`]);
    // (a): a process that lives 2 s with the marker in its command line.
    spawnSync('sh', ['-c', `sleep 2; : ${marker}-long`]);
    await waitFor('two detections', () => (detections(dir).length >= 2 ? true : undefined));
  });
  assert.match(logs, /ebpf: live process telemetry from the kernel \(5 programs attached\)/);
  assert.match(logs, /procfs: standing by: the ebpf sensor can run here/);
  const found = detections(dir);
  assert.ok(found.every((d) => d.rule.id === 'test.marker_shell'));
  const cmdlines = found.flatMap((d) => (d.evidence ?? []).map((e) => e.proc?.cmdline));
  assert.ok(cmdlines.includes(`sh -c : ${marker}; exec sleep 0.3`), JSON.stringify(cmdlines));
  assert.ok(cmdlines.includes(`sh -c sleep 2; : ${marker}-long`), JSON.stringify(cmdlines));
});

test('vigil run as an unprivileged user: ebpf fails to start and says why, procfs polls as the fallback and says so', { skip: unprivilegedSkip() }, async () => {
  const dir = tempDir();
  const marker = `VIGIL-MARKER-${process.pid}-${Date.now()}`;
  const config = writeConfig(dir, marker);
  // The agent's user owns its folder (0700): it writes its data there, and the config and
  // rules in it pass the owner and mode checks (a world-writable folder would not).
  spawnSync('chown', ['-R', `${NOBODY}:${NOBODY}`, dir]);
  const logs = await withAgent(dir, config, NOBODY, async (status) => {
    const plugins = await waitFor('procfs running', () => {
      const p = status();
      return p?.find((x) => x.id === 'procfs')?.state === 'running' && p.find((x) => x.id === 'ebpf')?.state !== 'starting' ? p : undefined;
    });
    const procfs = plugins.find((x) => x.id === 'procfs')!;
    assert.equal(procfs.counters.custom['standby'], 0);
    assert.equal(procfs.counters.custom['fallback_reason:privilege'], 1);
    assert.notEqual(plugins.find((x) => x.id === 'ebpf')?.state, 'running');
    spawnSync('sh', ['-c', `sleep 2; : ${marker}-long`]);
    await waitFor('the detection through procfs', () => (detections(dir).length >= 1 ? true : undefined));
  });
  assert.match(logs, /VIGIL_ERR_EBPF_PRIVILEGE/);
  assert.match(logs, /procfs: polling \/proc as the fallback for ebpf, which cannot run here: .*lacks CAP_BPF/);
});

test('vigil run as root: ring-buffer drops in an exec storm are counted by cause and raise the health detection', { skip }, async () => {
  const dir = tempDir();
  const config = writeConfig(dir, `VIGIL-MARKER-${process.pid}-${Date.now()}`, { ring_buffer_bytes: 65536, emit_existing: false });
  await withAgent(dir, config, undefined, async (status) => {
    await waitFor('ebpf running', () => (status()?.find((x) => x.id === 'ebpf')?.state === 'running' ? true : undefined));
    let dropped = 0;
    // Each round is 2,000 short processes from 20 shells; a 64 KiB ring buffer overflows.
    for (let round = 0; round < 5 && dropped === 0; round++) {
      await Promise.all(
        Array.from({ length: 20 }, () => new Promise((resolve) => spawn('sh', ['-c', 'i=0; while [ $i -lt 100 ]; do /bin/true & i=$((i+1)); done; wait'], { stdio: 'ignore' }).once('exit', resolve))),
      );
      dropped = await waitFor('the kernel counters', () => {
        const e = status()?.find((x) => x.id === 'ebpf');
        return e?.counters.custom['kernel_exec_seen'] === undefined ? undefined : (e.counters.discarded['ring_buffer_full:exec']?.count ?? 0);
      });
    }
    assert.ok(dropped > 0, 'a 64 KiB ring buffer overflows in an exec storm');
    const health = await waitFor('the health detection', () => detections(dir).find((d) => d.rule.id === 'vigil.health.lost'));
    assert.match(health.summary ?? '', /telemetry degraded: sensor ebpf lost \d+ items/);
  });
});

const python = ['/usr/bin/python3', '/usr/local/bin/python3'].find((p) => existsSync(p));

test('vigil run as root with the shipped rules: ptrace attach, a program run from memory and a write to authorized_keys raise their native rules', { skip: skip ?? (python === undefined ? 'python3 is not installed' : undefined) }, async () => {
  const dir = tempDir();
  const home = join(dir, 'home');
  mkdirSync(join(home, '.ssh'), { recursive: true });
  const config = writeConfig(dir, `VIGIL-MARKER-${process.pid}-${Date.now()}`, { emit_existing: false, file_prefixes: [`${home}/`] }, [
    join(root, 'rules', 'linux'),
    join(root, 'rules', 'lists.json'),
  ]);
  await withAgent(dir, config, undefined, async (status) => {
    await waitFor('ebpf running', () => (status()?.find((x) => x.id === 'ebpf')?.state === 'running' ? true : undefined));
    const target = spawn('sleep', ['5'], { stdio: 'ignore' });
    try {
      // (c) a process that ptraces another.
      spawnSync(python as string, ['-c', 'import ctypes, sys, os\nlibc = ctypes.CDLL(None)\npid = int(sys.argv[1])\nlibc.ptrace(16, pid, 0, 0)\nos.waitpid(pid, 0)\nlibc.ptrace(17, pid, 0, 0)', String(target.pid)]);
      spawnSync(python as string, ['-c', "import os\nfd = os.memfd_create('vigil-test', 0)\nos.write(fd, open('/bin/true', 'rb').read())\nos.execv('/proc/self/fd/%d' % fd, ['from-memory'])"]);
      const ptrace = await waitFor('the ptrace rule', () => detections(dir).find((d) => d.rule.id === 'lnx.privilege_escalation.ptrace_attach'));
      assert.ok(ptrace.evidence?.some((e) => (e as { target?: { pid?: number } }).target?.pid === target.pid), 'the evidence names the target');
      await waitFor('the memfd rule', () => detections(dir).find((d) => d.rule.id === 'lnx.defense_evasion.memfd_execution'));
      // (e) a file written under a watched prefix.
      spawnSync('sh', ['-c', `echo ssh-ed25519 AAAA test >> ${home}/.ssh/authorized_keys`]);
      const keys = await waitFor('the authorized_keys rule', () => detections(dir).find((d) => d.rule.id === 'lnx.persistence.ssh_authorized_keys_modified'));
      assert.ok(keys.evidence?.some((e) => (e as { file?: { path?: string } }).file?.path === `${home}/.ssh/authorized_keys`));
    } finally {
      target.kill('SIGKILL');
    }
  });
});
