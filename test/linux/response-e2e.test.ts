/**
 * Response end to end on Linux, live: the agent runs with the eBPF sensor, a native rule flags
 * a test program (by image name) once it has mapped an anonymous executable region holding a
 * marker, and asks for the `contain` playbook (suspend → memscan → kill_tree if the scan
 * finds something, else resume). In enforce the program is suspended, scanned (the region is
 * found and a YARA rule matches the marker) and killed; in monitor nothing is touched, the
 * scan really runs, and the journal says what would have happened; a protected program is
 * never touched.
 *
 * Last, the feedback loop: a tracer attaches to the program with ptrace; the shipped ptrace rule
 * asks for a memscan of the tracee, and the shipped sequence (ptrace into a process, then that
 * process's scan finding) fires on the scan.result.
 *
 * The program is built here with the C compiler. It maps the region first and only then
 * creates a trigger file under a watched prefix: the rule fires on that file event, so the
 * scan cannot race the mapping (an exec event would arrive before it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Kernel } from '../../core/kernel/kernel.js';
import { projectRoot } from '../../core/paths.js';
import { silentLogger } from '../../core/telemetry/logger.js';
import { plugin as ebpf } from '../../plugins/sensors/ebpf/index.js';
import { plugin as ruleEngine } from '../../plugins/analyzers/rule-engine/index.js';
import { plugin as correlation } from '../../plugins/analyzers/correlation/index.js';
import { plugin as alertStore, queryActionJournal, queryAlerts, type JournalRow } from '../../plugins/responders/alert-store/index.js';
import { plugin as processActions } from '../../plugins/responders/process-actions/index.js';
import { plugin as scanner } from '../../plugins/responders/scanner/index.js';
import { tempConfig, tempDir } from '../support/config.js';
import { ref } from '../support/fake-plugins.js';
import { killedAfterTests, state, untouched } from '../support/target-processes.js';

const PROGRAM = 'vigil-e2e-prog';
const SOURCE = String.raw`#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
/* argv[1]: marker, argv[2]: trigger file. Maps an anonymous RX region holding the marker at
   offset 64, prints its address, then creates the trigger file and waits to be killed. */
