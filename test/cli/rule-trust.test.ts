/**
 * Rule content is trusted only from where the operator put it, checked as an attacker would:
 * a copy of the shipped rule pack sits in a shared folder every user can write (root-owned and
 * sticky, as /tmp), and a second, unprivileged user created for the test plants a `lists.json`
 * there that redefines the macro the LSASS rules use. A real `vigil replay` shows that no
 * detection changes; a rule file others can write, or that the other user owns, is refused with
 * the reason; a config file others can write is a config error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { projectRoot } from '../../core/paths.js';
import { tempDir } from '../support/config.js';
import { builtinsOff } from '../support/cli.js';
import { createSecondUser, secondUserUnavailable } from '../support/second-user.js';

const root = projectRoot();
const bin = join(root, 'bin', 'vigil.js');
const LSASS_RULE = 'windows/credential_access/lsass_access_dangerous_rights.json';


function vigil(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, VIGIL_CONFIG: '', VIGIL_STRICT_FILE_MODES: '' }, timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** What a replay detected and what went wrong (timings left out). */
interface Summary {
  detections: number;
  detections_by_rule: Array<{ id: string; count: number }>;
  errors: Record<string, number>;
  load_errors: Array<{ file: string; reason: string }>;
}

/** A replay of `events` with the rule engine on `rulePaths`: the summary and the rule-refused log lines. */
function replay(dir: string, rulePaths: string[], events: string): { summary: Summary; refused: string[] } {
  const config = join(dir, `vigil-${randomBytes(3).toString('hex')}.yaml`);
  writeFileSync(
    config,
    stringify({
      agent: { data_dir: 'var', stop_timeout_seconds: 3 },
      plugins: {
        ...builtinsOff(),
        'rule-engine': { enabled: true, config: { rule_paths: rulePaths } },
      },
    }),
    { mode: 0o600 },
  );
  const r = vigil(['replay', events, '--config', config, '--no-progress', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const logs = r.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { msg: string });
  const { detections, detections_by_rule, errors, load_errors } = JSON.parse(r.stdout) as Summary;
  return { summary: { detections, detections_by_rule, errors, load_errors }, refused: logs.filter((l) => l.msg.startsWith('rule refused: ')).map((l) => l.msg) };
}

test('a lists.json planted above a rule pack by another user changes no detection; rule files others can write or own are refused', (t) => {
  if (process.platform !== 'linux') return t.skip('file ownership and modes are checked on Linux');
  const unavailable = secondUserUnavailable();
  if (unavailable !== undefined) return t.skip(`${unavailable} (to check rule trust against a real second user)`);
  const { run: asUser, uid, gid } = createSecondUser(t);

  // A folder every user can enter, holding a shared folder every user can write (sticky, root's).
  const dir = tempDir();
  chmodSync(dir, 0o755);
  const shared = join(dir, 'shared');
  mkdirSync(shared);
  chmodSync(shared, 0o1777);
  const pack = join(shared, 'pack');
  cpSync(join(root, 'rules'), pack, { recursive: true });
  const lsassFile = join(pack, LSASS_RULE);
  const rule = JSON.parse(readFileSync(lsassFile, 'utf8')) as { id: string; fixtures: { positive: unknown[]; negative?: unknown[] } };
  const events = join(dir, 'events.jsonl');
  writeFileSync(events, [...rule.fixtures.positive, ...(rule.fixtures.negative ?? [])].map((e) => JSON.stringify(e)).join('\n') + '\n');

  const subfolder = join(pack, 'windows', 'credential_access');
  // The whole pack, one folder of it, one rule file: each with the pack's own lists and macros.
  const forms = [[pack], [subfolder], [lsassFile]];
  const before = forms.map((paths) => replay(dir, paths, events));
  for (const [i, b] of before.entries()) {
    assert.ok(b.summary.detections >= rule.fixtures.positive.length, `${forms[i]![0]}: the LSASS fixtures are detected: ${JSON.stringify(b.summary)}`);
    assert.deepEqual(b.refused, []);
  }

  // The other user plants shared definitions that make the LSASS macro match nothing and trust every accessor.
  const planted = join(shared, 'lists.json');
  const evil = JSON.stringify({
    lists: { windows_lsass_trusted_accessors: [] },
    macros: { win_lsass_target: { field: 'target.image', equals_any: ['\\nothing.exe'] } },
    rules: [],
  });
  const plant = asUser(['sh', '-c', 'printf %s "$1" > "$2"', 'sh', evil, planted]);
  assert.equal(plant.status, 0, `the other user can write the shared folder: ${plant.stderr}`);
  assert.ok(existsSync(planted));

  for (const [i, paths] of forms.entries()) {
    const after = replay(dir, paths, events);
    assert.deepEqual(after.summary, before[i]!.summary, `${paths[0]}: the same detections and counts`);
    assert.deepEqual(after.refused, [], `${paths[0]}: the planted file is not read`);
  }
  // The rule tools: one rule file tests with its pack's lists and macros, not the planted ones.
  const tested = vigil(['rules', 'test', lsassFile]);
  assert.equal(tested.code, 0, tested.stdout + tested.stderr);

  // A rule file others can write is refused with the reason; the rest of the pack still loads.
  chmodSync(lsassFile, 0o666);
  const open = replay(dir, [subfolder], events);
  const baseline = before[1]!.summary;
  assert.equal(open.summary.errors['rule-engine: load:rule_file_refused'], 1);
  assert.deepEqual(open.summary.load_errors.map((e) => e.file), [lsassFile], 'the refused file is listed with its reason');
  assert.deepEqual(open.refused, [`rule refused: ${lsassFile}: /: untrusted: file ${lsassFile} is writable by group and others (mode 0666); refused`]);
  assert.ok(open.summary.detections < baseline.detections, 'the refused rule no longer detects');
  chmodSync(lsassFile, 0o644);

  // A rule file the other user owns is refused too, whatever its mode.
  chownSync(lsassFile, uid, gid);
  const owned = replay(dir, [subfolder], events);
  assert.equal(owned.summary.errors['rule-engine: load:rule_file_refused'], 1);
  assert.deepEqual(owned.refused, [`rule refused: ${lsassFile}: /: untrusted: file ${lsassFile} is owned by uid ${uid}, not by root or the agent's user (uid 0); refused`]);
  chownSync(lsassFile, 0, 0);
});

test('vigil config check: a config file others can write exits 2 with VIGIL_ERR_CONFIG_UNTRUSTED and the reason', (t) => {
  if (process.platform !== 'linux') return t.skip('file modes are checked on Linux');
  const dir = tempDir();
  const config = join(dir, 'vigil.yaml');
  writeFileSync(config, stringify({ agent: { data_dir: 'var' } }), { mode: 0o644 });
  assert.equal(vigil(['config', 'check', config]).code, 0);
  chmodSync(config, 0o646);
  const r = vigil(['config', 'check', config]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /^vigil: VIGIL_ERR_CONFIG_UNTRUSTED: .*vigil\.yaml: file .*vigil\.yaml is writable by others \(mode 0646\); refused/m);
});
