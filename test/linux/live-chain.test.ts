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
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { projectRoot } from '../../core/paths.js';
import { probeBpf, SHIPPED_BPF_OBJECT } from '../../driver/ffi/linux/bpf-probe.js';
import { tempDir } from '../support/config.js';
import { exited } from '../support/cli.js';

const root = projectRoot();
const bin = join(root, 'bin', 'vigil.js');
const NOBODY = 65534;

function skipReason(): string | undefined {
  if (process.platform !== 'linux') return 'Linux live sources need Linux';
  if (process.getuid?.() !== 0) return 'the kernel sources need root: run the tests as root to exercise them';
  return undefined;
}
const skip = skipReason();

function unprivilegedSkip(): string | false {
  if (skip !== undefined) return skip;
  if (spawnSync('setpriv', ['--version']).status !== 0) return 'setpriv (util-linux) is not installed';
  const r = spawnSync('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--', process.execPath, '-e', `require('node:fs').accessSync(${JSON.stringify(join(root, 'dist', 'cli', 'main.js'))})`]);
  return r.status === 0 ? false : `uid ${NOBODY} cannot read this checkout (${root}), so it cannot run the agent`;
}

const MARKER_RULE = (marker: string) => ({
  id: 'test.marker_process',
  title: 'Process carrying the test marker (test rule)',
  description: 'test',
  version: '1.0.0',
  severity: 'high',
  tags: ['attack.execution'],
  event: ['process.start'],
  match: { all: [{ field: 'proc.cmdline', contains_any: [marker] }] },
});

type Plugins = Record<string, unknown>;

/** The default chain, as config/default.yaml has it; `over` replaces plugin blocks. */
function writeConfig(dir: string, marker: string, over: Plugins = {}, rulePaths: string[] = ['rules']): string {
  mkdirSync(join(dir, 'rules'));
  writeFileSync(join(dir, 'rules', 'marker.json'), JSON.stringify(MARKER_RULE(marker)));
  const file = join(dir, 'vigil.yaml');
  writeFileSync(
    file,
    stringify({
      agent: { data_dir: 'var', stop_timeout_seconds: 3, max_restarts: 0 },
      health: { check_interval_seconds: 0.2 },
      plugins: {
        ebpf: { enabled: true, config: { emit_existing: false } },
        'proc-connector': { enabled: true, config: { fallback_for: 'ebpf', emit_existing: false } },
        procfs: { enabled: true, config: { poll_interval_ms: 50, fallback_for: ['ebpf', 'proc-connector'], emit_existing: false } },
        console: { enabled: false },
        correlation: { enabled: false },
        'rule-engine': { enabled: true, config: { rule_paths: rulePaths } },
        jsonl: { enabled: true, config: { path: 'out/detections.jsonl' } },
        'alert-store': { enabled: false },
        ...over,
      },
    }),
  );
  return file;
}

async function waitFor<T>(what: string, fn: () => T | undefined, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface StatusPlugin {
  id: string;
  state: string;
  counters: { received: number; custom: Record<string, number>; discarded: Record<string, { count: number }> };
}

async function withAgent(dir: string, config: string, uid: number | undefined, during: (status: () => StatusPlugin[] | undefined) => Promise<void>): Promise<string> {
  const prefix = uid === undefined ? [] : ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--inh-caps=-all', '--'];
  const cmd = [...prefix, process.execPath, bin, 'run', '--config', config];
  const child = spawn(cmd[0] as string, cmd.slice(1), { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, VIGIL_CONFIG: '' } });
  let logs = '';
  child.stderr!.on('data', (d: Buffer) => (logs += d.toString()));
  child.stdout!.on('data', (d: Buffer) => (logs += d.toString()));
  const status = (): StatusPlugin[] | undefined => {
    const statusCmd = [...prefix.filter((a) => a !== '--inh-caps=-all'), process.execPath, bin, 'status', '--json', '--config', config];
    const s = spawnSync(statusCmd[0] as string, statusCmd.slice(1), { cwd: dir, encoding: 'utf8', env: { ...process.env, VIGIL_CONFIG: '' } });
    return s.status === 0 ? (JSON.parse(s.stdout) as { plugins: StatusPlugin[] }).plugins : undefined;
  };
  try {
    await waitFor('the agent to start', () => (logs.includes('vigil agent running') ? true : undefined));
    await during(status);
  } finally {
    child.kill('SIGTERM');
  }
  const guard = setTimeout(() => child.kill('SIGKILL'), 15_000);
  const code = await exited(child);
  clearTimeout(guard);
  assert.equal(code, 0, logs.slice(-3000));
  return logs;
}

function detections(dir: string): { rule: { id: string }; evidence?: { proc?: { cmdline?: string }; source?: string }[] }[] {
  const file = join(dir, 'out', 'detections.jsonl');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').trim().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { rule: { id: string } });
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
