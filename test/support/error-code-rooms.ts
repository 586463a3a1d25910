/**
 * Every room that declares error codes, and docs/error-codes.md rendered from them. A room
 * that declares codes is listed here (test/core/error-codes.test.ts finds every
 * defineErrorCodes call and fails for one that is missing).
 * Regenerate the doc with: node --import tsx test/support/write-error-codes-doc.ts
 */
import { CLI_ERRORS } from '../../cli/errors.js';
import { ERROR_CODES } from '../../core/errors/codes.js';
import { EVTX_ERRORS } from '../../lib/evtx/errors.js';
import { YARA_ERRORS } from '../../lib/yara/errors.js';
import { ALERT_STORE_ERRORS } from '../../plugins/responders/alert-store/errors.js';
import { DRIVER_ENFORCE_ERRORS } from '../../plugins/responders/driver-enforce/errors.js';
import { PROCESS_ACTIONS_ERRORS } from '../../plugins/responders/process-actions/errors.js';
import { SCANNER_ERRORS } from '../../plugins/responders/scanner/errors.js';
import { MEMSCAN_ERRORS } from '../../plugins/responders/scanner/linux/errors.js';
import { PESIEVE_ERRORS } from '../../plugins/responders/scanner/windows/errors.js';
import { DRIVER_ERRORS } from '../../plugins/sensors/driver/errors.js';
import { EBPF_ERRORS } from '../../plugins/sensors/ebpf/errors.js';
import { PROCCONN_ERRORS } from '../../plugins/sensors/proc-connector/errors.js';
import { ETW_ERRORS } from '../../plugins/sensors/etw/errors.js';
import { SYSMON_ERRORS } from '../../plugins/sensors/sysmon/errors.js';

export interface ErrorCodeRoom {
  /** The room's folder (`core`, `cli`, `lib/evtx`, `plugins/responders/alert-store`). */
  readonly room: string;
  /** Section title in the doc. */
  readonly title: string;
  /** What the room is, for the doc. */
  readonly about: string;
  /** The file holding its defineErrorCodes call. */
  readonly file: string;
  readonly codes: Readonly<Record<string, string>>;
}

export const ERROR_CODE_ROOMS: readonly ErrorCodeRoom[] = [
  { room: 'core', title: 'Core', about: 'the kernel, config, plugin loader, worker pool and status server', file: 'core/errors/codes.ts', codes: ERROR_CODES },
  { room: 'cli', title: 'The `vigil` command', about: 'command-line usage and `vigil replay`', file: 'cli/errors.ts', codes: CLI_ERRORS },
  { room: 'lib/evtx', title: 'EVTX reader', about: 'the .evtx parser shared by the replay sensor and the tools', file: 'lib/evtx/errors.ts', codes: EVTX_ERRORS },
  { room: 'lib/yara', title: 'YARA engines', about: 'YARA-X and libyara-wasm behind one contract: compiling, reading rule files, scanning', file: 'lib/yara/errors.ts', codes: YARA_ERRORS },
  {
    room: 'plugins/responders/alert-store',
    title: 'Plugin alert-store',
    about: 'the SQLite alert store and `vigil alerts`',
    file: 'plugins/responders/alert-store/errors.ts',
    codes: ALERT_STORE_ERRORS,
  },
  {
    room: 'plugins/responders/driver-enforce',
    title: 'Plugin driver-enforce',
    about: "the Windows responder that adds flagged processes to the Vigil driver's protected set",
    file: 'plugins/responders/driver-enforce/errors.ts',
    codes: DRIVER_ENFORCE_ERRORS,
  },
  {
    room: 'plugins/responders/process-actions',
    title: 'Plugin process-actions',
    about: 'kill, kill_tree, suspend and resume through pidfds (Linux) or a checked process handle (Windows)',
    file: 'plugins/responders/process-actions/errors.ts',
    codes: PROCESS_ACTIONS_ERRORS,
  },
  {
    room: 'plugins/responders/scanner',
    title: 'Plugin scanner',
    about: 'the scanner responder (memscan, filescan, the scan cache and `vigil scan`): its rule set and targets',
    file: 'plugins/responders/scanner/errors.ts',
    codes: SCANNER_ERRORS,
  },
  {
    room: 'plugins/responders/scanner',
    title: 'Linux memory-region scanner',
    about: 'the scanner plugin\'s /proc/<pid>/maps and /proc/<pid>/mem region scanner (plugins/responders/scanner/linux)',
    file: 'plugins/responders/scanner/linux/errors.ts',
    codes: MEMSCAN_ERRORS,
  },
  {
    room: 'plugins/responders/scanner',
    title: 'Plugin scanner: PE-sieve / HollowsHunter runner',
    about: 'running PE-sieve or HollowsHunter against a process on Windows',
    file: 'plugins/responders/scanner/windows/errors.ts',
    codes: PESIEVE_ERRORS,
  },
  {
    room: 'plugins/sensors/driver',
    title: 'Plugin driver',
    about: 'the Windows kernel driver sensor: why the device could not be opened, negotiated, configured or read',
    file: 'plugins/sensors/driver/errors.ts',
    codes: DRIVER_ERRORS,
  },
  {
    room: 'plugins/sensors/ebpf',
    title: 'Plugin ebpf',
    about: 'the Linux eBPF sensor: why its BPF programs could not be loaded, attached or read',
    file: 'plugins/sensors/ebpf/errors.ts',
    codes: EBPF_ERRORS,
  },
  {
    room: 'plugins/sensors/proc-connector',
    title: 'Plugin proc-connector',
    about: 'the Linux netlink proc connector sensor: why the connector could not be opened, subscribed or heard',
    file: 'plugins/sensors/proc-connector/errors.ts',
    codes: PROCCONN_ERRORS,
  },
  {
    room: 'plugins/sensors/etw',
    title: 'Plugin etw',
    about: 'the Windows ETW sensor: why its trace session could not be started, enabled, opened or consumed',
    file: 'plugins/sensors/etw/errors.ts',
    codes: ETW_ERRORS,
  },
  {
    room: 'plugins/sensors/sysmon',
    title: 'Plugin sysmon',
    about: 'the Windows Sysmon sensor: why it cannot subscribe to or read the event log',
    file: 'plugins/sensors/sysmon/errors.ts',
    codes: SYSMON_ERRORS,
  },
];

