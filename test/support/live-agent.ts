/**
 * What the Linux tests that run the whole agent (`vigil run`) as root and as an unprivileged
 * user share: the unprivileged user's reachability check, the marker rule and config file they
 * start it with, running it for the length of a test with a `vigil status` probe, and reading
 * the detections it wrote.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { projectRoot } from '../../core/paths.js';
import { exited, waitFor as waitForShort } from './cli.js';

const root = projectRoot();
const bin = join(root, 'bin', 'vigil.js');
export const NOBODY = 65534;

/** Poll `fn` until it returns a value; a live agent is given 30 s by default. */
export function waitFor<T>(what: string, fn: () => T | undefined, ms = 30_000): Promise<T> {
  return waitForShort(what, fn, ms);
}

/** The unprivileged run needs a user that can read the checkout (not one under a private home). */
export function unprivilegedSkip(skip: string | undefined): string | false {
  if (skip !== undefined) return skip;
  if (spawnSync('setpriv', ['--version']).status !== 0) return 'setpriv (util-linux) is not installed';
  const r = spawnSync('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--', process.execPath, '-e', `require('node:fs').accessSync(${JSON.stringify(join(root, 'dist', 'cli', 'main.js'))})`]);
  return r.status === 0 ? false : `uid ${NOBODY} cannot read this checkout (${root}), so it cannot run the agent`;
}

/** A native rule that fires on a process.start whose command line carries `marker`. */
export const markerRule = (id: string, title: string, marker: string) => ({
  id,
  title,
  description: 'test',
  version: '1.0.0',
  severity: 'high',
  tags: ['attack.execution'],
  event: ['process.start'],
  match: { all: [{ field: 'proc.cmdline', contains_any: [marker] }] },
});

/** Writes `rule` as rules/marker.json and a vigil.yaml with these plugin blocks under `dir`; returns the config path. */
export function writeAgentConfig(dir: string, rule: object, plugins: Record<string, unknown>): string {
  mkdirSync(join(dir, 'rules'));
  writeFileSync(join(dir, 'rules', 'marker.json'), JSON.stringify(rule));
  const file = join(dir, 'vigil.yaml');
  writeFileSync(
    file,
    stringify({
      agent: { data_dir: 'var', stop_timeout_seconds: 3, max_restarts: 0 },
      health: { check_interval_seconds: 0.2 },
      plugins,
    }),
  );
  return file;
}

export interface StatusPlugin {
  id: string;
  state: string;
  counters: { received: number; custom: Record<string, number>; discarded: Record<string, { count: number }> };
}

/** Run the agent (as `uid` when given), call `during` once it runs, stop it; returns the logs. */
export async function withAgent(dir: string, config: string, uid: number | undefined, during: (status: () => StatusPlugin[] | undefined) => Promise<void>): Promise<string> {
  const prefix = uid === undefined ? [] : ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--inh-caps=-all', '--'];
  const cmd = [...prefix, process.execPath, bin, 'run', '--config', config];
  const child = spawn(cmd[0] as string, cmd.slice(1), { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, VIGIL_CONFIG: '' } });
  let logs = '';
  child.stderr!.on('data', (d: Buffer) => (logs += d.toString()));
  child.stdout!.on('data', (d: Buffer) => (logs += d.toString()));
  const status = (): StatusPlugin[] | undefined => {
    // `vigil status` as the same user, without dropping capabilities (it only reads the socket).
    const statusCmd = [...prefix.filter((a) => a !== '--inh-caps=-all'), process.execPath, bin, 'status', '--json', '--config', config];
    const s = spawnSync(statusCmd[0] as string, statusCmd.slice(1), { cwd: dir, encoding: 'utf8', env: { ...process.env, VIGIL_CONFIG: '' } });
    return s.status === 0 ? (JSON.parse(s.stdout) as { plugins: StatusPlugin[] }).plugins : undefined;
  };
  try {
    await waitFor('the agent to start', () => (logs.includes('vigil agent running') ? true : undefined));
    await during(status);
  } finally {
    child.kill('SIGTERM');
  }
  const guard = setTimeout(() => child.kill('SIGKILL'), 15_000);
  const code = await exited(child);
  clearTimeout(guard);
  assert.equal(code, 0, logs.slice(-3000));
  return logs;
}

export interface Detection {
  rule: { id: string };
  summary?: string;
  evidence?: { proc?: { cmdline?: string }; source?: string }[];
}

/** The detections the agent's jsonl sink wrote under `dir` so far. */
export function detections(dir: string): Detection[] {
  const file = join(dir, 'out', 'detections.jsonl');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').trim().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Detection);
}
