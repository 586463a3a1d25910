/**
 * Run an ES module script in a child Node process, as a test needs a fresh process (its own
 * C heap, `--expose-gc`, page-fault counters). `{{core}}` in the source stands for the URL of
 * core/index.js, compiled or from the sources, as the test itself runs.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ChildScriptOptions {
  /** Start the child with --expose-gc. */
  exposeGc?: boolean;
  timeoutMs?: number;
}

export function runChildScript(source: string, opts: ChildScriptOptions = {}): SpawnSyncReturns<string> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-child-'));
  const script = join(dir, 'child.mjs');
  const core = new URL('../../core/index.js', import.meta.url).href;
  writeFileSync(script, source.replaceAll('{{core}}', JSON.stringify(core)));
  try {
    return spawnSync(process.execPath, [...(opts.exposeGc === true ? ['--expose-gc'] : []), ...process.execArgv, script], { encoding: 'utf8', timeout: opts.timeoutMs ?? 30_000 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
