import { VigilError, defineErrorCodes } from '../../../core/index.js';

/**
 * Why the eBPF sensor could not start (listed in docs/error-codes.md). Each names what the
 * kernel or the machine lacks, so the operator can fix it or keep the procfs fallback.
 */
export const EBPF_ERRORS = defineErrorCodes({
  VIGIL_ERR_EBPF_PLATFORM: 'The eBPF sensor runs on Linux only.',
  VIGIL_ERR_EBPF_PRIVILEGE:
    'Loading BPF programs needs root (CAP_BPF with CAP_PERFMON, or CAP_SYS_ADMIN). Run the agent as root, or rely on the procfs sensor.',
  VIGIL_ERR_EBPF_NO_BTF:
    'The kernel exposes no BTF (/sys/kernel/btf/vmlinux): the CO-RE programs cannot be relocated. Use a kernel built with CONFIG_DEBUG_INFO_BTF.',
  VIGIL_ERR_EBPF_OBJECT: 'The compiled BPF object is missing or unreadable (object_path, default driver/linux/vigil.bpf.o).',
  VIGIL_ERR_EBPF_LIBBPF: 'libbpf.so.1 (or koffi) could not be loaded. Install libbpf (Debian: libbpf1 or libbpf-dev).',
  VIGIL_ERR_EBPF_LOAD:
    'The kernel refused the BPF programs (verifier, locked-down kernel, missing program or map type); the reason and errno are in the message.',
  VIGIL_ERR_EBPF_ATTACH: 'A BPF program loaded but could not be attached to its tracepoint; the program and errno are in the message.',
  VIGIL_ERR_EBPF_CONFIG: 'A value of the ebpf sensor config is out of range (ring_buffer_bytes must be a power of two of at least 64 KiB; a file prefix at most 63 bytes).',
  VIGIL_ERR_EBPF_POLL: 'Reading the ring buffer failed; the sensor stops and is restarted by the core.',
});

export type EbpfErrorCode = keyof typeof EBPF_ERRORS;

/** An eBPF sensor error with a code and a message that says what to do; the cause is chained. */
export class EbpfError extends VigilError {
  declare readonly code: EbpfErrorCode;

  constructor(code: EbpfErrorCode, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(code, message, options);
    this.name = 'EbpfError';
  }
}
