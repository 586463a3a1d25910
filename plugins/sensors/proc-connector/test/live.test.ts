/**
 * The proc-connector sensor against the real kernel (root): a short process with its program
 * and command line, exit codes, a ptrace attach with both identities, a uid change, the loss
 * path (ENOBUFS counted, then a /proc rescan), standing by for ebpf, and a subscription that
 * is deaf in another pid namespace.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { realpathSync } from 'node:fs';
import type { EventDraft } from '../../../../core/index.js';
import { recordingContext } from '../../../../testing/index.js';
import { procfsGuid, python, which } from '../../../../test/support/linux-live.js';
import { probeBpf, SHIPPED_BPF_OBJECT } from '../../../../driver/ffi/linux/bpf-probe.js';
import { bindNetlink } from '../../../../driver/ffi/linux/netlink.js';
import { listenForCanary } from '../../../../driver/ffi/linux/proc-connector-probe.js';
import { runChildScript } from '../../../../test/support/child-script.js';
import { plugin, type ProcConnectorSensor } from '../index.js';

function skipReason(): string | undefined {
  if (process.platform !== 'linux') return 'the proc connector is Linux only';
  if (process.getuid?.() !== 0) return 'binding to the proc connector needs root (CAP_NET_ADMIN); run the tests as root';
  return undefined;
}
const skip = skipReason();
function run(cmd: string, args: string[]): Promise<{ pid: number; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', (code) => resolve({ pid: child.pid ?? -1, code }));
  });
}

test('live proc connector: a 50 ms process with program and command line, exit codes, the procfs identity', { skip }, async () => {
  const f = recordingContext(plugin, { config: { emit_existing: true }, logLevel: 'info' });
  const sensor = plugin.create(f.ctx);
  try {
    await sensor.start();
    const self = f.emitted.find((d) => d.type === 'process.start' && d.proc?.pid === process.pid);
    assert.ok(self, 'the /proc walk reports the test runner');
    assert.equal(self.raw?.['existing'], true);
    assert.ok(f.logs.some((l) => /proc-connector: live process telemetry from the kernel proc connector/.test(l.msg)));

    const short = await run('sleep', ['0.05']);
    const start = await f.waitFor((d: EventDraft) => d.type === 'process.start' && d.proc?.pid === short.pid);
    assert.equal(start.proc?.cmdline, 'sleep 0.05');
    assert.equal(start.proc?.image, which('sleep'));
    assert.equal(start.proc?.name, 'sleep');
    assert.equal(start.proc?.ppid, process.pid);
    assert.equal(start.proc?.cwd, process.cwd());
    assert.equal(start.proc?.uid, 0);
    assert.equal(start.proc?.user, 'root');
    assert.equal(start.parent?.guid, self.proc?.guid, 'the parent is the process the walk found');
    assert.equal(start.proc?.parent_guid, self.proc?.guid);
    assert.equal(start.raw?.['exec'], true);
    const stop = await f.waitFor((d: EventDraft) => d.type === 'process.stop' && d.proc?.pid === short.pid);
    assert.equal(stop.raw?.['exit_code'], 0);
    assert.equal(stop.proc?.guid, start.proc?.guid);
    assert.equal(stop.proc?.image, which('sleep'));

    // The identity procfs and ebpf give the same process (pid@start_time from /proc's ticks).
    const sleeper = spawn('sleep', ['1'], { stdio: 'ignore' });
    const sleepPid = sleeper.pid as number;
    const s = await f.waitFor((d: EventDraft) => d.type === 'process.start' && d.proc?.pid === sleepPid);
    assert.equal(s.proc?.guid, await procfsGuid(sleepPid));
    sleeper.kill('SIGTERM');
    const killed = await f.waitFor((d: EventDraft) => d.type === 'process.stop' && d.proc?.pid === sleepPid);
    assert.equal(killed.raw?.['signal'], 15);

    const seven = await run('sh', ['-c', 'exit 7']);
    assert.equal(seven.code, 7);
    const sevenStop = await f.waitFor((d: EventDraft) => d.type === 'process.stop' && d.proc?.pid === seven.pid);
    assert.equal(sevenStop.raw?.['exit_code'], 7);
    assert.equal(f.counters.errorTotal, 0, JSON.stringify(f.counters.snapshot().errors));
    assert.deepEqual(f.failures, []);
  } finally {
    await sensor.stop();
    await f.dispose();
  }
});

const skipPython = skip ?? (python === undefined ? 'python3 is not installed (used for ptrace and setresuid)' : undefined);

test('live proc connector: a ptrace attach with both identities, and a uid change updates the table', { skip: skipPython }, async () => {
  const f = recordingContext(plugin, { config: { emit_existing: false } });
  const sensor = plugin.create(f.ctx);
  let target: ReturnType<typeof spawn> | undefined;
  try {
    await sensor.start();
    target = spawn('sleep', ['5'], { stdio: 'ignore' });
    const targetPid = target.pid as number;
    const targetStart = await f.waitFor((d: EventDraft) => d.type === 'process.start' && d.proc?.pid === targetPid);
    const attach = await run(python as string, [
      '-c',
      'import ctypes, sys, os, time\nlibc = ctypes.CDLL(None, use_errno=True)\npid = int(sys.argv[1])\nif libc.ptrace(16, pid, 0, 0) != 0: sys.exit(3)\nos.waitpid(pid, 0)\nlibc.ptrace(17, pid, 0, 0)\ntime.sleep(0.3)',
      String(targetPid),
    ]);
    assert.equal(attach.code, 0, 'python attached to the target');
    const ptrace = await f.waitFor((d: EventDraft) => d.type === 'process.ptrace' && d.proc?.pid === attach.pid);
    assert.equal(ptrace.target?.pid, targetPid);
    assert.equal(ptrace.target?.guid, targetStart.proc?.guid, "the target's identity is the one its start carried");
    assert.equal(ptrace.target?.image, which('sleep'));
    assert.equal(ptrace.proc?.image, realpathSync(python as string));
    assert.ok(ptrace.proc?.guid?.startsWith(`${attach.pid}@`));
    assert.equal(ptrace.raw?.['request'], 'attach');

    // A process that drops to uid 65534 after its exec: its stop carries the new uid. (The
    // sleeps leave the /proc reads after each exec time on a loaded machine: not the point here.)
    const drop = await run(python as string, ['-c', 'import os, time\ntime.sleep(0.3)\nos.setresuid(65534, 65534, 65534)\ntime.sleep(0.05)']);
    assert.equal(drop.code, 0);
    const dropStart = await f.waitFor((d: EventDraft) => d.type === 'process.start' && d.proc?.pid === drop.pid);
    assert.equal(dropStart.proc?.uid, 0);
    const dropStop = await f.waitFor((d: EventDraft) => d.type === 'process.stop' && d.proc?.pid === drop.pid);
    assert.equal(dropStop.proc?.uid, 65534, 'the uid event updated the table');
    assert.ok((f.counters.snapshot().custom['uid_changes'] ?? 0) >= 1);
  } finally {
    target?.kill('SIGKILL');
    await sensor.stop();
    await f.dispose();
  }
});

test('live proc connector: an overflowing socket (ENOBUFS) is counted as loss and a /proc rescan reports what was missed', { skip }, async () => {
  // 256 bytes: the kernel applies its minimum (a few datagrams); the reads are held meanwhile.
  const f = recordingContext(plugin, { config: { emit_existing: false, receive_buffer_bytes: 256 }, logLevel: 'warn' });
  const sensor = plugin.create(f.ctx) as ProcConnectorSensor;
  let late: ReturnType<typeof spawn> | undefined;
  try {
    await sensor.start();
    assert.ok(sensor.receiveBuffer < 16384, `receive buffer ${sensor.receiveBuffer}`);
    sensor.holdReads(true);
    const burst = await run('sh', ['-c', 'i=0; while [ $i -lt 200 ]; do /bin/true; i=$((i+1)); done']);
    assert.equal(burst.code, 0);
    // Started after the socket overflowed: its exec is among the lost events.
    late = spawn('sleep', ['10'], { stdio: 'ignore' });
    const latePid = late.pid as number;
    await new Promise((r) => setTimeout(r, 200));
    sensor.holdReads(false);
    const found = await f.waitFor((d: EventDraft) => d.type === 'process.start' && d.proc?.pid === latePid && d.raw?.['found_by'] === 'rescan');
    assert.equal(found.proc?.cmdline, 'sleep 10');
    assert.equal(found.proc?.image, which('sleep'));
    const snap = f.counters.snapshot();
    assert.ok((snap.discarded['enobufs']?.count ?? 0) >= 1, JSON.stringify(snap.discarded));
    assert.equal(snap.discarded['enobufs']?.intended, false, 'loss, not an intended discard');
    assert.ok((snap.custom['rescans'] ?? 0) >= 1);
    assert.ok((snap.custom['rescan_found'] ?? 0) >= 1);
    assert.ok(f.logs.some((l) => /ENOBUFS.*how many were lost is unknown/.test(l.msg)), 'the loss is said once, with the unknown count');
  } finally {
    late?.kill('SIGKILL');
    await sensor.stop();
    await f.dispose();
  }
});

test('live proc connector with fallback_for: ebpf stands by while eBPF can run, and says so', { skip }, async (t) => {
  const bpf = await probeBpf(SHIPPED_BPF_OBJECT);
  if (bpf !== undefined) return t.skip(`eBPF cannot run here (${bpf.reason}); the standby case needs it`);
  const f = recordingContext(plugin, { config: { fallback_for: 'ebpf' }, logLevel: 'info' });
  const sensor = plugin.create(f.ctx);
  try {
    await sensor.start();
    assert.equal(f.counters.snapshot().custom['standby'], 1, JSON.stringify(f.logs.map((l) => l.msg)));
    assert.ok(f.logs.some((l) => /proc-connector: standing by: the ebpf sensor can run here/.test(l.msg)));
    await run('true', []);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(f.emitted.length, 0, 'nothing is reported while standing by');
  } finally {
    await sensor.stop();
    await f.dispose();
  }
});

const unshareSkip = skip ?? (spawnSync('unshare', ['--pid', '--fork', 'true']).status === 0 ? undefined : 'unshare --pid --fork does not work here');

test('in another pid namespace the subscription is deaf: the probe says so and the sensor refuses to start with VIGIL_ERR_PROCCONN_DEAF', { skip: unshareSkip }, () => {
  const source = `
import { probeProcConnector } from {{probe}};
import { recordingContext } from {{testing}};
import { plugin } from {{plugin}};
const probe = await probeProcConnector({ timeoutMs: 800 });
const f = recordingContext(plugin, { config: { probe_timeout_ms: 800 } });
const sensor = plugin.create(f.ctx);
let code = 'started';
try { await sensor.start(); } catch (err) { code = err.code; } finally { await sensor.stop(); await f.dispose(); }
console.log(JSON.stringify({ probe, code }));
`;
  const modules = {
    probe: new URL('../../../../driver/ffi/linux/proc-connector-probe.js', import.meta.url),
    testing: new URL('../../../../testing/index.js', import.meta.url),
    plugin: new URL('../index.js', import.meta.url),
  };
  // In the initial namespaces the same script hears its canary and starts.
  const here = runChildScript(source, { modules });
  assert.equal(here.status, 0, here.stderr);
  assert.deepEqual(JSON.parse(here.stdout.trim().split('\n').pop() as string), { code: 'started' });
  const inNs = runChildScript(source, { modules, wrap: ['unshare', '--pid', '--fork'] });
  assert.equal(inNs.status, 0, inNs.stderr);
  const out = JSON.parse(inNs.stdout.trim().split('\n').pop() as string) as { probe: { kind: string; reason: string }; code: string };
  assert.equal(out.probe.kind, 'deaf');
  assert.match(out.probe.reason, /delivered no event for the agent's own canary/);
  assert.equal(out.code, 'VIGIL_ERR_PROCCONN_DEAF');
});

test('in another network namespace no connector answers: the subscribe is refused, said as such', { skip: skip ?? (spawnSync('unshare', ['--net', 'true']).status === 0 ? undefined : 'unshare --net does not work here') }, () => {
  const r = runChildScript(`import { probeProcConnector } from {{probe}};\nconsole.log(JSON.stringify(await probeProcConnector({ timeoutMs: 500 })));`, {
    modules: { probe: new URL('../../../../driver/ffi/linux/proc-connector-probe.js', import.meta.url) },
    wrap: ['unshare', '--net'],
  });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim()) as { kind: string; reason: string };
  assert.equal(out.kind, 'subscribe');
  assert.match(out.reason, /network namespace/);
});

test('the canary logic: a socket that never receives is declared deaf within the bound', { skip }, async () => {
  const nl = await bindNetlink();
  // Opened but neither bound to the proc group nor subscribed: nothing ever arrives.
  const s = nl.openConnector();
  assert.ok(s.ok);
  try {
    const why = await listenForCanary(nl, s.value, ['true'], 300);
    assert.equal(why?.kind, 'deaf');
    assert.match(why?.reason ?? '', /within 300 ms/);
  } finally {
    nl.close(s.value);
  }
});
