/**
 * Capabilities a plugin declares in its manifest, used by the real `vigil` command: the
 * replay command sets only the config keys a manifest's `replay` names, and a third-party
 * plugin's declared command is found, parsed and run by its module's handler.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { projectRoot } from '../../core/paths.js';
import { tempDir } from '../support/config.js';
import { vigilTraced } from './run-vigil.js';
import { builtinsOff } from '../support/cli.js';

const root = projectRoot();

function plugin(dir: string, name: string, source: string): string {
  const folder = join(dir, name);
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, 'index.js'), source);
  return folder;
}

const MANIFEST = `apiVersion: '2.0.0', version: '1.0.0', platforms: ['any']`;

/** A replay sensor reading text files (one process.start per line) from the key it declares. */
const LINES_SENSOR = `import { readFileSync } from 'node:fs';
export const plugin = {
  manifest: { id: 'lines', kind: 'sensor', ${MANIFEST}, description: 'one process.start per line of text',
    produces: ['process.start'], consumes: [], delivery: 'replay',
    replay: { pathsKey: 'inputs', mergeByTimeKey: 'by_time' },
    configSchema: { type: 'object', additionalProperties: false, properties: {
      inputs: { type: 'array', items: { type: 'string' }, default: [] },
      by_time: { type: 'boolean', default: false } } } },
  create(ctx) {
    return {
      async start() {
        let t = 1700000000000;
        for (const file of ctx.config.inputs) {
          if (!file.endsWith('.txt')) continue;
          for (const line of readFileSync(file, 'utf8').split('\\n').filter(Boolean)) {
            await ctx.emit({ type: 'process.start', time: t++, proc: { pid: 10, image: 'by_time=' + ctx.config.by_time, cmdline: line } });
          }
        }
        ctx.finished();
      },
      async stop() {},
    };
  },
};
`;

/** A replay sensor with a \`paths\` key but no replay capability: the command must leave it alone. */
const UNDECLARED_SENSOR = `export const plugin = {
  manifest: { id: 'undeclared', kind: 'sensor', ${MANIFEST}, description: 'has a paths key, declares nothing',
    produces: ['process.start'], consumes: [], delivery: 'replay',
    configSchema: { type: 'object', additionalProperties: false, properties: { paths: { type: 'array', items: { type: 'string' }, default: [] } } } },
  create(ctx) {
    return {
      async start() {
        for (const p of ctx.config.paths) await ctx.emit({ type: 'process.start', time: 1, proc: { pid: 11, image: 'undeclared', cmdline: p } });
        ctx.finished();
      },
      async stop() {},
    };
  },
};
`;

/** An analyzer that writes the config it was given to \`report\`, declaring (or not) where --sigma goes. */
function configReporter(id: string, declared: boolean): string {
  return `import { writeFileSync } from 'node:fs';
export const plugin = {
  manifest: { id: '${id}', kind: 'analyzer', ${MANIFEST}, description: 'reports its config', produces: [], consumes: ['process.start'],
    ${declared ? "replay: { sigmaPathsKey: 'extra_rules' }," : ''}
    configSchema: { type: 'object', additionalProperties: false, properties: {
      report: { type: 'string' },
      extra_rules: { type: 'array', items: { type: 'string' }, default: [] },
      sigma_paths: { type: 'array', items: { type: 'string' }, default: [] } } } },
  create(ctx) {
    return { async start() { writeFileSync(ctx.config.report, JSON.stringify(ctx.config)); }, async stop() {}, onEvents() {} };
  },
};
`;
}