/** `VIGIL_ERR_<AREA>_<WHAT>` → AREA. */
export function areaOf(code: string): string {
  return code.split('_')[2] ?? '';
}

/** One documented code, as the doc writes it. */
export function codeRow(code: string, meaning: string): string {
  return `| \`${code}\` | ${meaning.replace(/\|/g, '\\|')} |`;
}

/** The full text of docs/error-codes.md. */
export function renderErrorCodesDoc(rooms: readonly ErrorCodeRoom[] = ERROR_CODE_ROOMS): string {
  const lines: string[] = [
    '# Error codes',
    '',
    '<!-- Generated from the rooms\' error-code declarations by',
    '     `node --import tsx test/support/write-error-codes-doc.ts`. Do not edit by hand:',
    '     a test fails when this file and the code disagree. -->',
    '',
    'Every error Vigil raises carries a stable code `VIGIL_ERR_<AREA>_<WHAT>`, a message that says what',
    'to do, and its cause chained. Logs and `vigil status` show the code; the CLI prints',
    '`vigil: CODE: message` and exits 2 for usage and configuration errors, 1 for runtime failures.',
    '',
    'Each room declares its own codes beside its code with `defineErrorCodes` (exported by the SDK):',
    'the core in `core/errors/codes.ts`, the CLI, each library and each plugin in its own',
    '`errors.ts`. A room raises its own codes and the core\'s (a plugin also those of the libraries it',
    'uses); where a dependency\'s error enters, it is translated into one of them with the cause',
    'chained. A code declared twice with different meanings is refused when the second room loads',
    '(`VIGIL_ERR_ERRORS_DECLARATION`). A third-party plugin documents its codes in its own README.',
    '',
  ];
  for (const r of rooms) {
    lines.push(`## ${r.title}`, '', `\`${r.room}\`: ${r.about}. Declared in \`${r.file}\`.`, '');
    const areas = [...new Set(Object.keys(r.codes).map(areaOf))];
    for (const area of areas) {
      if (areas.length > 1) lines.push(`### ${area}`, '');
      lines.push('| code | meaning and what to do |', '| --- | --- |');
      for (const [code, meaning] of Object.entries(r.codes)) if (areaOf(code) === area) lines.push(codeRow(code, meaning));
      lines.push('');
    }
  }
  return lines.join('\n');
}
