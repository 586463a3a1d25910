import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { EventDraft } from '../../../../core/index.js';
import { plugin, BTF_PATH } from '../index.js';
import { recordingContext } from '../../../../testing/index.js';
import { ebpfSkipReason, procfsGuid, python, which } from '../../../../test/support/linux-live.js';

const skip = ebpfSkipReason(BTF_PATH);
function run(cmd: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', () => resolve(child.pid ?? -1));
  });
}

function runPython(code: string, args: string[]): Promise<{ pid: number; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(python as string, ['-c', code, ...args], { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', (exitCode) => resolve({ pid: child.pid ?? -1, code: exitCode }));
  });
}

test('live eBPF: a 2 s process and a shell that execs at once are seen with their own command lines', { skip }, async () => {
  const f = recordingContext(plugin, { config: { emit_existing: true } });
  const sensor = plugin.create(f.ctx);
  try {
    await sensor.start();
    const self = f.emitted.find((d) => d.type === 'process.start' && d.proc?.pid === process.pid);
    assert.ok(self, 'the /proc walk reports the test runner as an existing process');
    assert.equal(self.raw?.['existing'], true);

    // (a) a process that lives 2 s, with its command line.
    const sleeper = spawn('sleep', ['2'], { stdio: 'ignore' });
    const sleepPid = sleeper.pid as number;
    const sleepExit = new Promise((r) => sleeper.once('exit', r));
    const a = await f.waitFor((d: EventDraft) => d.type === 'process.start' && d.proc?.pid === sleepPid);
    // The identity procfs gives the same process, from /proc/<pid>/stat and btime.
    assert.equal(a.proc?.guid, await procfsGuid(sleepPid), 'ebpf and procfs name the process alike');
    await sleepExit;
    assert.equal(a.proc?.cmdline, 'sleep 2');
    assert.equal(a.proc?.image, which('sleep'));
    assert.equal(a.proc?.name, 'sleep');
    assert.equal(a.proc?.ppid, process.pid);
    assert.equal(a.proc?.cwd, process.cwd());
    assert.equal(a.proc?.uid, 0);
    assert.equal(a.proc?.user, 'root');
    assert.equal(a.proc?.guid, `${sleepPid}@${a.proc?.start_time}`);
    assert.equal(a.parent?.guid, self.proc?.guid, 'the parent is the process the walk found');
    assert.equal(a.parent?.image, realpathSync(process.execPath));
    const aStop = await f.waitFor((d: EventDraft) => d.type === 'process.stop' && d.proc?.guid === a.proc?.guid);
    assert.equal(aStop.raw?.['exit_code'], 0);
    assert.equal(aStop.proc?.image, which('sleep'));

    // (b) a shell that lives about a millisecond before exec'ing another program: both
    // command lines, one process identity.
    const marker = `MARKER-${process.pid}-${Date.now()}`;
    const shPid = await run('sh', ['-c', `: ${marker}; exec sleep 0.3`]);
    const sh = await f.waitFor((d: EventDraft) => d.type === 'process.start' && d.proc?.pid === shPid && d.proc.cmdline?.includes(marker) === true);
    assert.equal(sh.proc?.cmdline, `sh -c : ${marker}; exec sleep 0.3`);
    assert.equal(sh.proc?.image, which('sh'));
    const slept = await f.waitFor((d: EventDraft) => d.type === 'process.start' && d.proc?.pid === shPid && d.proc.cmdline === 'sleep 0.3');
    assert.equal(slept.proc?.guid, sh.proc?.guid, 'exec keeps the process identity');
    assert.equal(slept.proc?.image, which('sleep'));
    assert.ok(f.emitted.indexOf(slept) > f.emitted.indexOf(sh), 'the shell is reported before the program it became');

    // A program run from memory (memfd_create + execve of /proc/self/fd/N): the image is the memfd.
    if (python !== undefined) {
      const memfd = await runPython(
        "import os\nfd = os.memfd_create('vigil-test', 0)\nos.write(fd, open('/bin/true', 'rb').read())\nos.execv('/proc/self/fd/%d' % fd, ['from-memory', 'x'])",
        [],
      );
      const fromMemory = await f.waitFor((d: EventDraft) => d.type === 'process.start' && d.proc?.pid === memfd.pid && d.proc.cmdline === 'from-memory x');
      assert.equal(fromMemory.proc?.image, '/memfd:vigil-test');
    }

    // A non-zero exit code.
    const falsePid = await run('sh', ['-c', 'exit 7']);
    const falseStop = await f.waitFor((d: EventDraft) => d.type === 'process.stop' && d.proc?.pid === falsePid);
    assert.equal(falseStop.raw?.['exit_code'], 7);

    const custom = f.counters.snapshot().custom;
    assert.equal(custom['programs_attached'], 5);
    assert.equal(custom['program:vigil_exec'], 1);
    assert.equal(f.counters.errorTotal, 0, JSON.stringify(f.counters.snapshot().errors));
  } finally {
    await sensor.stop();
    await sensor.stop();
    await f.dispose();
  }
});

