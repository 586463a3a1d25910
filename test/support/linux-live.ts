/**
 * What the tests of the Linux kernel-fed sensors (ebpf, proc-connector) against the real
 * kernel share: why eBPF cannot run here, the python used to make syscalls the shell cannot,
 * where a program is on PATH as the kernel resolves it, and the identity procfs gives a pid.
 */
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { parseBootTime, parseStat, processGuid, readClockTicks, ticksToEpochMs } from '../../lib/procfs/index.js';

/** Why the live eBPF tests cannot run here (`btfPath`: the kernel BTF the sensor needs), or undefined. */
export function ebpfSkipReason(btfPath: string): string | undefined {
  if (process.platform !== 'linux') return 'the eBPF sensor needs Linux';
  if (process.getuid?.() !== 0) return 'the eBPF sensor needs root (CAP_BPF); run the tests as root to exercise it';
  if (!existsSync(btfPath)) return `the kernel has no BTF (${btfPath})`;
  const libDirs = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/lib/x86_64-linux-gnu'];
  if (!libDirs.some((d) => existsSync(join(d, 'libbpf.so.1')))) return 'libbpf.so.1 is not installed (apt-get install libbpf1)';
  return undefined;
}

/** python3, when installed: the tests use it for ptrace, setresuid and the like. */
export const python = ['/usr/bin/python3', '/usr/local/bin/python3'].find((p) => existsSync(p));

/** The real path of `name` on PATH: the image the kernel reports for it. */
export function which(name: string): string {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    const p = join(dir, name);
    if (dir && existsSync(p)) return realpathSync(p);
  }
  throw new Error(`${name} is not on PATH`);
}

/** The identity procfs gives a running pid (pid@start_time from /proc/<pid>/stat and btime). */
export async function procfsGuid(pid: number): Promise<string> {
  const stat = parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  const btime = parseBootTime(readFileSync('/proc/stat', 'utf8')) as number;
  const clk = (await readClockTicks(AbortSignal.timeout(5000))) ?? 100;
  return processGuid(pid, ticksToEpochMs(stat.startTicks, btime, clk));
}
