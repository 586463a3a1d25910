/**
 * The agent outlives its plugins: real `vigil run` processes (the watchdog and its agent
 * process) with third-party plugins that misbehave on purpose, built in a temp folder.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { projectRoot } from '../../core/paths.js';
import { tempDir } from '../support/config.js';
import { builtinsOff, exited } from '../support/cli.js';

const root = projectRoot();
const bin = join(root, 'bin', 'vigil.js');
const MANIFEST = `apiVersion: '2.0.0', version: '1.0.0', platforms: ['any']`;

/** A live sensor: one process.start every 100 ms. */
const TICKER = `export const plugin = {
  manifest: { id: 'ticker', kind: 'sensor', ${MANIFEST}, description: 'one event every 100 ms',
    produces: ['process.start'], consumes: [], delivery: 'live', configSchema: { type: 'object' } },
  create(ctx) {
    let timer;
    let n = 0;
    return {
      async start() { timer = setInterval(() => ctx.emit({ type: 'process.start', time: Date.now(), proc: { pid: 1000 + (n++ % 100), image: '/bin/true' } }), 100); },
      async stop() { clearInterval(timer); },
    };
  },
};
`;

/** An analyzer that misbehaves as its config says. */
const BAD = `export const plugin = {
  manifest: { id: 'bad', kind: 'analyzer', ${MANIFEST}, description: 'misbehaves on purpose',
    produces: [], consumes: ['process.start'],
    configSchema: { type: 'object', properties: { mode: { type: 'string' } }, required: ['mode'] } },
  create(ctx) {
    const mode = ctx.config.mode;
    const keep = [];
    return {
      start() {
        process.stderr.write('bad: starting (' + mode + ')\\n');
        if (mode === 'exit') setTimeout(() => process.exit(0), 50);
        if (mode === 'timer-throw') setTimeout(() => { throw new Error('bad: thrown in a timer'); }, 50);
        if (mode === 'rejection') setTimeout(() => { Promise.reject(new Error('bad: rejected and left')); }, 50);
        if (mode === 'hung-start') return new Promise(() => {});
        return Promise.resolve();
      },
      async stop() {},
      onEvents() {
        if (mode === 'loop') for (;;) {}
        if (mode === 'alloc') for (let i = 0; ; i++) keep.push('x'.repeat(65536) + i);
      },
    };
  },
};
`;

/** A responder whose flush() never resolves. */
const HUNG_FLUSH = `export const plugin = {
  manifest: { id: 'hung-flush', kind: 'responder', ${MANIFEST}, description: 'flush never resolves',
    produces: [], consumes: ['detection'], actions: ['alert'], configSchema: { type: 'object' } },
  create() {
    return { async start() {}, async stop() {}, onDetections() {}, flush() { return new Promise(() => {}); } };
  },
};
`;

function plugin(dir: string, name: string, source: string): string {
  const folder = join(dir, name);
  mkdirSync(folder);
  writeFileSync(join(folder, 'index.js'), source);
  return folder;
}

interface Setup {
  dir: string;
  config: string;
  detections: string;
}

function setup(agent: Record<string, unknown>, plugins: Record<string, unknown>, extra: Record<string, unknown> = {}): Setup {
  const dir = tempDir('vigil-watchdog-');
  const config = join(dir, 'vigil.yaml');
  writeFileSync(
    config,
    stringify({
      agent: {
        data_dir: 'var',
        stop_timeout_seconds: 2,
        start_timeout_seconds: 2,
        restart_backoff_ms: 50,
        max_restarts: 1,
        watchdog_stall_seconds: 5, // well above a loaded machine's start-up and collector pauses; an endless loop stalls forever
        watchdog_backoff_ms: 100,
        watchdog_max_heap_mb: 256,
        ...agent,
      },
      health: { check_interval_seconds: 0.2 },
      ...extra,
      plugins: {
        ...builtinsOff(),
        jsonl: { enabled: true, config: { path: 'out/detections.jsonl' } },
        ...plugins,
      },
    }),
  );
  return { dir, config, detections: join(dir, 'out', 'detections.jsonl') };
}

