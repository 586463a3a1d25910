/**
 * `vigil replay` as an operator runs it, with `response.mode: enforce` and a rule that asks
 * for `kill`: the recording names the pid (and start time) of a process that is alive on
 * this machine now. The replay must not touch it; the journal says why.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { queryActionJournal } from '../../plugins/responders/alert-store/index.js';
import { tempDir } from '../support/config.js';
import { vigilTraced } from './run-vigil.js';
import { builtinsOff } from '../support/cli.js';

const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

test('vigil replay in enforce mode never kills the live process a recording names; the journal says replayed (monitor)', { skip: process.platform !== 'linux' && 'reads /proc' }, async () => {
  const child = spawn('sleep', ['300'], { stdio: 'ignore' });
  children.push(child);
  await new Promise((resolve, reject) => child.once('spawn', resolve).once('error', reject));
  const pid = child.pid!;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const ticks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
  const btime = Number(/^btime\s+(\d+)/m.exec(readFileSync('/proc/stat', 'utf8'))![1]);
  const start = btime * 1000 + Math.round((ticks * 1000) / Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()));

  const dir = tempDir('vigil-replay-kill-');
  mkdirSync(join(dir, 'rules'));
  writeFileSync(
    join(dir, 'rules', 'kill.json'),
    JSON.stringify({
      id: 'test.kill_sleep',
      title: 'sleep started (kill it)',
      version: '1.0.0',
      severity: 'high',
      event: ['process.start'],
      match: { field: 'proc.image', endswith_any: ['/sleep'] },
      response: [{ action: 'kill' }],
    }),
  );
  const events = join(dir, 'events.jsonl');
  writeFileSync(events, `${JSON.stringify({ type: 'process.start', time: Date.now(), proc: { pid, start_time: start, guid: `${pid}@${start}`, image: '/usr/bin/sleep', cmdline: 'sleep 300' } })}\n`);
  const cfg = join(dir, 'vigil.yaml');
  writeFileSync(
    cfg,
    stringify({
      agent: { data_dir: 'var' },
      response: { mode: 'enforce', max_event_age_seconds: 0 },
      plugins: {
        ...builtinsOff(),
        'rule-engine': { enabled: true, config: { rule_paths: ['rules'] } },
        'process-actions': { enabled: true },
        'alert-store': { enabled: true, config: { path: 'alerts.db' } },
      },
    }),
  );
  const run = vigilTraced(['replay', events, '--config', cfg, '--no-progress', '--json'], { cwd: dir });
  assert.equal(run.code, 0, run.stderr);
  assert.ok(['R', 'S', 'D'].includes(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[0]!), 'the live process is untouched');
  const rows = queryActionJournal(join(dir, 'alerts.db'));
  assert.deepEqual(
    rows.map((r) => [r.action, r.mode, r.outcome, r.responder, r.rule_id, r.target_pid]),
    [['kill', 'monitor', 'replayed', 'core', 'test.kill_sleep', pid]],
  );
  assert.match(rows[0]!.reason ?? '', /^replayed telemetry: monitor only, would have kill pid \d+/);
});
