/**
 * Shared by the Windows-side test entries (`*.wine.ts`), which run under Wine's node.exe
 * through scripts/wine/harness.mjs: the harness passes the mingw-built helpers' paths.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { after } from 'node:test';

function required(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run this entry through scripts/wine/harness.mjs`);
  return v;
}

/** sleeper.exe: `SECONDS [CHILDREN [DEPTH]]`, two threads per process. */
export const SLEEPER = process.platform === 'win32' ? required('VIGIL_WINE_SLEEPER') : '';
/** layout.exe: prints the mingw headers' sizes and offsets as JSON. */
export const LAYOUT = process.platform === 'win32' ? required('VIGIL_WINE_LAYOUT') : '';

const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill();
});

/** A running sleeper (optionally with a tree of children), once Windows has created it. */
export async function sleeper(...args: number[]): Promise<ChildProcess & { pid: number }> {
  const c = spawn(SLEEPER, (args.length > 0 ? args : [120]).map(String), { stdio: 'ignore' });
  children.push(c);
  await new Promise((resolve, reject) => c.once('spawn', resolve).once('error', reject));
  return c as ChildProcess & { pid: number };
}

/** Poll `cond` until it holds; the deadline is only a guard against a hang. */
export async function until(cond: () => boolean, what: string, deadlineMs = 20_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
