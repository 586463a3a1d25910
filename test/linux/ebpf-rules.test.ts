import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { parseConfig } from '../../core/config/index.js';
import { Kernel } from '../../core/kernel/kernel.js';
import { projectRoot } from '../../core/paths.js';
import { silentLogger } from '../../core/telemetry/logger.js';
import { bpfPreconditions, SHIPPED_BPF_OBJECT } from '../../driver/ffi/linux/bpf-probe.js';
import { waitFor } from '../support/cli.js';

const root = projectRoot();
const python = ['/usr/bin/python3', '/usr/local/bin/python3'].find((p) => existsSync(p));

async function skipReason(): Promise<string | undefined> {
  if (process.platform !== 'linux') return 'the eBPF sensor needs Linux';
  if (process.getuid?.() !== 0) return 'the eBPF sensor needs root (CAP_BPF); run the tests as root to exercise it';
  if (python === undefined) return 'python3 is not installed (the test uses it for /proc/<pid>/mem, memfd_create and finit_module)';
  const missing = await bpfPreconditions(SHIPPED_BPF_OBJECT);
  return missing === undefined ? undefined : `eBPF cannot run here: ${missing.reason}`;
}
const skip = await skipReason();

test('the agent with ebpf and the shipped Linux rules: /proc/<pid>/mem of another process, memfd_create from python and a module load from /tmp raise their native rules', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-ebpf-rules-'));
  const text = stringify({
    agent: { data_dir: join(dir, 'var'), stop_timeout_seconds: 3 },
    health: { enabled: false },
    plugins: {
      console: { enabled: false },
      correlation: { enabled: false },
      jsonl: { enabled: false },
      'alert-store': { enabled: false },
      'process-actions': { enabled: false },
      procfs: { enabled: false },
      ebpf: { enabled: true, config: { emit_existing: false, file_prefixes: [] } },
      'rule-engine': { enabled: true, config: { rule_paths: [join(root, 'rules', 'linux'), join(root, 'rules', 'lists.json')] } },
    },
  });
  const kernel = new Kernel(parseConfig(text, join(dir, 'vigil.yaml')), { logger: silentLogger() });
  const target = spawn('sleep', ['10'], { stdio: 'ignore' });
  try {
    await kernel.load();
    await kernel.start();
    const ko = join(dir, 'rootkit.ko');
    writeFileSync(ko, 'not a module');
    const r = spawnSync(
      python as string,
      [
        '-c',
        [
          'import ctypes, os, sys',
          'os.close(os.open(f"/proc/{sys.argv[1]}/mem", os.O_RDONLY))',
          "os.close(os.memfd_create('stage2', os.MFD_CLOEXEC))",
          'fd = os.open(sys.argv[2], os.O_RDONLY)',
          'ctypes.CDLL(None, use_errno=True).syscall(313, fd, b"", 0)',
        ].join('\n'),
        String(target.pid),
        ko,
      ],
      { stdio: 'ignore' },
    );
    assert.equal(r.status, 0);
    const rules = ['lnx.credential_access.proc_mem_access', 'lnx.defense_evasion.memfd_create_by_script_or_temp_binary', 'lnx.persistence.kernel_module_load_syscall'];
    for (const id of rules) {
      await waitFor(`detection ${id}`, () => ((kernel.status().detections.by_rule[id]?.count ?? 0) > 0 ? true : undefined), 30_000);
    }
    const ebpf = kernel.status().plugins.find((p) => p.id === 'ebpf');
    assert.ok((ebpf?.counters.custom['events:memory.access'] ?? 0) >= 1);
    assert.ok((ebpf?.counters.custom['events:driver.load'] ?? 0) >= 1);
  } finally {
    target.kill('SIGKILL');
    await kernel.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