const skipPython = skip ?? (python === undefined ? 'python3 is not installed (the test uses it for ptrace, process_vm_writev and connect)' : undefined);

test('live eBPF: ptrace attach, process_vm_writev, TCP connects (v4, v6) and files under a watched prefix carry identities, addresses and paths', { skip: skipPython }, async () => {
  const watched = mkdtempSync(join(tmpdir(), 'vigil-ebpf-watched-'));
  const f = recordingContext(plugin, { config: { emit_existing: false, file_prefixes: [`${watched}/`] } });
  const sensor = plugin.create(f.ctx);
  let target: ReturnType<typeof spawn> | undefined;
  const server4 = createServer((s) => s.destroy());
  const server6 = createServer((s) => s.destroy());
  try {
    await sensor.start();
    target = spawn('sleep', ['5'], { stdio: 'ignore' });
    const targetPid = target.pid as number;
    const targetStart = await f.waitFor((d: EventDraft) => d.type === 'process.start' && d.proc?.pid === targetPid && d.proc.cmdline === 'sleep 5');

    // (c) a process that ptraces another.
    const attach = await runPython(
      'import ctypes, sys, os\nlibc = ctypes.CDLL(None, use_errno=True)\npid = int(sys.argv[1])\nif libc.ptrace(16, pid, 0, 0) != 0: sys.exit(3)\nos.waitpid(pid, 0)\nlibc.ptrace(17, pid, 0, 0)',
      [String(targetPid)],
    );
    assert.equal(attach.code, 0, 'python attached to the target');
    const ptrace = await f.waitFor((d: EventDraft) => d.type === 'process.ptrace' && d.proc?.pid === attach.pid);
    assert.equal(ptrace.target?.pid, targetPid);
    assert.equal(ptrace.raw?.['request'], 'attach');
    assert.equal(ptrace.proc?.image, realpathSync(python as string));
    assert.equal(ptrace.target?.guid, targetStart.proc?.guid, "the target's identity is the one its start carried");
    assert.equal(ptrace.target?.image, which('sleep'));

    // process_vm_writev into another process (the kernel refuses the bad address; the attempt is reported).
    const write = await runPython(
      'import ctypes, sys\nlibc = ctypes.CDLL(None, use_errno=True)\nclass iov(ctypes.Structure):\n  _fields_ = [("b", ctypes.c_void_p), ("n", ctypes.c_size_t)]\nbuf = ctypes.create_string_buffer(8)\nl = iov(ctypes.addressof(buf), 8)\nr = iov(8, 8)\nlibc.syscall(311, int(sys.argv[1]), ctypes.byref(l), 1, ctypes.byref(r), 1, 0)',
      [String(targetPid)],
    );
    const mem = await f.waitFor((d: EventDraft) => d.type === 'memory.access' && d.proc?.pid === write.pid);
    assert.equal(mem.target?.pid, targetPid);
    assert.equal(mem.raw?.['syscall'], 'process_vm_writev');

    // (d) connects to loopback ports, v4 and v6.
    await new Promise<void>((r) => server4.listen(0, '127.0.0.1', r));
    await new Promise<void>((r) => server6.listen(0, '::1', r));
    const port4 = (server4.address() as AddressInfo).port;
    const port6 = (server6.address() as AddressInfo).port;
    const connect = 'import socket, sys\nfor host, port in ((sys.argv[1], int(sys.argv[2])), (sys.argv[3], int(sys.argv[4]))):\n  socket.create_connection((host, port)).close()';
    const c = await runPython(connect, ['127.0.0.1', String(port4), '::1', String(port6)]);
    assert.equal(c.code, 0);
    const v4 = await f.waitFor((d: EventDraft) => d.type === 'net.connect' && d.proc?.pid === c.pid && d.net?.dst_port === port4);
    assert.equal(v4.net?.dst_ip, '127.0.0.1');
    assert.equal(v4.net?.src_ip, '127.0.0.1');
    assert.equal(v4.net?.protocol, 'tcp');
    assert.equal(v4.net?.ipv6, false);
    const v6 = await f.waitFor((d: EventDraft) => d.type === 'net.connect' && d.proc?.pid === c.pid && d.net?.dst_port === port6);
    assert.equal(v6.net?.dst_ip, '::1');
    assert.equal(v6.net?.ipv6, true);

    // (e) a file written, read and removed under a watched prefix; a path outside is not reported.
    const file = join(watched, 'dropped.sh');
    const sh = spawn('sh', ['-c', `echo x > ${file}; cat ${file} > /dev/null; rm ${file}; cat /etc/hostname > /dev/null`], { stdio: 'ignore' });
    await new Promise((r) => sh.once('exit', r));
    const created = await f.waitFor((d: EventDraft) => d.type === 'file.create' && d.file?.path === file);
    assert.equal(created.proc?.pid, sh.pid);
    assert.equal(created.file?.name, 'dropped.sh');
    assert.ok(((created.file?.flags ?? 0) & 0o1) !== 0, 'opened for writing');
    const opened = await f.waitFor((d: EventDraft) => d.type === 'file.open' && d.file?.path === file);
    assert.equal((opened.file?.flags ?? -1) & 0o3, 0, 'cat opens read-only');
    await f.waitFor((d: EventDraft) => d.type === 'file.delete' && d.file?.path === file);
    assert.ok(!f.emitted.some((d) => d.file?.path === '/etc/hostname'), 'a path outside the prefixes is filtered in the kernel');
    assert.equal(f.counters.errorTotal, 0, JSON.stringify(f.counters.snapshot().errors));
  } finally {
    target?.kill('SIGKILL');
    server4.close();
    server6.close();
    await sensor.stop();
    await f.dispose();
    rmSync(watched, { recursive: true, force: true });
  }
});

