/**
 * The Linux source chain ebpf → proc-connector → procfs as an operator runs it (`vigil run`,
 * the whole agent). As root with BPF: ebpf runs, proc-connector and procfs stand by and say
 * so. With BPF forced off by config: the proc connector is the source, says so, and a native
 * rule fires on a short process it saw; procfs stands by for it. As an unprivileged user:
 * both kernel sources refuse with their codes and procfs polls and says why.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../core/paths.js';
import { probeBpf, SHIPPED_BPF_OBJECT } from '../../driver/ffi/linux/bpf-probe.js';
import { tempDir } from '../support/config.js';
import { detections, markerRule, NOBODY, unprivilegedSkip as unprivilegedSkipFor, waitFor, withAgent, writeAgentConfig, type StatusPlugin } from '../support/live-agent.js';

const root = projectRoot();

function skipReason(): string | undefined {
  if (process.platform !== 'linux') return 'Linux live sources need Linux';
  if (process.getuid?.() !== 0) return 'the kernel sources need root: run the tests as root to exercise them';
  return undefined;
}
const skip = skipReason();
const unprivilegedSkip = () => unprivilegedSkipFor(skip);

type Plugins = Record<string, unknown>;

/** The default chain, as config/default.yaml has it; `over` replaces plugin blocks. */
function writeConfig(dir: string, marker: string, over: Plugins = {}, rulePaths: string[] = ['rules']): string {
  return writeAgentConfig(dir, markerRule('test.marker_process', 'Process carrying the test marker (test rule)', marker), {
    ebpf: { enabled: true, config: { emit_existing: false } },
    'proc-connector': { enabled: true, config: { fallback_for: 'ebpf', emit_existing: false } },
    procfs: { enabled: true, config: { poll_interval_ms: 50, fallback_for: ['ebpf', 'proc-connector'], emit_existing: false } },
    console: { enabled: false },
    correlation: { enabled: false },
    'rule-engine': { enabled: true, config: { rule_paths: rulePaths } },
    jsonl: { enabled: true, config: { path: 'out/detections.jsonl' } },
    'alert-store': { enabled: false },
    ...over,
  });
}

const running = (p: StatusPlugin[] | undefined, id: string): StatusPlugin | undefined => p?.find((x) => x.id === id && x.state === 'running');

test('vigil run as root with BPF: ebpf is the source, proc-connector and procfs stand by and say so', { skip }, async (t) => {
  const bpf = await probeBpf(SHIPPED_BPF_OBJECT);
  if (bpf !== undefined) return t.skip(`eBPF cannot run here (${bpf.reason})`);
  const dir = tempDir();
  const config = writeConfig(dir, `VIGIL-MARKER-${process.pid}-${Date.now()}`);
  const logs = await withAgent(dir, config, undefined, async (status) => {
    const plugins = await waitFor('all three running', () => {
      const p = status();
      return running(p, 'ebpf') && running(p, 'proc-connector') && running(p, 'procfs') ? p : undefined;
    });
    assert.equal(running(plugins, 'proc-connector')!.counters.custom['standby'], 1);
    assert.equal(running(plugins, 'procfs')!.counters.custom['standby'], 1);
    assert.equal(running(plugins, 'procfs')!.counters.custom['standby_for:ebpf'], 1);
  });
  assert.match(logs, /ebpf: live process telemetry from the kernel/);
  assert.match(logs, /proc-connector: standing by: the ebpf sensor can run here/);
  assert.match(logs, /procfs: standing by: the ebpf sensor can run here/);
});

const python = ['/usr/bin/python3', '/usr/local/bin/python3'].find((p) => existsSync(p));