int main(int argc, char **argv) {
  if (argc < 3) return 2;
  unsigned char *p = mmap(NULL, 16384, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return 1;
  memset(p, 0xc3, 64);
  memcpy(p + 64, argv[1], strlen(argv[1]));
  if (mprotect(p, 16384, PROT_READ | PROT_EXEC) != 0) return 1;
  printf("ADDR %p\n", (void *)p);
  fflush(stdout);
  int fd = open(argv[2], O_RDONLY | O_CREAT, 0600);
  if (fd >= 0) close(fd);
  for (;;) pause();
}
`;

function skipReason(): string | undefined {
  if (process.platform !== 'linux') return 'the live response test needs Linux';
  if (process.getuid?.() !== 0) return 'the eBPF sensor needs root: run the tests as root to exercise it';
  if (!existsSync('/sys/kernel/btf/vmlinux')) return 'the kernel has no BTF (/sys/kernel/btf/vmlinux)';
  if (spawnSync('sh', ['-c', 'command -v cc']).status !== 0) return 'no C compiler (cc) to build the test program';
  return undefined;
}
const skip = skipReason() ?? false;

const children = killedAfterTests();
const exitSignal = (c: ChildProcess) => new Promise<string | null>((r) => (c.exitCode !== null || c.signalCode !== null ? r(c.signalCode) : c.once('exit', (_code, sig) => r(sig))));

async function waitFor<T>(what: string, fn: () => T | undefined, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Setup {
  dir: string;
  exe: string;
  protectedExe: string;
  marker: string;
  trigger: string;
}

const TRACER = String.raw`#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>
/* argv[1]: pid. Attaches with ptrace, waits for the stop, detaches, then waits to be killed. */
int main(int argc, char **argv) {
  if (argc < 2) return 2;
  pid_t pid = (pid_t)atoi(argv[1]);
  if (ptrace(PTRACE_ATTACH, pid, NULL, NULL) != 0) { perror("ptrace"); return 1; }
  waitpid(pid, NULL, 0);
  ptrace(PTRACE_DETACH, pid, NULL, NULL);
  printf("DETACHED\n");
  fflush(stdout);
  for (;;) pause();
}
`;

function setup(): Setup {
  const dir = tempDir('vigil-e2e-');
  const marker = `VIGIL-E2E-${randomUUID().slice(0, 8)}`;
  mkdirSync(join(dir, 'bin'));
  mkdirSync(join(dir, 'protected'));
  writeFileSync(join(dir, 'prog.c'), SOURCE);
  const exe = join(dir, 'bin', PROGRAM);
  const cc = spawnSync('cc', ['-O1', '-Wall', '-o', exe, join(dir, 'prog.c')], { encoding: 'utf8' });
  assert.equal(cc.status, 0, cc.stderr);
  const protectedExe = join(dir, 'protected', PROGRAM);
  copyFileSync(exe, protectedExe);
  mkdirSync(join(dir, 'rules'));
  writeFileSync(
    join(dir, 'rules', 'e2e.json'),
    JSON.stringify({
      rules: [
        {
          id: 'test.e2e_program_triggered',
          title: 'The end-to-end test program signalled that its region is mapped (test rule)',
          severity: 'high',
          event: ['file.create', 'file.open'],
          match: { all: [{ field: 'proc.image', endswith_any: [`/${PROGRAM}`] }, { field: 'file.path', startswith_any: [join(dir, 'trig')] }] },
          response: [{ action: 'playbook', params: { name: 'contain' } }],
        },
      ],
    }),
  );
  writeFileSync(join(dir, 'marker.yar'), `rule Vigil_E2E_Marker\n{\n  strings:\n    $m = "${marker}"\n  condition:\n    $m\n}\n`);
  return { dir, exe, protectedExe, marker, trigger: join(dir, 'trig') };
}

async function agent(s: Setup, mode: 'enforce' | 'monitor') {
  const db = join(s.dir, `alerts-${mode}.db`);
  const cfg = tempConfig(
    {
      response: {
        mode,
        protected_images: [s.protectedExe],
        playbooks: {
          contain: {
            step_timeout_seconds: 60,
            on_timeout: 'resume',
            steps: [
              { id: 'freeze', action: 'suspend' },
              { id: 'scan', action: 'memscan', timeout_seconds: 120 },
              { action: 'kill_tree', when: { scan: { verdict: ['suspicious', 'malicious'] } } },
              { action: 'resume', unless: { scan: { verdict: ['suspicious', 'malicious'] } } },
            ],
          },
        },
      },
      plugins: {
        ebpf: { config: { emit_existing: false, file_prefixes: [s.trigger] } },
        // The shipped rule on scan.result feeds the scan back as a detection with its evidence.
        'rule-engine': { config: { rule_paths: [join(s.dir, 'rules'), join(projectRoot(), 'rules', 'linux', 'defense_evasion', 'memscan_anon_exec_yara.json')] } },
        'alert-store': { config: { path: db } },
        'process-actions': {},
        scanner: { config: { yara: { rule_paths: [join(s.dir, 'marker.yar')] } } },
      },
    },
    s.dir,
  );
  const k = new Kernel(cfg, {
    logger: silentLogger(),
    noBuiltins: true,
    extraPlugins: [ref(ebpf, 'builtin'), ref(ruleEngine, 'builtin'), ref(alertStore, 'builtin'), ref(processActions, 'builtin'), ref(scanner, 'builtin')],
  });
  await k.start();
  const notRunning = k.status().plugins.filter((p) => p.state !== 'running').map((p) => `${p.id}:${p.state}`);
  assert.deepEqual(notRunning, [], 'every plugin runs');
  return { k, db, journal: (): JournalRow[] => queryActionJournal(db, { limit: 1000 }) };
}

/** Start the program (from `exe`), wait until it has printed its region's address. */
async function program(exe: string, s: Setup, n: number): Promise<{ child: ChildProcess & { pid: number }; addr: string }> {
  const child = spawn(exe, [s.marker, `${s.trigger}-${n}`], { stdio: ['ignore', 'pipe', 'inherit'] }) as ChildProcess & { pid: number };
  children.push(child);
  let out = '';
  const addr = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /ADDR (0x[0-9a-f]+)\n/.exec(out);
      if (m?.[1]) resolve(m[1]);
    });
    child.once('exit', (code, sig) => reject(new Error(`${PROGRAM} exited early (${code ?? sig})`)));
  });
  return { child, addr };
}

const rowsFor = (rows: JournalRow[], pid: number) => rows.filter((r) => r.target_pid === pid);
const step = (rows: JournalRow[], pid: number, name: string) => rowsFor(rows, pid).find((r) => r.step === name);
const details = (r: JournalRow | undefined): Record<string, unknown> => (r?.details ? (JSON.parse(r.details) as Record<string, unknown>) : {});

test('enforce: the playbook suspends the program, scans it (anonymous executable region, YARA hit on the marker) and kills it; a protected copy is never touched', { skip, timeout: 180_000 }, async () => {
  const s = setup();
  const a = await agent(s, 'enforce');
  try {
    const { child, addr } = await program(s.exe, s, 1);
    assert.equal(await exitSignal(child), 'SIGKILL', 'the program was killed');
    const rows = await waitFor('the playbook summary', () => {
      const r = a.journal();
      return rowsFor(r, child.pid).some((x) => x.action === 'playbook' && x.outcome !== 'in_progress' && x.step === null) ? r : undefined;
    });
    const freeze = step(rows, child.pid, 'freeze');
    const scan = step(rows, child.pid, 'scan');
    const kill = rowsFor(rows, child.pid).find((r) => r.action === 'kill_tree');
    assert.deepEqual([freeze?.action, freeze?.outcome, freeze?.mode], ['suspend', 'done', 'enforce'], freeze?.reason ?? 'no freeze row');
    assert.deepEqual([scan?.action, scan?.outcome, scan?.responder], ['memscan', 'done', 'scanner'], scan?.reason ?? 'no scan row');
    const d = details(scan);
    assert.ok(['suspicious', 'malicious'].includes(String(d['verdict'])), JSON.stringify(d));
    assert.ok((d['findings'] as string[]).includes('anon_exec'), JSON.stringify(d));
    assert.deepEqual(d['rules'], ['Vigil_E2E_Marker']);
    assert.equal(kill?.outcome, 'done', kill?.reason ?? 'no kill_tree row');
    const resume = rowsFor(rows, child.pid).find((r) => r.action === 'resume');
    assert.equal(resume?.outcome, 'condition', 'resume was not run: the scan found something');

    // The scan result came back as an event and the shipped rule on scan.result fired on it.
    const alert = await waitFor('the scan.result detection', () => queryAlerts(a.db, { rule: 'lnx.defense_evasion.memscan_anon_exec_yara' }).find((x) => x.actor_pid === child.pid));
    const ev = alert.evidence.find((e) => e.type === 'scan.result');
    assert.ok(ev?.scan?.regions?.some((r) => r.start === addr && r.kind === 'anon_exec'), `region ${addr} in ${JSON.stringify(ev?.scan?.regions)}`);
    assert.ok(ev?.scan?.matches?.some((m) => m.rule === 'Vigil_E2E_Marker' && m.region === addr));

    // The same program under a protected path: the rule fires, every step is refused.
    const p = await program(s.protectedExe, s, 2);
    const refused = await waitFor('the protected program refused', () => step(a.journal(), p.child.pid, 'freeze'));
    assert.equal(refused.outcome, 'protected', refused.reason ?? '');
    assert.ok(untouched(p.child.pid), 'the protected program still runs, not stopped');
    assert.equal(rowsFor(a.journal(), p.child.pid).filter((r) => r.action === 'kill_tree' && r.outcome === 'done').length, 0);
    p.child.kill('SIGKILL');
  } finally {
    await a.k.stop();
  }
});

test('monitor: the program is not touched; the scan really runs and the journal says what would have happened', { skip, timeout: 180_000 }, async () => {
  const s = setup();
  const a = await agent(s, 'monitor');
  try {
    const { child } = await program(s.exe, s, 1);
    const rows = await waitFor('the playbook summary', () => {
      const r = a.journal();
      return rowsFor(r, child.pid).some((x) => x.action === 'playbook' && x.step === null && x.outcome !== 'in_progress') ? r : undefined;
    });
    const freeze = step(rows, child.pid, 'freeze');
    const scan = step(rows, child.pid, 'scan');
    const kill = rowsFor(rows, child.pid).find((r) => r.action === 'kill_tree');
    assert.deepEqual([freeze?.outcome, freeze?.mode], ['would_have', 'monitor'], freeze?.reason ?? 'no freeze row');
    assert.deepEqual([scan?.outcome, scan?.responder], ['done', 'scanner'], scan?.reason ?? 'the scan ran');
    assert.deepEqual(details(scan)['rules'], ['Vigil_E2E_Marker']);
    assert.equal(kill?.outcome, 'would_have', kill?.reason ?? 'no kill_tree row');
    assert.match(kill?.reason ?? '', /^would have/);
    assert.ok(untouched(child.pid), 'the program still runs and is not stopped');
    child.kill('SIGKILL');
  } finally {
    await a.k.stop();
  }
});

test('feedback: a ptrace into the program makes the shipped rule scan the tracee, and the shipped sequence fires on its scan.result', { skip, timeout: 180_000 }, async () => {
  const s = setup();
  writeFileSync(join(s.dir, 'tracer.c'), TRACER);
  const tracerExe = join(s.dir, 'bin', 'vigil-e2e-tracer');
  const cc = spawnSync('cc', ['-O1', '-Wall', '-o', tracerExe, join(s.dir, 'tracer.c')], { encoding: 'utf8' });
  assert.equal(cc.status, 0, cc.stderr);
  const db = join(s.dir, 'alerts-feedback.db');
  const cfg = tempConfig(
    {
      response: { mode: 'monitor' },
      plugins: {
        ebpf: { config: { emit_existing: false, file_prefixes: [s.trigger] } },
        'rule-engine': { config: { rule_paths: [join(projectRoot(), 'rules', 'linux', 'privilege_escalation', 'ptrace_attach.json')] } },
        correlation: { config: { rule_paths: [join(projectRoot(), 'rules', 'correlation', 'lnx.evasion.injection_then_memory_finding.json')] } },
        'alert-store': { config: { path: db } },
        scanner: { config: { yara: { rule_paths: [join(s.dir, 'marker.yar')] } } },
      },
    },
    s.dir,
  );
  const k = new Kernel(cfg, {
    logger: silentLogger(),
    noBuiltins: true,
    extraPlugins: [ref(ebpf, 'builtin'), ref(ruleEngine, 'builtin'), ref(correlation, 'builtin'), ref(alertStore, 'builtin'), ref(scanner, 'builtin')],
  });
  await k.start();
  try {
    const { child } = await program(s.exe, s, 1);
    const tracer = spawn(tracerExe, [String(child.pid)], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(tracer);
    const scan = await waitFor('the memscan of the tracee', () => queryActionJournal(db, { limit: 100 }).find((r) => r.action === 'memscan'));
    assert.equal(scan.outcome, 'done', scan.reason ?? '');
    assert.deepEqual(details(scan)['rules'], ['Vigil_E2E_Marker']);
    const seq = await waitFor('the sequence detection', () => queryAlerts(db, { rule: 'lnx.evasion.injection_then_memory_finding' })[0]);
    assert.deepEqual(
      seq.evidence.map((e) => e.type),
      ['process.ptrace', 'scan.result'],
    );
    assert.equal(seq.evidence[1]?.target?.pid, child.pid, 'the scan was of the tracee');
    assert.equal(seq.evidence[0]?.proc?.pid, tracer.pid, 'the ptrace was by the tracer');
    assert.ok(untouched(child.pid) || state(child.pid) === 't', 'monitor: nothing but the scan touched the program');
    tracer.kill('SIGKILL');
    child.kill('SIGKILL');
  } finally {
    await k.stop();
  }
});