function withBad(mode: string, agent: Record<string, unknown> = {}): Setup {
  const s = setup(agent, {});
  const ticker = plugin(s.dir, 'ticker', TICKER);
  const bad = plugin(s.dir, 'bad', BAD);
  const doc = readFileSync(s.config, 'utf8');
  // The test plugins join the plugins block.
  writeFileSync(
    s.config,
    doc.replace(/^plugins:\n/m, `plugins:\n  ticker:\n    path: ${JSON.stringify(ticker)}\n  bad:\n    path: ${JSON.stringify(bad)}\n    config:\n      mode: ${mode}\n`),
  );
  return s;
}

interface Agent {
  child: ChildProcess;
  logs: () => string;
}

function start(s: Setup, args: string[] = []): Agent {
  const child = spawn(process.execPath, [bin, 'run', '--config', s.config, ...args], { cwd: s.dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let logs = '';
  child.stderr!.on('data', (d: Buffer) => (logs += d.toString()));
  child.stdout!.on('data', (d: Buffer) => (logs += d.toString()));
  return { child, logs: () => logs };
}

async function waitFor<T>(what: string, fn: () => T | undefined, logs: () => string, ms = 45_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; log:\n${logs().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function stop(a: Agent): Promise<number | null> {
  a.child.kill('SIGTERM');
  const guard = setTimeout(() => a.child.kill('SIGKILL'), 30_000);
  const code = await exited(a.child);
  clearTimeout(guard);
  return code;
}

interface Status {
  pid: number;
  plugins: Array<{ id: string; state: string; restarts: number; lastError?: string }>;
  skipped: Array<{ id: string; reason: string }>;
  core: { errors: Record<string, number> };
  watchdog?: { restarts: number; reason: string; plugin?: string; method?: string; detail: string; by_reason?: Record<string, number> };
}

function status(s: Setup): Status | undefined {
  const r = spawnSync(process.execPath, [bin, 'status', '--json', '--config', s.config], { cwd: s.dir, encoding: 'utf8', env: { ...process.env, VIGIL_CONFIG: '' } });
  return r.status === 0 ? (JSON.parse(r.stdout) as Status) : undefined;
}

interface HealthDetection {
  rule: { id: string };
  summary: string;
}

function healthDetections(s: Setup): HealthDetection[] {
  if (!existsSync(s.detections)) return [];
  return readFileSync(s.detections, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as HealthDetection)
    .filter((d) => d.rule.id.startsWith('vigil.health.'));
}

/** The agent keeps running: the ticker still runs, bad is detached, the cause is in the log, status and a health detection. */
async function outlives(mode: string, rule: string, cause: RegExp): Promise<void> {
  const s = withBad(mode);
  const a = start(s);
  try {
    const st = await waitFor('bad to be detached', () => {
      const x = status(s);
      return x?.plugins.find((p) => p.id === 'bad')?.state === 'detached' ? x : undefined;
    }, a.logs);
    const bad = st.plugins.find((p) => p.id === 'bad')!;
    assert.match(bad.lastError ?? '', cause, 'the cause is in vigil status');
    assert.equal(st.plugins.find((p) => p.id === 'ticker')?.state, 'running', 'the sensor keeps running');
    const det = await waitFor(`a ${rule} health detection`, () => healthDetections(s).find((d) => d.rule.id === rule), a.logs);
    assert.match(det.summary, /bad/);
    await waitFor('the cause in the log', () => (cause.test(a.logs()) ? true : undefined), a.logs);
    assert.equal(a.child.exitCode, null, 'the agent still runs');
  } finally {
    const code = await stop(a);
    assert.equal(code, 0, a.logs().slice(-3000));
  }
}

test('a plugin calling process.exit(0) is refused and handled as its failure; the agent keeps running', async () => {
  await outlives('exit', 'vigil.health.plugin-exit', /VIGIL_ERR_PLUGIN_EXIT.*process\.exit\(0\)/);
});

test('a throw in a plugin timer is the plugin failure, not the end of the agent', async () => {
  await outlives('timer-throw', 'vigil.health.plugin-uncaught-exception', /bad: thrown in a timer/);
});

test('an unhandled rejection left by a plugin is the plugin failure, not the end of the agent', async () => {
  await outlives('rejection', 'vigil.health.plugin-unhandled-rejection', /bad: rejected and left/);
});

test('a start() that never resolves times out, is retried and detached; the agent keeps running', async () => {
  await outlives('hung-start', 'vigil.health.plugin-start-timeout', /VIGIL_ERR_PLUGIN_START_TIMEOUT|start\(\) took longer/);
});

/** The watchdog restarts the agent process, names bad.onEvents, disables bad after two culprit restarts. */
/**
 * `reasons`: the restart reasons that are right for the fault. A heap running away to its
 * limit ends in an exit, but on a loaded machine the collector's last full pauses can hold the
 * loop past the stall limit first: the watchdog then restarts the agent for a stall, rightly.
 */
async function watchdogDisables(mode: string, reasons: readonly string[]): Promise<void> {
  const reason = `(?:${reasons.join('|')})`;
  const s = withBad(mode, { watchdog_disable_after: 2, watchdog_max_restarts: 5, watchdog_max_heap_mb: 96 });
  const a = start(s);
  try {
    const st = await waitFor('an agent process with bad disabled', () => {
      const x = status(s);
      return x?.skipped.some((p) => p.id === 'bad') ? x : undefined;
    }, a.logs, 90_000);
    assert.match(st.skipped.find((p) => p.id === 'bad')!.reason, /disabled by the watchdog: held the agent's event loop in onEvents/);
    assert.ok(reasons.includes(st.watchdog?.reason ?? ''), `restarted for ${st.watchdog?.reason}, expected one of ${reasons.join(', ')}`);
    assert.equal(st.watchdog?.plugin, 'bad');
    assert.equal(st.watchdog?.method, 'onEvents');
    assert.equal(reasons.reduce((n, r) => n + (st.watchdog?.by_reason?.[r] ?? 0), 0), 2);
    assert.equal(st.plugins.find((p) => p.id === 'ticker')?.state, 'running');
    const human = spawnSync(process.execPath, [bin, 'status', '--config', s.config], { cwd: s.dir, encoding: 'utf8', env: { ...process.env, VIGIL_CONFIG: '' } });
    assert.match(human.stdout, new RegExp(`watchdog: 2 restart\\(s\\) of the agent process; last: ${reason} \\(held by bad\\.onEvents\\)`));
    assert.match(human.stdout, /skipped bad: disabled by the watchdog/);
    const restarted = new RegExp(`VIGIL_ERR_WATCHDOG_RESTART: the agent is restarted: ${reason} \\(held by bad\\.onEvents\\)`);
    await waitFor('the restart in the log', () => (restarted.test(a.logs()) ? true : undefined), a.logs);
    await waitFor('the verdict in the log', () => (/VIGIL_ERR_WATCHDOG_DISABLED: plugin bad is disabled/.test(a.logs()) ? true : undefined), a.logs);
    const det = await waitFor('the restart as a health detection', () => healthDetections(s).find((d) => d.rule.id === 'vigil.health.agent-restarted' && /bad\.onEvents/.test(d.summary)), a.logs);
    assert.match(det.summary, new RegExp(reason));
    assert.equal(a.child.exitCode, null, 'the watchdog still runs');
  } finally {
    const code = await stop(a);
    assert.equal(code, 0, a.logs().slice(-3000));
  }
}

test('a synchronous infinite loop in onEvents: the watchdog restarts the stalled agent, names bad.onEvents, then disables bad', async () => {
  await watchdogDisables('loop', ['stall']);
});

test('unbounded allocation in onEvents: the agent process dies at its heap limit, is restarted, and bad is disabled', async () => {
  await watchdogDisables('alloc', ['exit', 'stall']);
});

test('a responder whose flush() never resolves does not hang the stop: exit 0 once the flush timeout passes', async () => {
  const s = setup({ flush_timeout_seconds: 1 }, {});
  const folder = plugin(s.dir, 'hung-flush', HUNG_FLUSH);
  writeFileSync(s.config, readFileSync(s.config, 'utf8').replace(/^plugins:\n/m, `plugins:\n  hung-flush:\n    path: ${JSON.stringify(folder)}\n`));
  const a = start(s);
  await waitFor('the agent to run', () => (a.logs().includes('vigil agent running') ? true : undefined), a.logs);
  const code = await stop(a);
  assert.equal(code, 0, a.logs().slice(-3000));
  assert.match(a.logs(), /VIGIL_ERR_PLUGIN_FLUSH_TIMEOUT: plugin hung-flush: flush\(\) took longer than 1000 ms/);
  assert.match(a.logs(), /"msg":"stopped"/);
});

test('an agent that keeps being restarted ends the watchdog with exit 1', async () => {
  const s = setup({ watchdog_max_rss_mb: 8, watchdog_max_restarts: 2, watchdog_backoff_ms: 20 }, {});
  const a = start(s);
  const guard = setTimeout(() => a.child.kill('SIGKILL'), 60_000);
  const code = await exited(a.child);
  clearTimeout(guard);
  assert.equal(code, 1, a.logs().slice(-3000));
  assert.match(a.logs(), /VIGIL_ERR_WATCHDOG_RESTART: the agent is restarted: memory/);
  assert.match(a.logs(), /VIGIL_ERR_WATCHDOG_GAVE_UP/);
});

for (const args of [[], ['--no-watchdog']]) {
  test(`SIGTERM during boot exits 0 (${args.length ? 'without' : 'with'} the watchdog)`, async () => {
    const s = withBad('hung-start', { start_timeout_seconds: 30 });
    const a = start(s, args);
    await waitFor('bad to be starting', () => (a.logs().includes('bad: starting') ? true : undefined), a.logs);
    const code = await stop(a);
    assert.equal(code, 0, a.logs().slice(-3000));
    assert.doesNotMatch(a.logs(), /vigil agent running/, 'the stop came during the boot');
  });
}

test('a crash that names no plugin is logged with its stack, counted on the core, and the agent keeps running', async () => {
  const s = setup({}, {});
  // A string thrown from a timer made at import: no stack, no plugin call around it.
  const folder = plugin(
    s.dir,
    'anon',
    TICKER.replace("id: 'ticker'", "id: 'anon'").replace('export const plugin', "setTimeout(() => { throw 'anonymous failure'; }, 300);\nexport const plugin"),
  );
  writeFileSync(s.config, readFileSync(s.config, 'utf8').replace(/^plugins:\n/m, `plugins:\n  anon:\n    path: ${JSON.stringify(folder)}\n`));
  const a = start(s);
  try {
    const st = await waitFor('the crash counted on the core', () => {
      const x = status(s);
      return x && (x.core.errors['supervise:VIGIL_ERR_AGENT_UNCAUGHT:uncaught-exception'] ?? 0) > 0 ? x : undefined;
    }, a.logs);
    assert.equal(st.plugins.find((p) => p.id === 'anon')?.state, 'running', 'no plugin was blamed');
    await waitFor('the crash in the log', () => (/VIGIL_ERR_AGENT_UNCAUGHT: uncaught-exception not attributable to a plugin.*anonymous failure|anonymous failure.*VIGIL_ERR_AGENT_UNCAUGHT/.test(a.logs()) ? true : undefined), a.logs);
    assert.equal(st.watchdog, undefined, 'the agent process was not restarted');
  } finally {
    const code = await stop(a);
    assert.equal(code, 0, a.logs().slice(-3000));
  }
});