test('vigil run as root with BPF forced off by config: the proc connector is the source and says so, native rules fire on a 50 ms process and a ptrace attach', { skip: skip ?? (python === undefined ? 'python3 is not installed (used for ptrace)' : undefined) }, async () => {
  const dir = tempDir();
  const marker = `VIGIL-MARKER-${process.pid}-${Date.now()}`;
  const config = writeConfig(
    dir,
    marker,
    {
      ebpf: { enabled: false },
      'proc-connector': { enabled: true, config: { fallback_for: '', emit_existing: false } },
      procfs: { enabled: true, config: { poll_interval_ms: 50, fallback_for: 'proc-connector', emit_existing: false } },
    },
    ['rules', join(root, 'rules', 'linux'), join(root, 'rules', 'lists.json')],
  );
  let targetPid = 0;
  const logs = await withAgent(dir, config, undefined, async (status) => {
    const plugins = await waitFor('proc-connector and procfs running', () => {
      const p = status();
      return running(p, 'proc-connector') && running(p, 'procfs') ? p : undefined;
    });
    assert.equal(plugins.find((x) => x.id === 'ebpf'), undefined, 'ebpf is disabled');
    assert.equal(running(plugins, 'proc-connector')!.counters.custom['standby'], 0);
    assert.equal(running(plugins, 'procfs')!.counters.custom['standby_for:proc-connector'], 1);
    // A process that lives about 50 ms, with the marker in its command line.
    spawnSync('sh', ['-c', `sleep 0.05; : ${marker}`]);
    await waitFor('the marker detection', () => detections(dir).find((d) => d.rule.id === 'test.marker_process'));
    // A process that ptraces another: the shipped rule fires with the target named.
    const target = spawn('sleep', ['5'], { stdio: 'ignore' });
    targetPid = target.pid as number;
    try {
      const r = spawnSync(python as string, ['-c', 'import ctypes, sys, os\nlibc = ctypes.CDLL(None)\npid = int(sys.argv[1])\nif libc.ptrace(16, pid, 0, 0) != 0: sys.exit(3)\nos.waitpid(pid, 0)\nlibc.ptrace(17, pid, 0, 0)', String(targetPid)]);
      assert.equal(r.status, 0, 'python attached to the target');
      await waitFor('the ptrace rule', () => detections(dir).find((d) => d.rule.id === 'lnx.privilege_escalation.ptrace_attach' && JSON.stringify(d.evidence ?? []).includes(`"pid":${targetPid}`)));
    } finally {
      target.kill('SIGKILL');
    }
    const after = status();
    assert.ok((running(after, 'proc-connector')?.counters.custom['events:exec'] ?? 0) >= 1);
  });
  assert.match(logs, /proc-connector: live process telemetry from the kernel proc connector/);
  assert.match(logs, /procfs: standing by: the proc-connector sensor can run here/);
  const found = detections(dir).filter((d) => d.rule.id === 'test.marker_process');
  const ptrace = detections(dir).find((d) => d.rule.id === 'lnx.privilege_escalation.ptrace_attach');
  assert.equal((ptrace?.evidence?.[0] as { target?: { pid?: number } } | undefined)?.target?.pid, targetPid, 'the evidence names the target');
  const cmdlines = found.flatMap((d) => (d.evidence ?? []).map((e) => e.proc?.cmdline));
  assert.ok(cmdlines.includes(`sh -c sleep 0.05; : ${marker}`), JSON.stringify(cmdlines));
  assert.ok(found.flatMap((d) => d.evidence ?? []).some((e) => e.source === 'proc-connector'), 'the evidence names its source');
});

test('vigil run as an unprivileged user: ebpf and proc-connector refuse with their reasons, procfs polls and says so', { skip: unprivilegedSkip() }, async () => {
  const dir = tempDir();
  const marker = `VIGIL-MARKER-${process.pid}-${Date.now()}`;
  const config = writeConfig(dir, marker);
  spawnSync('chown', ['-R', `${NOBODY}:${NOBODY}`, dir]);
  const logs = await withAgent(dir, config, NOBODY, async (status) => {
    const plugins = await waitFor('procfs running, the others settled', () => {
      const p = status();
      const settled = (id: string): boolean => p?.find((x) => x.id === id)?.state !== 'starting';
      return running(p, 'procfs') && settled('ebpf') && settled('proc-connector') ? p : undefined;
    });
    const procfs = running(plugins, 'procfs')!;
    assert.equal(procfs.counters.custom['standby'], 0);
    assert.equal(procfs.counters.custom['fallback_reason:privilege'], 1);
    assert.equal(procfs.counters.custom['fallback_reason:proc-connector:privilege'], 1);
    assert.notEqual(plugins.find((x) => x.id === 'ebpf')?.state, 'running');
    assert.notEqual(plugins.find((x) => x.id === 'proc-connector')?.state, 'running');
    spawnSync('sh', ['-c', `sleep 2; : ${marker}-long`]);
    await waitFor('the detection through procfs', () => (detections(dir).length >= 1 ? true : undefined));
  });
  assert.match(logs, /VIGIL_ERR_EBPF_PRIVILEGE/);
  assert.match(logs, /VIGIL_ERR_PROCCONN_PRIVILEGE/);
  assert.match(logs, /procfs: polling \/proc as the fallback for ebpf and proc-connector, which cannot run here: ebpf: .*lacks CAP_BPF.*; proc-connector: binding to the proc connector group was refused \(EPERM\)/);
});
