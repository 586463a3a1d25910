import { strict as assert } from 'node:assert';
import Database from 'better-sqlite3';
import { Command, CommanderError } from 'commander';
import { chmodSync, existsSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { after, test } from 'node:test';
import type { ActionResult, CommandHandlers, CommandHost } from '../../../../core/index.js';
import {
  AlertStoreError,
  AlertStoreResponder,
  SCHEMA_VERSION,
  commands,
  parseSince,
  plugin,
  queryActionJournal,
  queryAlerts,
  type AlertRow,
  type JournalRow,
  type AlertStoreConfig,
} from '../index.js';
import { recordingContext, sampleDetection } from '../../../../testing/index.js';
import { addPluginCommands, commandHost } from '../../../../cli/plugin-commands.js';

const root = mkdtempSync(join(tmpdir(), 'vigil-alert-store-test-'));
after(() => rm(root, { recursive: true, force: true }));
let n = 0;
const freshDb = (): string => join(mkdtempSync(join(root, `case${n++}-`)), 'alerts.db');

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function make(config: Partial<AlertStoreConfig>, options: { logLevel?: 'warn' } = {}) {
  const ctx = recordingContext(plugin, { ...options, config: { path: 'unused.db', retention_days: 0, max_rows: 0, prune_interval_seconds: 3600, ...config } });
  return { ctx, r: plugin.create(ctx.ctx) };
}

function result(detectionId: string, action: string, status: ActionResult['status'], reason?: string): ActionResult {
  return {
    request_id: `req-${detectionId}-${action}`,
    detection_id: detectionId,
    action,
    responder: action === 'kill' ? 'process-control' : 'alert-store',
    status,
    ...(reason === undefined ? {} : { reason }),
    details: { attempt: 1 },
    time: Date.now(),
  };
}

const ids = (rows: readonly AlertRow[]): string[] => rows.map((r) => r.id);

test('manifest, config schema and the commands export', () => {
  assert.equal(plugin.manifest.id, 'alert-store');
  assert.deepEqual(plugin.manifest.consumes, ['detection']);
  const schema = plugin.manifest.configSchema as { additionalProperties: boolean; properties: Record<string, { default?: unknown }> };
  assert.equal(schema.additionalProperties, false);
  assert.equal(schema.properties['path']?.default, 'vigil-alerts.db');
  assert.deepEqual(plugin.manifest.commands?.map((c) => c.name), ['alerts']);
  const handlers: CommandHandlers = commands;
  assert.equal(typeof handlers['alerts'], 'function');
});

test('stores detections with evidence and action results, survives a restart, and queries them', async () => {
  const db = freshDb();
  const first = make({ path: db });
  assert.equal(existsSync(db), false, 'create must not touch the disk');
  await first.r.start();
  await first.r.onDetections?.([
    sampleDetection({ id: 'a1', severity: 'high', pid: 100 }),
    sampleDetection({ id: 'a2', severity: 'low', title: 'Suspicious PowerShell', ruleId: 'vigil-ps-enc', pid: 200 }),
  ]);
  await first.r.onActionResults?.([result('a1', 'kill', 'done'), result('a1', 'memscan', 'skipped', 'dry-run')]);
  await first.r.stop();
  await first.ctx.dispose();
  assert.equal(first.ctx.counters.emitted, 2);

  const second = make({ path: db });
  await second.r.start();
  await second.r.onDetections?.([sampleDetection({ id: 'a3', severity: 'critical', host: 'DC01' })]);
  // While the agent still holds the store open, a reader sees everything committed.
  const live = queryAlerts(db);
  assert.deepEqual(ids(live).sort(), ['a1', 'a2', 'a3']);
  await second.r.stop();
  await second.ctx.dispose();

  const rows = queryAlerts(db);
  assert.equal(rows.length, 3);
  const a1 = rows.find((r) => r.id === 'a1');
  assert.ok(a1);
  assert.equal(a1.rule_id, 'vigil-cred-lsass-access');
  assert.equal(a1.rule_source, 'native');
  assert.equal(a1.severity, 'high');
  assert.equal(a1.actor_pid, 100);
  assert.equal(a1.actor_image, 'C:\\Users\\bob\\Downloads\\mimikatz.exe');
  assert.equal(a1.actor_guid, '{6c1a0b0e-1111-2222-3333-444455556666}');
  assert.equal(a1.host, 'WS01.corp.local');
  assert.deepEqual(a1.tags, ['attack.t1003.001', 'attack.credential_access']);
  assert.equal(a1.evidence.length, 1);
  assert.equal(a1.evidence[0]?.type, 'process.access');
  assert.equal(a1.evidence[0]?.target?.image, 'C:\\Windows\\system32\\lsass.exe');
  assert.deepEqual(a1.detection.matched, sampleDetection().matched);
  assert.equal('evidence' in a1.detection, false);
  assert.deepEqual(
    a1.action_results.map((x) => [x.action, x.status, x.reason ?? null]),
    [
      ['kill', 'done', null],
      ['memscan', 'skipped', 'dry-run'],
    ],
  );
  assert.deepEqual(a1.action_results[0]?.details, { attempt: 1 });
  assert.equal(rows.find((r) => r.id === 'a3')?.host, 'DC01');

  const raw = new Database(db, { readonly: true });
  assert.equal(raw.pragma('user_version', { simple: true }), SCHEMA_VERSION);
  assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
  raw.close();
});

test('filters: since, minimum severity, rule id or title, limit', async () => {
  const db = freshDb();
  const now = Date.now();
  const { ctx, r } = make({ path: db });
  await r.start();
  await r.onDetections?.([
    sampleDetection({ id: 'old-info', severity: 'informational', raised: now - 3 * DAY, title: 'Rare logon' }),
    sampleDetection({ id: 'old-high', severity: 'high', raised: now - 2 * HOUR }),
    sampleDetection({ id: 'new-med', severity: 'medium', raised: now - 10 * 60_000, title: 'Encoded PowerShell', ruleId: 'ps-enc' }),
    sampleDetection({ id: 'new-crit', severity: 'critical', raised: now - 60_000, title: 'LSASS dump via comsvcs' }),
  ]);
  await r.stop();
  await ctx.dispose();

  assert.deepEqual(ids(queryAlerts(db)), ['new-crit', 'new-med', 'old-high', 'old-info'], 'newest raised first');
  assert.deepEqual(ids(queryAlerts(db, { since: '1h' })), ['new-crit', 'new-med']);
  assert.deepEqual(ids(queryAlerts(db, { since: '7d' })).length, 4);
  assert.deepEqual(ids(queryAlerts(db, { since: now - 3 * HOUR })), ['new-crit', 'new-med', 'old-high']);
  assert.deepEqual(ids(queryAlerts(db, { since: new Date(now - 3 * HOUR).toISOString() })), ['new-crit', 'new-med', 'old-high']);
  assert.deepEqual(ids(queryAlerts(db, { severity: 'high' })), ['new-crit', 'old-high']);
  assert.deepEqual(ids(queryAlerts(db, { severity: 'medium', since: '1h' })), ['new-crit', 'new-med']);
  assert.deepEqual(ids(queryAlerts(db, { rule: 'ps-enc' })), ['new-med']);
  assert.deepEqual(ids(queryAlerts(db, { rule: 'lsass' })), ['new-crit', 'old-high']);
  assert.deepEqual(ids(queryAlerts(db, { rule: 'nothing like this' })), []);
  assert.deepEqual(ids(queryAlerts(db, { limit: 1 })), ['new-crit']);
  assert.throws(() => queryAlerts(db, { since: 'yesterday' }), (e: AlertStoreError) => e.code === 'VIGIL_ERR_ALERTS_BAD_OPTION');
  assert.throws(() => queryAlerts(db, { limit: 0 }), (e: AlertStoreError) => e.code === 'VIGIL_ERR_ALERTS_BAD_OPTION');
});

test('parseSince understands spans and ISO times', () => {
  const now = Date.UTC(2024, 4, 8, 0, 0, 0);
  assert.equal(parseSince('1h', now), now - HOUR);
  assert.equal(parseSince('7d', now), now - 7 * DAY);
  assert.equal(parseSince('30m', now), now - 30 * 60_000);
  assert.equal(parseSince('2024-05-01', now), Date.UTC(2024, 4, 1));
  assert.equal(parseSince('2024-05-01T12:00:00Z', now), Date.UTC(2024, 4, 1, 12));
  assert.equal(parseSince(12345, now), 12345);
  for (const bad of ['', 'h', '1y', '-1h', '2024-13-45', 'last week']) assert.throws(() => parseSince(bad, now), AlertStoreError, bad);
});

test('retention by age and by row count is applied and counted', async () => {
  const db = freshDb();
  const now = Date.now();
  const seed = make({ path: db });
  await seed.r.start();
  await seed.r.onDetections?.([
    sampleDetection({ id: 'ancient', raised: now - 10 * DAY }),
    sampleDetection({ id: 'recent', raised: now - HOUR }),
  ]);
  await seed.r.onActionResults?.([result('ancient', 'kill', 'done')]);
  await seed.r.stop();
  await seed.ctx.dispose();

  const aged = make({ path: db, retention_days: 7, max_rows: 3 });
  await aged.r.start();
  assert.deepEqual(ids(queryAlerts(db)), ['recent'], 'pruned by age on start');
  assert.deepEqual(aged.ctx.counters.snapshot().discarded['retention_days'], { count: 1, intended: true });
  for (let i = 0; i < 4; i++) await aged.r.onDetections?.([sampleDetection({ id: `n${i}`, raised: now + i })]);
  assert.deepEqual(ids(queryAlerts(db)), ['n3', 'n2', 'n1'], 'oldest dropped beyond max_rows');
  assert.equal(aged.ctx.counters.snapshot().discarded['max_rows']?.count, 2);
  assert.equal(aged.ctx.counters.snapshot().custom['stored_detections'], 3);
  await aged.r.stop();
  await aged.ctx.dispose();

  const raw = new Database(db, { readonly: true });
  const evidence = raw.prepare('SELECT DISTINCT detection_id AS id FROM evidence ORDER BY id').all() as Array<{ id: string }>;
  assert.deepEqual(evidence.map((e) => e.id), ['n1', 'n2', 'n3']);
  assert.equal((raw.prepare('SELECT count(*) AS c FROM action_results').get() as { c: number }).c, 0);
  raw.close();
});

test('duplicates and invalid detections are counted, a failing insert is counted and not thrown', async () => {
  const db = freshDb();
  const { ctx, r } = make({ path: db });
  await r.start();
  await r.onDetections?.([sampleDetection({ id: 'same' })]);
  await r.onDetections?.([sampleDetection({ id: 'same' }), { ...sampleDetection({ id: 'bad' }), severity: 'extreme' as never }]);
  // Another process (here: a second connection) makes every insert fail inside SQLite.
  const other = new Database(db);
  other.exec("CREATE TRIGGER refuse BEFORE INSERT ON detections BEGIN SELECT RAISE(ABORT, 'refused'); END;");
  other.close();
  assert.doesNotThrow(() => r.onDetections?.([sampleDetection({ id: 'x' }), sampleDetection({ id: 'y' })]));
  await r.stop();
  await ctx.dispose();
  const snap = ctx.counters.snapshot();
  assert.equal(snap.emitted, 1);
  assert.deepEqual(snap.discarded['duplicate_id'], { count: 1, intended: true });
  assert.deepEqual(snap.discarded['unserializable'], { count: 1, intended: false });
  assert.deepEqual(snap.discarded['store_error'], { count: 2, intended: false });
  assert.ok(Object.keys(snap.errors).some((k) => k.startsWith('send:store:SQLITE_CONSTRAINT')), JSON.stringify(snap.errors));
  assert.deepEqual(ids(queryAlerts(db)), ['same']);
});

test('stop without start, stop twice, and batches after stop', async () => {
  const db = freshDb();
  const { ctx, r } = make({ path: db });
  await r.stop();
  await r.stop();
  await r.onDetections?.([sampleDetection()]);
  await ctx.dispose();
  assert.equal(existsSync(db), false);
  assert.equal(ctx.counters.snapshot().discarded['plugin_not_running']?.count, 1);

  const b = make({ path: db });
  await b.r.start();
  await b.r.flush?.();
  await b.r.stop();
  await b.r.stop();
  await b.ctx.dispose();
  assert.ok(b.r instanceof AlertStoreResponder);
});

test('refuses files that are not (or not yet) a Vigil alert store', async () => {
  const foreign = freshDb();
  const f = new Database(foreign);
  f.exec('CREATE TABLE notes (x TEXT)');
  f.close();
  const { ctx, r } = make({ path: foreign });
  await assert.rejects(r.start(), (e: AlertStoreError) => e.code === 'VIGIL_ERR_ALERTS_SCHEMA' && e.message.includes(foreign));
  await r.stop();
  await ctx.dispose();
  assert.throws(() => queryAlerts(foreign), (e: AlertStoreError) => e.code === 'VIGIL_ERR_ALERTS_SCHEMA');

  const newer = freshDb();
  const nw = new Database(newer);
  nw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
  nw.close();
  const m = make({ path: newer });
  await assert.rejects(m.r.start(), /newer than this Vigil understands/);
  await m.ctx.dispose();

  const text = freshDb();
  writeFileSync(text, 'just text, not a database at all. '.repeat(10));
  assert.throws(() => queryAlerts(text), (e: AlertStoreError) => e.code === 'VIGIL_ERR_ALERTS_SCHEMA');
  assert.throws(() => queryAlerts(join(root, 'missing.db')), (e: AlertStoreError) => e.code === 'VIGIL_ERR_ALERTS_NO_DB');
});

/**
 * Runs `vigil alerts …` in-process like the vigil CLI does (the declared command, parsed by
 * the CLI, run by the module's handler): commander errors exit with their code, anything
 * thrown by the action is a runtime failure (exit 1). Without a `pluginConfig`, the config
 * names `defaultDb`.
 */
async function runCli(
  args: string[],
  defaultDb: string,
  host?: { pluginConfig: (id: string, configFile?: string) => ReturnType<CommandHost['pluginConfig']> },
): Promise<{ out: string; err: string; code: number }> {
  let out = '';
  let err = '';
  const program = new Command('vigil').exitOverride().configureOutput({
    writeOut: (s) => (out += s),
    writeErr: (s) => (err += s),
  });
  addPluginCommands(
    program,
    { manifest: plugin.manifest, origin: 'builtin', handler: async (path) => commands[path]! },
    {
      taken: new Set(),
      clash: (name) => assert.fail(`command ${name} clashes`),
      host: (manifest, configFile): CommandHost => ({
        ...commandHost(manifest, configFile),
        out: (s) => void (out += s),
        pluginConfig: () =>
          host ? host.pluginConfig(manifest.id, configFile) : { config: { path: defaultDb }, resolvePath: (p: string) => p },
      }),
      exit: (code) => assert.fail(`exit code ${code} returned`),
    },
  );
  try {
    await program.parseAsync(['alerts', ...args], { from: 'user' });
    return { out, err, code: 0 };
  } catch (e) {
    if (e instanceof CommanderError) return { out, err: err + e.message, code: e.exitCode };
    return { out, err: err + (e instanceof Error ? e.message : String(e)), code: 1 };
  }
}

test('vigil alerts: table, --json, filters, bad values exit 2, missing DB is explained', async () => {
  const db = freshDb();
  const { ctx, r } = make({ path: db });
  await r.start();
  await r.onDetections?.([
    sampleDetection({ id: 'c1', severity: 'critical', pid: 31337 }),
    sampleDetection({ id: 'c2', severity: 'low', title: 'Odd scheduled task', ruleId: 'task-odd' }),
  ]);
  await r.onActionResults?.([result('c1', 'kill', 'done')]);
  await r.stop();
  await ctx.dispose();

  const table = await runCli([], db);
  assert.equal(table.code, 0, table.err);
  const lines = table.out.trimEnd().split('\n');
  assert.match(lines[0] ?? '', /^TIME\s+SEVERITY\s+RULE\s+ACTOR\s+HOST\s+ACTIONS\s+ID$/);
  assert.ok(table.out.includes('LSASS memory access by credential dumper'));
  assert.ok(table.out.includes('mimikatz.exe (31337)'));
  assert.ok(table.out.includes('kill:done'));
  assert.equal(lines.at(-1), '2 alerts');

  const json = await runCli(['--json', '--severity', 'high'], join(root, 'unused.db'));
  assert.equal(json.code, 1, 'the default DB does not exist');
  const viaDb = await runCli(['--db', db, '--json', '--severity', 'high'], join(root, 'unused.db'));
  assert.equal(viaDb.code, 0, viaDb.err);
  const parsed = JSON.parse(viaDb.out) as AlertRow[];
  assert.deepEqual(ids(parsed), ['c1']);
  assert.equal(parsed[0]?.evidence.length, 1);
  assert.equal(parsed[0]?.action_results[0]?.status, 'done');

  const byRule = await runCli(['--rule', 'task-odd', '--since', '1h', '--limit', '5'], db);
  assert.equal(byRule.code, 0, byRule.err);
  assert.ok(byRule.out.includes('Odd scheduled task'));
  assert.ok(!byRule.out.includes('LSASS'));

  const none = await runCli(['--since', '2999-01-01'], db);
  assert.equal(none.out, 'No alerts match.\n');

  for (const bad of [['--severity', 'severe'], ['--since', 'yesterday'], ['--limit', '0'], ['--limit', 'ten']]) {
    const res = await runCli(bad, db);
    assert.equal(res.code, 2, `${bad.join(' ')} → ${res.err}`);
    assert.match(res.err, new RegExp(bad[0] ?? ''));
  }

  // As the vigil CLI calls it: the path comes from the alert-store config block, resolved
  // against the config file's folder, and --config is passed through.
  const seen: Array<string | undefined> = [];
  const host = {
    pluginConfig: (id: string, file?: string) => {
      seen.push(`${id}:${file ?? ''}`);
      return { config: { path: basename(db) }, resolvePath: (p: string) => join(dirname(db), p) };
    },
  };
  const viaHost = await runCli(['--config', 'agent.yaml', '--json'], 'unused', host);
  assert.equal(viaHost.code, 0, viaHost.err);
  assert.equal((JSON.parse(viaHost.out) as AlertRow[]).length, 2);
  assert.deepEqual(seen, ['alert-store:agent.yaml']);
  const badConfig = {
    pluginConfig: (): never => {
      throw Object.assign(new Error('invalid config for plugin alert-store'), { code: 'VIGIL_ERR_CONFIG_INVALID' });
    },
  };
  const refused = await runCli([], 'unused', badConfig);
  assert.notEqual(refused.code, 0);
  assert.match(refused.err, /invalid config for plugin alert-store/);

  const missing = join(root, 'nowhere', 'alerts.db');
  const res = await runCli([], missing);
  assert.equal(res.code, 1);
  assert.ok(res.err.includes(`no alert store at ${missing}`), res.err);
});

test('the store, its WAL and SHM are 0600 in a new 0700 folder whatever the umask; a store left 0644 is tightened and reported', async () => {
  const previous = process.umask(0o022);
  try {
    const db = join(mkdtempSync(join(root, 'modes-')), 'new-folder', 'alerts.db');
    const first = make({ path: db });
    await first.r.start();
    await first.r.onDetections?.([sampleDetection({ id: 'm1' })]);
    const modeOf = (p: string): number => statSync(p).mode & 0o777;
    assert.equal(modeOf(dirname(db)), 0o700);
    for (const f of [db, `${db}-wal`, `${db}-shm`]) {
      assert.ok(existsSync(f), `${basename(f)} exists while the store is open`);
      assert.equal(modeOf(f), 0o600, `${basename(f)} stays 0600 after writes`);
    }
    await first.r.stop();
    await first.ctx.dispose();

    // As an older version left it: readable by every local user, and a WAL beside it.
    chmodSync(db, 0o644);
    const left = new Database(db);
    left.pragma('journal_mode = WAL');
    left.pragma('wal_autocheckpoint = 0');
    left.exec("INSERT INTO evidence (detection_id, seq, event_id, event_type, time, event) VALUES ('x', 0, NULL, NULL, NULL, '{}')");
    assert.equal(modeOf(`${db}-wal`), 0o644, 'SQLite gives the WAL the mode of the database');
    const second = make({ path: db }, { logLevel: 'warn' });
    await second.r.start();
    for (const f of [db, `${db}-wal`, `${db}-shm`]) assert.equal(modeOf(f), 0o600, `${basename(f)} tightened`);
    const tightened = second.ctx.logs.filter((l) => l.level === 40).map((l) => [l['path'], l['from']]);
    assert.deepEqual(tightened, [
      [db, '0644'],
      [`${db}-wal`, '0644'],
      [`${db}-shm`, '0644'],
    ]);
    left.close();
    await second.r.onDetections?.([sampleDetection({ id: 'm2' })]);
    assert.deepEqual(ids(queryAlerts(db)).sort(), ['m1', 'm2']);
    await second.r.stop();
    await second.ctx.dispose();
  } finally {
    process.umask(previous);
  }
});

test('the action journal: every result is a row with who asked, rule, target identity, mode, outcome and reason; append-only; vigil alerts --actions lists it', async () => {
  const db = freshDb();
  const { ctx, r } = make({ path: db });
  await r.start();
  await r.onDetections?.([sampleDetection({ id: 'j1', pid: 4242 })]);
  const target = { pid: 4242, start_time: 1_714_566_896_000, image: '/usr/bin/sleep' };
  await r.onActionResults?.([
    { ...result('j1', 'kill', 'skipped', 'would have: kill pid 4242 (/usr/bin/sleep) (monitor mode)'), responder: 'core', outcome: 'would_have', mode: 'monitor', rule_id: 'vigil-cred-lsass-access', analyzer: 'rule-engine', target },
    { ...result('j1', 'suspend', 'done', 'suspended pid 4242 (sleep); stop confirmed'), responder: 'process-actions', outcome: 'done', mode: 'enforce', rule_id: 'vigil-cred-lsass-access', analyzer: 'rule-engine', target },
    result('j-unknown', 'kill', 'failed', 'pidfd_open(1) failed: EPERM'),
  ]);
  await r.stop();
  await ctx.dispose();

  const rows = queryActionJournal(db);
  assert.deepEqual(
    rows.map((j) => [j.action, j.mode, j.outcome, j.status, j.rule_id, j.analyzer, j.target_pid, j.target_start_time, j.target_image]).reverse(),
    [
      ['kill', 'monitor', 'would_have', 'skipped', 'vigil-cred-lsass-access', 'rule-engine', 4242, 1_714_566_896_000, '/usr/bin/sleep'],
      ['suspend', 'enforce', 'done', 'done', 'vigil-cred-lsass-access', 'rule-engine', 4242, 1_714_566_896_000, '/usr/bin/sleep'],
      ['kill', null, 'failed', 'failed', null, null, null, null, null],
    ],
    'a result without journal fields is still journaled, its outcome from its status',
  );
  assert.deepEqual(queryActionJournal(db, { rule: 'vigil-cred-lsass-access', limit: 1 }).map((j) => j.action), ['suspend']);
  const alerts = queryAlerts(db);
  assert.equal(alerts[0]?.action_results[0]?.outcome, 'would_have', 'the alert view keeps the journal fields of its results');
  assert.equal(alerts[0]?.action_results[1]?.mode, 'enforce');

  const raw = new Database(db);
  assert.throws(() => raw.prepare("UPDATE action_journal SET outcome = 'done'").run(), /append-only/);
  raw.close();

  const table = await runCli(['--actions'], db);
  assert.equal(table.code, 0, table.err);
  const lines = table.out.trimEnd().split('\n');
  assert.match(lines[0] ?? '', /^TIME\s+MODE\s+ACTION\s+OUTCOME\s+TARGET\s+RULE\s+BY\s+REASON$/);
  assert.ok(table.out.includes('would_have'));
  assert.ok(table.out.includes('sleep (4242)'));
  assert.equal(lines.at(-1), '3 journaled actions');
  const json = await runCli(['--actions', '--json', '--rule', 'vigil-cred-lsass-access'], db);
  assert.deepEqual((JSON.parse(json.out) as JournalRow[]).map((j) => j.outcome), ['done', 'would_have']);
  const bad = await runCli(['--actions', '--severity', 'high'], db);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--severity/);
});
