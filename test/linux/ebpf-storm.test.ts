import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DetectionDraft } from '../../core/index.js';
import type { AgentStatus } from '../../core/kernel/kernel.js';
import { formatStatus } from '../../cli/format.js';
import { HealthMonitor } from '../../core/kernel/health.js';
import { recordingContext } from '../../testing/index.js';
import { plugin, BTF_PATH, createEbpfSensor } from '../../plugins/sensors/ebpf/index.js';
import { ebpfSkipReason } from '../support/linux-live.js';

const skip = ebpfSkipReason(BTF_PATH);

/** 20,000 processes: about 15 s per storm on 2 busy CPUs. */
const STORM = 20_000;
/** Children in flight at once: enough to keep both CPUs busy with forks and execs. */
const PARALLEL = 32;
/** The health threshold of the small-buffer run (lost records per window). */
const MAX_LOST = 10;

/*
 * The storm: waits for one byte on stdin (so the sensor can be told its pid first), then
 * fork+execs /bin/true N times, at most P at once, and prints how many children exited 0
 * (each of them exec'd) and how many did not. Each child's argv carries argv[3] bytes of
 * padding: exec records of about 4 KiB fill a small ring buffer within a few dozen processes.
 */
const STORM_C = `#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/wait.h>
int main(int argc, char **argv) {
  if (argc < 4) return 2;
  long n = atol(argv[1]);
  int par = atoi(argv[2]);
  int padLen = atoi(argv[3]);
  char go;
  if (read(0, &go, 1) != 1) return 2;
  long started = 0, ok = 0, bad = 0;
  int running = 0;
  char pad[4001];
  if (padLen < 0 || padLen > 4000) return 2;
  for (int i = 0; i < padLen; i++) pad[i] = 'x';
  pad[padLen] = 0;
  char *args[] = {"/bin/true", "VIGIL_STORM", padLen > 0 ? pad : NULL, NULL};
  char *env[] = {NULL};
  while (started < n || running > 0) {
    while (started < n && running < par) {
      pid_t p = fork();
      if (p == 0) { execve("/bin/true", args, env); _exit(127); }
      if (p < 0) break;
      started++;
      running++;
    }
    int st;
    if (wait(&st) > 0) {
      running--;
      if (WIFEXITED(st) && WEXITSTATUS(st) == 0) ok++; else bad++;
    }
  }
  printf("%ld %ld\\n", ok, bad);
  return 0;
}
`;

/** The storm program: compiled C where a compiler exists, else a shell loop (slower). */
function stormCommand(dir: string, padLen: number): { cmd: string; args: string[] } {
  const src = join(dir, 'storm.c');
  writeFileSync(src, STORM_C);
  for (const cc of ['cc', 'gcc', 'clang']) {
    const r = spawnSync(cc, ['-O2', '-o', join(dir, 'storm'), src], { stdio: 'ignore' });
    if (r.status === 0) return { cmd: join(dir, 'storm'), args: [String(STORM), String(PARALLEL), String(padLen)] };
  }
  // Same shape without a compiler: read the go byte, then run /bin/true in batches.
  const script = `read go; pad=$(printf '%${padLen}s' '' | tr ' ' x); i=0; while [ $i -lt ${STORM} ]; do j=0; while [ $j -lt ${PARALLEL} ] && [ $i -lt ${STORM} ]; do /bin/true VIGIL_STORM $pad & j=$((j+1)); i=$((i+1)); done; wait; done; echo ${STORM} 0`;
  return { cmd: 'sh', args: ['-c', script] };
}

/**
 * A storm of STORM short processes while the sensor runs, focused on the storm's children
 * (the kernel reports and counts only them, so the machine's other processes do not enter
 * the sums). Every exec is delivered or counted as a drop: delivered + dropped = spawned,
 * exactly. The core's health monitor, fed the sensor's counters, raises its detection when
 * the drops pass the threshold.
 */