test("live eBPF: another process's /proc/<pid>/mem as memory.access, memfd_create as file.create, finit_module and init_module as driver.load", { skip: skipPython }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-ebpf-mod-'));
  // No file prefix: the /proc/<pid>/mem check does not depend on them.
  const f = recordingContext(plugin, { config: { emit_existing: false, file_prefixes: [] } });
  const sensor = plugin.create(f.ctx);
  let target: ReturnType<typeof spawn> | undefined;
  try {
    await sensor.start();
    target = spawn('sleep', ['5'], { stdio: 'ignore' });
    const targetPid = target.pid as number;
    const targetStart = await f.waitFor((d: EventDraft) => d.type === 'process.start' && d.proc?.pid === targetPid && d.proc.cmdline === 'sleep 5');

    // Another process's memory, then its own three ways (not reported: not another process).
    const reader = await runPython(
      'import os, sys\nfor p in (f"/proc/{sys.argv[1]}/mem", "/proc/self/mem", f"/proc/{os.getpid()}/mem", f"/proc/{os.getpid()}/task/{os.getpid()}/mem"):\n  os.close(os.open(p, os.O_RDONLY))',
      [String(targetPid)],
    );
    assert.equal(reader.code, 0);
    const mem = await f.waitFor((d: EventDraft) => d.type === 'memory.access' && d.proc?.pid === reader.pid);
    assert.equal(mem.file?.path, `/proc/${targetPid}/mem`);
    assert.equal(mem.target?.pid, targetPid);
    assert.equal(mem.target?.guid, targetStart.proc?.guid, "the target's identity from the process table");
    assert.equal(mem.target?.image, which('sleep'));
    assert.equal(mem.raw?.['write'], false);
    assert.equal(mem.proc?.image, realpathSync(python as string));

    // memfd_create with its name and flags (MFD_CLOEXEC | MFD_ALLOW_SEALING).
    const memfd = await runPython("import os\nos.close(os.memfd_create('vigil-live', os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING))", []);
    assert.equal(memfd.code, 0);
    const created = await f.waitFor((d: EventDraft) => d.type === 'file.create' && d.proc?.pid === memfd.pid);
    assert.equal(created.file?.path, 'memfd:vigil-live');
    assert.equal(created.file?.name, 'vigil-live');
    assert.equal(created.file?.flags, 3);
    assert.equal(created.raw?.['memfd'], true);
    assert.deepEqual(created.raw?.['memfd_flags'], ['cloexec', 'allow_sealing']);

    // Module loads: the attempt is reported whether or not the kernel takes the module (this
    // file is no module; a kernel without module support refuses with ENOSYS).
    const ko = join(dir, 'vigil-test-mod.ko');
    writeFileSync(ko, 'not a module');
    const loader = await runPython(
      'import ctypes, os, sys\nlibc = ctypes.CDLL(None, use_errno=True)\nfd = os.open(sys.argv[1], os.O_RDONLY)\nlibc.syscall(313, fd, b"", 0)\nimg = ctypes.create_string_buffer(64)\nlibc.syscall(175, img, 64, b"")',
      [ko],
    );
    assert.equal(loader.code, 0);
    const finit = await f.waitFor((d: EventDraft) => d.type === 'driver.load' && d.proc?.pid === loader.pid && d.raw?.['syscall'] === 'finit_module');
    assert.equal(finit.image?.path, realpathSync(ko));
    assert.equal(finit.file?.path, realpathSync(ko));
    assert.equal(finit.raw?.['module'], 'vigil_test_mod');
    const init = await f.waitFor((d: EventDraft) => d.type === 'driver.load' && d.proc?.pid === loader.pid && d.raw?.['syscall'] === 'init_module');
    assert.equal(init.raw?.['size'], 64);
    assert.equal(init.image, undefined);

    await sensor.stop();
    const mine = f.emitted.filter((d) => d.type === 'memory.access' && d.proc?.pid === reader.pid);
    assert.equal(mine.length, 1, `only the other process's memory is reported: ${JSON.stringify(mine.map((d) => d.file?.path))}`);
    const stats = (sensor as unknown as { kernelStats: Record<string, number> }).kernelStats;
    assert.ok((stats['mem_open_self'] ?? 0) >= 2, 'the numeric self paths are counted as self access');
    assert.equal(f.counters.errorTotal, 0, JSON.stringify(f.counters.snapshot().errors));
  } finally {
    target?.kill('SIGKILL');
    await sensor.stop();
    await f.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});
