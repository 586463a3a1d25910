/**
 * Can Vigil's BPF programs run here? The preconditions (Linux, CAP_BPF + CAP_PERFMON or
 * CAP_SYS_ADMIN, kernel BTF, the object file) and, for a fallback deciding whether to stand
 * by, a trial load of the object through libbpf (the kernel's verifier is the only exact
 * answer). The ebpf sensor checks the same preconditions before it loads, so the sensor and a
 * fallback agree on why eBPF is not available.
 */
import { constants as fsConstants } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { bindLibbpf } from './libbpf.js';

/** The CO-RE object shipped with Vigil (driver/linux/vigil.bpf.o), from dist/ or the sources. */
export const SHIPPED_BPF_OBJECT = fileURLToPath(new URL('../../../../driver/linux/vigil.bpf.o', import.meta.url));
export const KERNEL_BTF = '/sys/kernel/btf/vmlinux';

/** Why eBPF cannot be used: a short kind (the sensor maps it to its error code) and a sentence. */
export interface BpfUnavailable {
  readonly kind: 'platform' | 'privilege' | 'no_btf' | 'object' | 'libbpf' | 'load';
  readonly reason: string;
}

const CAP_SYS_ADMIN = 21n;
const CAP_PERFMON = 38n;
const CAP_BPF = 39n;

function has(caps: bigint, cap: bigint): boolean {
  return ((caps >> cap) & 1n) === 1n;
}

/** The first precondition that fails, or undefined when all hold. */
export async function bpfPreconditions(objectPath: string): Promise<BpfUnavailable | undefined> {
  if (process.platform !== 'linux') return { kind: 'platform', reason: `this is ${process.platform}, not Linux` };
  const status = await readFile('/proc/self/status', 'utf8');
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
  const caps = m?.[1] === undefined ? 0n : BigInt(`0x${m[1]}`);
  if (!(has(caps, CAP_SYS_ADMIN) || (has(caps, CAP_BPF) && has(caps, CAP_PERFMON)))) {
    return {
      kind: 'privilege',
      reason: `this process (uid ${process.getuid?.() ?? '?'}) lacks CAP_BPF + CAP_PERFMON or CAP_SYS_ADMIN: BPF needs root`,
    };
  }
  try {
    await access(KERNEL_BTF, fsConstants.R_OK);
  } catch (err) {
    return { kind: 'no_btf', reason: `${KERNEL_BTF} is not readable (${(err as { code?: string }).code ?? 'error'}): the kernel has no BTF for CO-RE` };
  }
  try {
    await access(objectPath, fsConstants.R_OK);
  } catch (err) {
    return { kind: 'object', reason: `the BPF object ${objectPath} is not readable (${(err as { code?: string }).code ?? 'error'})` };
  }
  return undefined;
}

/**
 * Preconditions, then open and load the object and close it again (nothing is attached).
 * Blocks the calling thread for the verifier's time (about 0.1 s for Vigil's programs).
 */
export async function probeBpf(objectPath: string): Promise<BpfUnavailable | undefined> {
  const pre = await bpfPreconditions(objectPath);
  if (pre !== undefined) return pre;
  let bpf;
  try {
    bpf = await bindLibbpf();
  } catch (err) {
    return { kind: 'libbpf', reason: `libbpf.so.1 cannot be loaded: ${err instanceof Error ? err.message : String(err)}` };
  }
  const obj = bpf.openFile(objectPath);
  if (obj === null) return { kind: 'object', reason: `libbpf cannot open ${objectPath} (errno ${bpf.errno()})` };
  try {
    const r = bpf.load(obj);
    if (r < 0) return { kind: r === -1 ? 'privilege' : 'load', reason: `the kernel refused ${objectPath} (errno ${-r})` };
    return undefined;
  } finally {
    bpf.close(obj);
  }
}
