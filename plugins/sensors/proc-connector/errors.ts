import { VigilError, defineErrorCodes } from '../../../core/index.js';

/**
 * Why the proc-connector sensor could not start or stopped (listed in docs/error-codes.md).
 * Each names what the kernel or the namespace lacks, so the operator can fix it or rely on
 * the procfs fallback.
 */
export const PROCCONN_ERRORS = defineErrorCodes({
  VIGIL_ERR_PROCCONN_PLATFORM: 'The proc-connector sensor runs on Linux only.',
  VIGIL_ERR_PROCCONN_FFI: 'The netlink binding (koffi with libc.so.6) could not be loaded.',
  VIGIL_ERR_PROCCONN_SOCKET:
    'A NETLINK_CONNECTOR socket could not be opened or bound: the kernel lacks CONFIG_CONNECTOR / CONFIG_PROC_EVENTS; the errno is in the message.',
  VIGIL_ERR_PROCCONN_PRIVILEGE:
    'Binding to the proc connector group needs root (CAP_NET_ADMIN in the initial user namespace). Run the agent as root, or rely on the procfs sensor.',
  VIGIL_ERR_PROCCONN_SUBSCRIBE:
    'The subscribe message (PROC_CN_MCAST_LISTEN) was refused: in a network namespace other than the initial one no proc connector answers.',
  VIGIL_ERR_PROCCONN_DEAF:
    "The proc connector accepted the subscription but delivered no event for the agent's own canary process: outside the initial user / pid namespace the kernel ignores the subscription without an error. The procfs fallback polls instead.",
  VIGIL_ERR_PROCCONN_RECV: 'Reading the proc connector socket failed (other than ENOBUFS, which is counted as loss); the sensor stops and is restarted by the core.',
});

export type ProcConnErrorCode = keyof typeof PROCCONN_ERRORS;

/** A proc-connector sensor error with a code and a message that says what to do. */
export class ProcConnError extends VigilError {
  declare readonly code: ProcConnErrorCode;

  constructor(code: ProcConnErrorCode, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(code, message, options);
    this.name = 'ProcConnError';
  }
}
