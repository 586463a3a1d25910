/**
 * Run an ES module script in a child Node process, as a test needs a fresh process (its own
 * C heap, `--expose-gc`, page-fault counters). `{{core}}` in the source stands for the URL of
 * core/index.js, compiled or from the sources, as the test itself runs; `{{name}}` for the URL
 * given as `modules.name` (a test names a module beside it with `new URL(…, import.meta.url)`).
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ChildScriptOptions {
  /** Start the child with --expose-gc. */
  exposeGc?: boolean;
  timeoutMs?: number;
  /** Further modules the script imports: `{{name}}` in the source becomes this URL. */
  modules?: Readonly<Record<string, URL>>;
  /** A command the child runs under (`['unshare', '--pid', '--fork']`). */
  wrap?: readonly string[];
}

export function runChildScript(source: string, opts: ChildScriptOptions = {}): SpawnSyncReturns<string> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-child-'));
  const script = join(dir, 'child.mjs');
  const core = new URL('../../core/index.js', import.meta.url).href;
  let text = source.replaceAll('{{core}}', JSON.stringify(core));
  for (const [name, url] of Object.entries(opts.modules ?? {})) text = text.replaceAll(`{{${name}}}`, JSON.stringify(url.href));
  writeFileSync(script, text);
  try {
    const args = [...(opts.exposeGc === true ? ['--expose-gc'] : []), ...process.execArgv, script];
    const [cmd, ...pre] = opts.wrap === undefined || opts.wrap.length === 0 ? [process.execPath] : [...opts.wrap, process.execPath];
    return spawnSync(cmd as string, [...pre, ...args], { encoding: 'utf8', timeout: opts.timeoutMs ?? 30_000 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
