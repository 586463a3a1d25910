/**
 * What the response tests that act on real child processes share: killing whatever they left
 * running once the file's tests end, and reading a process's scheduler state from /proc.
 */
import { after } from 'node:test';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** A list to push spawned targets on; any still running when the file's tests end is SIGKILLed. */
export function killedAfterTests(): ChildProcess[] {
  const children: ChildProcess[] = [];
  after(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });
  return children;
}

/** The state letter of /proc/<pid>/stat (R, S, T, t, Z…); undefined once the pid is gone. */
export function state(pid: number): string | undefined {
  try {
    const t = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return t.slice(t.lastIndexOf(')') + 2).split(' ')[0];
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Alive and not stopped. */
export const untouched = (pid: number): boolean => ['R', 'S', 'D'].includes(state(pid) ?? '');
