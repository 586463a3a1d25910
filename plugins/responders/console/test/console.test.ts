import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { plugin, ConsoleResponder, type ConsoleConfig, type ConsoleOutput } from '../index.js';
import { recordingContext, sampleDetection } from '../../../../testing/index.js';

const ESC = '\u001b';
const here = dirname(fileURLToPath(import.meta.url));
const projectRoot = join(here, '..', '..', '..', '..');

/** A writable that keeps what it receives; `isTTY` mimics a terminal or a pipe. */
class Sink extends Writable implements ConsoleOutput {
  text = '';
  constructor(
    readonly isTTY: boolean,
    private readonly failWith?: NodeJS.ErrnoException,
    highWaterMark = 16 * 1024,
  ) {
    super({ decodeStrings: false, highWaterMark });
  }
  override _write(chunk: unknown, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.failWith) {
      cb(this.failWith);
      return;
    }
    this.text += String(chunk);
    setImmediate(cb);
  }
}

function responder(config: Partial<ConsoleConfig>, sink: Sink) {
  const ctx = recordingContext(plugin, { config: { color: 'auto', min_severity: 'informational', stream: 'stdout', ...config } });
  return { ctx, r: new ConsoleResponder(ctx.ctx, sink) };
}

test('manifest declares a responder that consumes detections and alerts', () => {
  assert.equal(plugin.manifest.kind, 'responder');
  assert.equal(plugin.manifest.apiVersion, '2.0.0');
  assert.deepEqual(plugin.manifest.consumes, ['detection']);
  assert.deepEqual(plugin.manifest.actions, ['alert']);
  assert.deepEqual(plugin.manifest.platforms, ['any']);
  assert.equal(plugin.manifest.configSchema['additionalProperties'], false);
});

test('prints time, severity, title, rule id, actor and host without ANSI codes when not a TTY', async () => {
  const sink = new Sink(false);
  const { ctx, r } = responder({}, sink);
  await r.start();
  await r.onDetections([sampleDetection({ severity: 'critical', pid: 1337 })]);
  await r.flush();
  assert.ok(!sink.text.includes(ESC), `unexpected escape codes in ${JSON.stringify(sink.text)}`);
  const first = sink.text.split('\n')[0] ?? '';
  assert.match(first, /^2024-05-01T12:34:56\.789Z CRITICAL /);
  assert.ok(first.includes('LSASS memory access by credential dumper'));
  assert.ok(first.includes('[vigil-cred-lsass-access]'));
  assert.ok(first.includes('actor=C:\\Users\\bob\\Downloads\\mimikatz.exe pid=1337'));
  assert.ok(first.includes('host=WS01.corp.local'));
  assert.match(sink.text, /\n {4}.*mimikatz\.exe read lsass\.exe.*tags: attack\.t1003\.001/);
  assert.equal(ctx.counters.emitted, 1);
  await r.stop();
  await ctx.dispose();
});

test('colours follow the mode and the stream', async () => {
  const cases: Array<[ConsoleConfig['color'], boolean, boolean]> = [
    ['auto', true, true],
    ['auto', false, false],
    ['never', true, false],
    ['always', false, true],
  ];
  const saved = process.env['NO_COLOR'];
  delete process.env['NO_COLOR'];
  try {
    for (const [color, tty, expectColour] of cases) {
      const sink = new Sink(tty);
      const { ctx, r } = responder({ color }, sink);
      await r.start();
      await r.onDetections([sampleDetection()]);
      await r.stop();
      await ctx.dispose();
      assert.equal(sink.text.includes(ESC), expectColour, `color=${color} tty=${tty}`);
      assert.ok(sink.text.includes('HIGH'));
    }
  } finally {
    if (saved !== undefined) process.env['NO_COLOR'] = saved;
  }
});

