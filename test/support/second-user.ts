/**
 * A throwaway second local user for tests that check what another user can and cannot do
 * (data privacy, rule trust): created with useradd, deleted when the test ends.
 */
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';

export function onPath(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

export interface SecondUser {
  name: string;
  uid: number;
  gid: number;
  /** Run a command as the user (setpriv, else runuser), with a 10 s bound. */
  run(cmd: string[]): SpawnSyncReturns<string>;
}

/** Why the machine cannot give a second user (not root, no useradd, no way to switch), or undefined. */
export function secondUserUnavailable(): string | undefined {
  if (process.geteuid?.() !== 0) return 'needs root to create a throwaway user with useradd; run the suite as root';
  if (!onPath('useradd') || !onPath('userdel')) return 'needs useradd and userdel to create the throwaway user';
  if (!onPath('setpriv') && !onPath('runuser')) return 'needs setpriv or runuser to run a command as the throwaway user';
  return undefined;
}

/** Create the user for this test (check secondUserUnavailable() first); it is deleted after the test. */
export function createSecondUser(t: TestContext): SecondUser {
  const name = `vigil-t${randomBytes(3).toString('hex')}`;
  const add = spawnSync('useradd', ['--system', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', '--user-group', name], { encoding: 'utf8' });
  assert.equal(add.status, 0, `useradd: ${add.stderr}`);
  t.after(() => {
    const del = spawnSync('userdel', [name], { encoding: 'utf8' });
    assert.equal(del.status, 0, `userdel: ${del.stderr}`);
  });
  const uid = Number(spawnSync('id', ['-u', name], { encoding: 'utf8' }).stdout.trim());
  const gid = Number(spawnSync('id', ['-g', name], { encoding: 'utf8' }).stdout.trim());
  assert.ok(uid > 0 && gid > 0, 'the throwaway user is not root');
  const setpriv = onPath('setpriv');
  return {
    name,
    uid,
    gid,
    run: (cmd) =>
      setpriv
        ? spawnSync('setpriv', [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--', ...cmd], { encoding: 'utf8', timeout: 10_000 })
        : spawnSync('runuser', ['-u', name, '--', ...cmd], { encoding: 'utf8', timeout: 10_000 }),
  };
}