test('vigil replay enables exactly the sensors that declare replay.pathsKey and hands the paths and --sigma folders through the declared keys', () => {
  const dir = tempDir();
  const input = join(dir, 'input.txt');
  writeFileSync(input, 'first line\nsecond line\n');
  const sigma = join(dir, 'sigma');
  mkdirSync(sigma);
  const reports = { declared: join(dir, 'declared.json'), guessed: join(dir, 'guessed.json') };
  const cfg = join(dir, 'vigil.yaml');
  writeFileSync(
    cfg,
    stringify({
      agent: { data_dir: 'var', stop_timeout_seconds: 3 },
      plugins: {
        ...builtinsOff(),
        lines: { path: plugin(dir, 'lines', LINES_SENSOR) },
        undeclared: { path: plugin(dir, 'undeclared', UNDECLARED_SENSOR) },
        declared: { path: plugin(dir, 'declared', configReporter('declared', true)), config: { report: reports.declared } },
        guessed: { path: plugin(dir, 'guessed', configReporter('guessed', false)), config: { report: reports.guessed } },
      },
    }),
  );
  const eventsOut = join(dir, 'events.jsonl');
  const r = vigilTraced(['replay', input, '--config', cfg, '--merge-by-time', '--sigma', sigma, '--events-out', eventsOut, '--no-progress', '--json'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  const events = readFileSync(eventsOut, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { source: string; proc: { image: string; cmdline: string } });
  assert.deepEqual(
    events.map((e) => [e.source, e.proc.image, e.proc.cmdline]),
    [
      ['lines', 'by_time=true', 'first line'],
      ['lines', 'by_time=true', 'second line'],
    ],
    'the declaring sensor got the paths and --merge-by-time under its own keys; the other one did not run',
  );
  const summary = JSON.parse(r.stdout) as { events: number };
  assert.equal(summary.events, 2);

  const declared = JSON.parse(readFileSync(reports.declared, 'utf8')) as { extra_rules: string[]; sigma_paths: string[] };
  assert.deepEqual(declared.extra_rules, [sigma], '--sigma went to the declared key');
  assert.deepEqual(declared.sigma_paths, []);
  const guessed = JSON.parse(readFileSync(reports.guessed, 'utf8')) as { extra_rules: string[]; sigma_paths: string[] };
  assert.deepEqual(guessed.sigma_paths, [], 'a key named sigma_paths is not guessed');
  assert.deepEqual(guessed.extra_rules, []);
});

test("a third-party plugin's declared command: found when typed, parsed by the CLI, run by its handler; not imported for --help", () => {
  const dir = tempDir();
  const cfg = join(dir, 'vigil.yaml');
  writeFileSync(cfg, stringify({ plugins: { 'long-cmdline': { path: join(root, 'test', 'example-plugin'), config: { max_cmdline_chars: 40 } } } }));
  const example = (r: { loaded: string[] }) => r.loaded.some((u) => u.includes('/test/example-plugin/index.js'));

  const run = vigilTraced(['long-cmdline', 'check', 'y'.repeat(50), '--config', cfg], { cwd: dir });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout, 'flagged: 50 characters, threshold 40\n');
  assert.ok(example(run));

  const max = vigilTraced(['long-cmdline', 'check', 'y'.repeat(50), '--max', '60', '--config', cfg], { cwd: dir });
  assert.equal(max.stdout, 'not flagged: 50 characters, threshold 60\n');

  const badMax = vigilTraced(['long-cmdline', 'check', 'y', '--max', 'many', '--config', cfg], { cwd: dir });
  assert.equal(badMax.code, 2, 'a usage error from the handler');
  assert.match(badMax.stderr, /^error: --max takes a positive whole number of characters, not many$/m);
  assert.match(badMax.stderr, /Usage: vigil long-cmdline check \[options\] <cmdline>/);

  const missing = vigilTraced(['long-cmdline', 'check', '--config', cfg], { cwd: dir });
  assert.equal(missing.code, 2, 'the declared argument is required');
  assert.match(missing.stderr, /missing required argument 'cmdline'/);

  const help = vigilTraced(['long-cmdline', '--help', '--config', cfg], { cwd: dir });
  assert.equal(help.code, 0);
  assert.match(help.stdout, /check \[options\] <cmdline>\s+would this command line be flagged\?/);

  // Not among the core's or the built-ins' commands, so --help does not look for it, even
  // with the config that enables it.
  const list = vigilTraced(['--help'], { cwd: dir, env: { VIGIL_CONFIG: cfg } });
  assert.equal(list.code, 0);
  assert.doesNotMatch(list.stdout, /long-cmdline/);
  assert.equal(example(list), false);
});