test('detections below min_severity are not printed and are counted as intended discards', async () => {
  const sink = new Sink(false);
  const { ctx, r } = responder({ min_severity: 'medium' }, sink);
  await r.start();
  await r.onDetections([
    sampleDetection({ id: 'a', severity: 'informational', title: 'info rule' }),
    sampleDetection({ id: 'b', severity: 'low', title: 'low rule' }),
    sampleDetection({ id: 'c', severity: 'medium', title: 'medium rule' }),
    sampleDetection({ id: 'd', severity: 'critical', title: 'critical rule' }),
  ]);
  await r.stop();
  assert.ok(!sink.text.includes('info rule'));
  assert.ok(!sink.text.includes('low rule'));
  assert.ok(sink.text.includes('medium rule'));
  assert.ok(sink.text.includes('critical rule'));
  const snap = ctx.counters.snapshot();
  assert.equal(snap.emitted, 2);
  assert.deepEqual(snap.discarded['below_min_severity'], { count: 2, intended: true });
  assert.equal(ctx.counters.lostTotal, 0);
});

test('terminal control characters from event data are escaped, not printed', async () => {
  const sink = new Sink(true);
  const { r } = responder({ color: 'never' }, sink);
  await r.start();
  await r.onDetections([sampleDetection({ image: `C:\\evil${ESC}[2J\rfake.exe\u202egpj.exe` })]);
  await r.stop();
  assert.ok(!sink.text.includes(ESC));
  assert.ok(!sink.text.includes('\r'));
  assert.ok(sink.text.includes('C:\\evil\\x1b[2J\\x0dfake.exe\\u202egpj.exe'));
});

test('stop without start, stop twice, and detections after stop are counted', async () => {
  const sink = new Sink(false);
  const { ctx, r } = responder({}, sink);
  await r.stop();
  await r.stop();
  await ctx.dispose();

  const second = responder({}, new Sink(false));
  await second.r.start();
  await second.r.stop();
  await second.r.stop();
  await second.r.onDetections([sampleDetection()]);
  await second.ctx.dispose();
  assert.deepEqual(second.ctx.counters.snapshot().discarded['plugin_not_running'], { count: 1, intended: false });
});

test('a failing output stream is counted, never thrown into the bus', async () => {
  const epipe: NodeJS.ErrnoException = Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });
  const sink = new Sink(false, epipe);
  const { ctx, r } = responder({}, sink);
  await r.start();
  await r.onDetections([sampleDetection({ id: 'x' }), sampleDetection({ id: 'y' })]);
  await r.onDetections([sampleDetection({ id: 'z' })]);
  await r.stop();
  await ctx.dispose();
  const snap = ctx.counters.snapshot();
  assert.ok((snap.errors['send:write:EPIPE'] ?? 0) >= 1, JSON.stringify(snap.errors));
  assert.equal(snap.emitted, 0);
  // The second batch hits a destroyed stream; all three lines are accounted as lost.
  assert.equal(snap.discarded['write_error']?.count, 3);
});

test('a slow stream pushes back and every line still arrives', async () => {
  const sink = new Sink(false, undefined, 64);
  const { ctx, r } = responder({}, sink);
  await r.start();
  for (let i = 0; i < 20; i++) await r.onDetections([sampleDetection({ id: `d${i}`, title: `rule number ${i}` })]);
  await r.stop();
  for (let i = 0; i < 20; i++) assert.ok(sink.text.includes(`rule number ${i} `), `line ${i}`);
  assert.equal(ctx.counters.emitted, 20);
});

test('writes to the real process stdout through the plugin factory (a pipe, so no colour)', async () => {
  const script = `
    import { plugin } from './plugins/responders/console/index.js';
    import { recordingContext, sampleDetection } from './testing/index.js';
    const ctx = recordingContext(plugin, { config: { color: 'auto', min_severity: 'informational', stream: 'stdout' } });
    const r = plugin.create(ctx.ctx);
    await r.start();
    await r.onDetections([sampleDetection({ severity: 'medium' })]);
    await r.flush();
    await r.stop();
    await ctx.dispose();
  `;
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env['FORCE_COLOR'];
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: projectRoot,
    env,
  });
  assert.ok(stdout.includes('MEDIUM'));
  assert.ok(stdout.includes('LSASS memory access by credential dumper'));
  assert.ok(!stdout.includes(ESC));
});
