/**
 * What the tests that run `vigil` as an operator does share: a config's plugin blocks with
 * the built-ins a default install enables switched off, and waiting on a child agent.
 */
import type { ChildProcess } from 'node:child_process';

/** The plugin blocks that switch off every built-in a test did not ask for; spread them first. */
export function builtinsOff(): Record<string, { enabled: false }> {
  const off = { enabled: false } as const;
  return { procfs: off, ebpf: off, console: off, correlation: off, 'rule-engine': off, jsonl: off, 'alert-store': off, 'process-actions': off, scanner: off, 'proc-connector': off, etw: off, sysmon: off };
}

/** Poll `fn` until it returns a value; throws naming `what` past `ms`. */
export async function waitFor<T>(what: string, fn: () => T | undefined, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The child's exit code once it has exited. */
export function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', (code) => resolve(code))));
}