async function execStorm(ringBufferBytes: number, padLen: number): Promise<{ dropped: number; delivered: number; health: DetectionDraft[]; summary: string; status: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-storm-'));
  const { cmd, args } = stormCommand(dir, padLen);
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', resolve);
  });
  const stormPid = child.pid as number;
  const f = recordingContext(plugin, { config: { emit_existing: false, ring_buffer_bytes: ringBufferBytes, file_prefixes: [] } });
  const sensor = createEbpfSensor(f.ctx, { focusParents: [stormPid] });
  const raised: DetectionDraft[] = [];
  const health = new HealthMonitor(
    { enabled: true, window_seconds: 600, max_lost_per_window: MAX_LOST, max_errors_per_window: 10, check_interval_seconds: 1 },
    [{ id: 'ebpf', counters: f.counters, state: 'running', manifest: plugin.manifest }],
    (d) => raised.push(d),
  );
  let ok = 0;
  let bad = 0;
  try {
    await sensor.start();
    health.check(Date.now());
    child.stdin.end('g');
    assert.equal(await exited, 0, 'the storm ran');
    [ok, bad] = out.trim().split(' ').map(Number) as [number, number];
  } finally {
    // stop drains the ring buffer and reads the kernel counters once more.
    await sensor.stop();
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
  health.check(Date.now() + 1000);
  assert.equal(ok + bad, STORM);
  assert.equal(bad, 0, 'every child exec\'d /bin/true');
  const stats = sensor.kernelStats;
  assert.ok(stats, 'the poll thread reported the kernel counters at stop');
  const dropped = stats.exec_dropped;
  assert.equal(f.counters.snapshot().discarded['ring_buffer_full:exec']?.count ?? 0, dropped, 'each kernel drop is a discard of its cause');
  const mine = f.emitted.filter((d) => d.type === 'process.start' && d.parent?.pid === stormPid && d.proc?.cmdline === (padLen > 0 ? `/bin/true VIGIL_STORM ${'x'.repeat(padLen)}` : '/bin/true VIGIL_STORM'));
  const summary = `spawned ${ok}, delivered ${mine.length}, kernel saw ${stats.exec_seen} execs, dropped ${dropped}`;
  assert.equal(stats.exec_seen, ok, `the kernel saw exactly the storm's execs (focus): ${summary}`);
  assert.equal(sensor.delivered.exec, mine.length, `every delivered exec is the storm's: ${summary}`);
  assert.equal(mine.length + dropped, ok, `delivered + dropped = spawned: ${summary}`);
  assert.equal(new Set(mine.map((d) => d.proc?.pid)).size, mine.length, 'no exec is delivered twice');
  assert.equal(f.counters.snapshot().discarded['parse_error']?.count ?? 0, 0);
  // `vigil status` as it prints this plugin: events and records by kind, drops by cause, programs.
  const snap = f.counters.snapshot();
  const status = formatStatus({
    pid: 1,
    host: 'h',
    started: 0,
    uptime_seconds: 0,
    config_file: 'vigil.yaml',
    events: { total: 0, by_type: {} },
    detections: { total: 0, by_severity: {}, by_rule: {} },
    actions: {},
    bus_backlog: 0,
    process_table: { size: 0, evicted: 0 },
    plugins: [{ id: 'ebpf', kind: 'sensor', state: 'running', restarts: 0, counters: snap }],
    skipped: [],
  } as unknown as AgentStatus);
  await f.dispose();
  return { dropped, delivered: mine.length, health: raised, summary, status };
}

test(`live eBPF: an exec storm of ${STORM} processes through a 64 KiB ring buffer: delivered + counted drops = spawned, and the health detection is raised`, { skip }, async (t) => {
  const r = await execStorm(65536, 3900);
  t.diagnostic(r.summary);
  assert.ok(r.dropped > MAX_LOST, `a 64 KiB ring buffer overflows in the storm (dropped ${r.dropped}, delivered ${r.delivered})`);
  const lost = r.health.find((d) => d.rule.id === 'vigil.health.lost');
  assert.ok(lost, 'drops past the threshold raise vigil.health.lost');
  assert.match(lost.summary ?? '', /telemetry degraded: sensor ebpf lost \d+ items/);
  assert.match(r.status, new RegExp(`^ebpf: discarded ${r.dropped} \\(ring_buffer_full:exec\\)$`, 'm'), r.status);
  assert.match(r.status, /^ebpf: events: .*process\.start=\d+/m);
  assert.match(r.status, new RegExp(`^ebpf: records: .*exec=${r.delivered}`, 'm'));
  assert.match(r.status, /^ebpf: program: vigil_exec, vigil_fork, vigil_exit, vigil_sys_enter, vigil_tcp_state$/m);
  assert.match(r.status, new RegExp(`^ebpf: counters: .*kernel_exec_dropped=${r.dropped}`, 'm'));
});

test(`live eBPF: an exec storm of ${STORM} processes through the default ring buffer is delivered whole, with no health detection`, { skip }, async (t) => {
  // Short records (about 200 bytes): 20,000 processes' exec, fork and exit records fit in the
  // default 16 MiB even if the poll thread did not run at all.
  const r = await execStorm(16 * 1024 * 1024, 0);
  t.diagnostic(r.summary);
  assert.equal(r.dropped, 0);
  assert.equal(r.delivered, STORM);
  assert.deepEqual(r.health, []);
});
