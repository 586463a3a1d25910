/**
 * Response end to end, through the kernel: a native rule that requests `kill` fires on the
 * process.start of a real child process; the response policy and the process-actions
 * responder act (or do not) and the alert store journals every decision.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kernel } from '../../core/kernel/kernel.js';
import { silentLogger } from '../../core/telemetry/logger.js';
import type { EventDraft, SensorPlugin } from '../../core/index.js';
import { plugin as ruleEngine } from '../../plugins/analyzers/rule-engine/index.js';
import { plugin as alertStore, queryActionJournal, type JournalRow } from '../../plugins/responders/alert-store/index.js';
import { plugin as processActions } from '../../plugins/responders/process-actions/index.js';
import { bindPidfd } from '../../driver/ffi/linux/pidfd.js';
import { tempConfig, tempDir } from '../support/config.js';
import { ref, scriptedSensor } from '../support/fake-plugins.js';
import { killedAfterTests, untouched } from '../support/target-processes.js';

const unavailable = await (process.platform !== 'linux'
  ? Promise.resolve('process actions are Linux only')
  : bindPidfd().then(
      () => false as const,
      (err: unknown) => `pidfd is not usable here: ${String(err)}`,
    ));

const MARKER = 'vigil-e2e-kill-me';
const children = killedAfterTests();

/** The child's process.start as the procfs sensor reports it: pid + start time (boot time + field 22 ticks). */
function startDraft(pid: number): EventDraft {
  const clk = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());
  const btime = Number(/^btime\s+(\d+)/m.exec(readFileSync('/proc/stat', 'utf8'))![1]);
  const t = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const ticks = Number(t.slice(t.lastIndexOf(')') + 2).split(' ')[19]);
  const start = btime * 1000 + Math.round((ticks * 1000) / clk);
  return {
    type: 'process.start',
    time: Date.now(),
    proc: { pid, start_time: start, guid: `${pid}@${start}`, image: '/usr/bin/sleep', name: 'sleep', cmdline: `sleep 300 ${MARKER}`, uid: process.getuid?.() ?? 1000, ppid: process.pid },
  };
}

async function sleeper(): Promise<ChildProcess & { pid: number }> {
  const c = spawn('sleep', ['300'], { stdio: 'ignore' });
  children.push(c);
  await new Promise((resolve, reject) => c.once('spawn', resolve).once('error', reject));
  return c as ChildProcess & { pid: number };
}
const exited = (c: ChildProcess) => new Promise<string | null>((r) => (c.exitCode !== null || c.signalCode !== null ? r(c.signalCode) : c.once('exit', (_code, sig) => r(sig))));

/** A live sensor that reports one process start, then nothing. */
function liveSensor(draft: EventDraft): SensorPlugin {
  return scriptedSensor('test-procs', () => [draft], { delivery: 'live', produces: ['process.start'] });
}

async function agent(sensor: SensorPlugin, response: Record<string, unknown>) {
  const dir = tempDir('vigil-response-e2e-');
  const rules = join(dir, 'rules');
  execFileSync('mkdir', ['-p', rules]);
  writeFileSync(
    join(rules, 'kill.json'),
    JSON.stringify({
      rules: [
        {
          id: 'test.kill-marked-sleeper',
          title: 'A marked sleeper is started',
          severity: 'high',
          event: ['process.start'],
          match: { field: 'proc.cmdline', contains_any: [MARKER] },
          response: [{ action: 'kill' }],
        },
      ],
    }),
  );
  const db = join(dir, 'alerts.db');
  const cfg = tempConfig(
    {
      response,
      plugins: {
        'rule-engine': { config: { rule_paths: [rules] } },
        'alert-store': { config: { path: db } },
        'process-actions': {},
        [sensor.manifest.id]: {},
      },
    },
    dir,
  );
  const k = new Kernel(cfg, {
    logger: silentLogger(),
    noBuiltins: true,
    extraPlugins: [ref(ruleEngine, 'builtin'), ref(alertStore, 'builtin'), ref(processActions, 'builtin'), ref(sensor)],
  });
  const results: string[] = [];
  let seen: () => void = () => undefined;
  const firstResult = new Promise<void>((r) => (seen = r));
  await k.start();
  const journal = (): JournalRow[] => queryActionJournal(db);
  return { k, db, results, firstResult, seen, journal, status: () => k.status() };
}

/** Wait until the journal holds a row for `action` (the alert store commits each batch). */
async function journaled(a: { journal: () => JournalRow[] }, action: string): Promise<JournalRow> {
  for (;;) {
    const row = a.journal().find((r) => r.action === action);
    if (row) return row;
    await new Promise((r) => setTimeout(r, 10));
  }
}

const skip = unavailable || false;

test('enforce: a native rule requesting kill fires on a real child; the child is killed and the journal has the row', { skip }, async () => {
  const c = await sleeper();
  const a = await agent(liveSensor(startDraft(c.pid)), { mode: 'enforce' });
  try {
    assert.equal(await exited(c), 'SIGKILL');
    const row = await journaled(a, 'kill');
    assert.equal(row.outcome, 'done', row.reason ?? '');
    assert.deepEqual(
      [row.mode, row.status, row.responder, row.rule_id, row.analyzer, row.target_pid],
      ['enforce', 'done', 'process-actions', 'test.kill-marked-sleeper', 'rule-engine', c.pid],
    );
    assert.match(row.reason ?? '', /exit confirmed/);
  } finally {
    await a.k.stop();
  }
});

test('monitor (the default): the rule fires, nothing is touched, the journal says what would have happened', { skip }, async () => {
  const c = await sleeper();
  const a = await agent(liveSensor(startDraft(c.pid)), {});
  try {
    const row = await journaled(a, 'kill');
    assert.deepEqual([row.mode, row.outcome, row.status, row.responder, row.target_pid], ['monitor', 'would_have', 'skipped', 'core', c.pid]);
    assert.match(row.reason ?? '', new RegExp(`^would have: kill pid ${c.pid} `));
    assert.ok(untouched(c.pid), 'the child still runs');
  } finally {
    await a.k.stop();
  }
  c.kill('SIGKILL');
  await exited(c);
});

test('a replayed detection performs no action even in enforce, and is journaled monitor-only', { skip }, async () => {
  const c = await sleeper();
  const replay = scriptedSensor('test-replay', () => [startDraft(c.pid)], { delivery: 'replay', produces: ['process.start'] });
  const a = await agent(replay, { mode: 'enforce' });
  try {
    await a.k.whenSourcesFinished();
    const row = await journaled(a, 'kill');
    assert.deepEqual([row.mode, row.outcome, row.responder, row.target_pid], ['monitor', 'replayed', 'core', c.pid]);
    assert.match(row.reason ?? '', /^replayed telemetry: monitor only, would have kill pid/);
    assert.ok(untouched(c.pid), 'the child still runs');
    const pa = a.status().plugins.find((p) => p.id === 'process-actions')!;
    assert.equal(pa.counters.emitted, 0, 'the responder produced no result: it was never asked');
    assert.deepEqual(Object.keys(pa.counters.custom).filter((key) => key.startsWith('kill')), []);
  } finally {
    await a.k.stop();
  }
  c.kill('SIGKILL');
  await exited(c);
});
