/**
 * Runs the built `vigil` command in a child process and records which modules it loaded
 * (a module loader hook appends each file URL to a trace), so a test can tell which
 * plugins a command imported.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { projectRoot } from '../../core/paths.js';
import { tempDir } from '../support/config.js';

const root = projectRoot();
const bin = join(root, 'bin', 'vigil.js');

const HOOKS = `import { appendFileSync } from 'node:fs';
let trace;
export function initialize(data) {
  trace = data.trace;
}
export async function load(url, context, nextLoad) {
  if (url.startsWith('file:')) appendFileSync(trace, url + '\\n');
  return nextLoad(url, context);
}
`;

const REGISTER = `import { register } from 'node:module';
register(new URL('./hooks.mjs', import.meta.url).href, { data: { trace: process.env.VIGIL_TEST_IMPORT_TRACE } });
`;

let hooksDir: string | undefined;

function registerFile(): string {
  if (hooksDir === undefined) {
    hooksDir = tempDir('vigil-import-trace-');
    writeFileSync(join(hooksDir, 'hooks.mjs'), HOOKS);
    writeFileSync(join(hooksDir, 'register.mjs'), REGISTER);
  }
  return join(hooksDir, 'register.mjs');
}

export interface VigilRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Every module file the process loaded, as file URLs, in load order. */
  loaded: string[];
}

let runs = 0;

/** `env` is added to the environment (where VIGIL_CONFIG is empty unless given). */
export function vigilTraced(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): VigilRun {
  const trace = join(tempDir('vigil-trace-'), `run-${runs++}.txt`);
  const r = spawnSync(process.execPath, ['--import', pathToFileURL(registerFile()).href, bin, ...args], {
    cwd: opts.cwd ?? root,
    encoding: 'utf8',
    env: { ...process.env, VIGIL_CONFIG: '', ...opts.env, VIGIL_TEST_IMPORT_TRACE: trace },
  });
  const loaded = existsSync(trace) ? readFileSync(trace, 'utf8').split('\n').filter((l) => l !== '') : [];
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, loaded };
}

/** The built-in plugin files a run loaded, as `<plugin id>/<file>` (`alert-store/index.js`). */
export function builtinPluginFilesLoaded(run: VigilRun): string[] {
  const files = new Set<string>();
  for (const url of run.loaded) {
    const m = /\/plugins\/(?:sensors|analyzers|responders)\/([^/]+)\/(.+)$/.exec(url);
    if (m && url.startsWith(pathToFileURL(root).href)) files.add(`${m[1]}/${m[2]}`);
  }
  return [...files].sort();
}
