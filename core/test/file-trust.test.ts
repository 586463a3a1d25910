import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../config/index.js';
import { isVigilError } from '../errors/index.js';
import { fileTrustProblem, folderTrustProblem, STRICT_FILE_MODES_ENV } from '../file-trust.js';

const linux = process.platform === 'linux';
const root = process.geteuid?.() === 0;
/** A uid no account on the test machine is expected to have. */
const OTHER_UID = 54_321;

/** A private folder (mkdtemp makes it 0700) with one file 0644 in it. */
function place(): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-trust-'));
  const file = join(dir, 'rule.json');
  writeFileSync(file, '{}', { mode: 0o644 });
  chmodSync(file, 0o644);
  return { dir, file };
}

test('a file of the agent user, 0644, in private folders is trusted; /tmp above it is a root-owned sticky folder and accepted', (t) => {
  if (!linux) return t.skip('file modes are checked on Linux');
  const { dir, file } = place();
  assert.equal(fileTrustProblem(file), undefined);
  assert.equal(folderTrustProblem(dir), undefined);
});

test('a file writable by group or others is refused with its mode', (t) => {
  if (!linux) return t.skip('file modes are checked on Linux');
  const { file } = place();
  chmodSync(file, 0o666);
  assert.equal(fileTrustProblem(file), `file ${file} is writable by group and others (mode 0666)`);
  chmodSync(file, 0o664);
  assert.equal(fileTrustProblem(file), `file ${file} is writable by group (mode 0664)`);
  chmodSync(file, 0o646);
  assert.equal(fileTrustProblem(file), `file ${file} is writable by others (mode 0646)`);
  chmodSync(file, 0o600);
  assert.equal(fileTrustProblem(file), undefined, 'tightened, trusted again');
});

test('a file under a folder others can write is refused, sticky or not, unless that folder is root-owned and sticky', (t) => {
  if (!linux) return t.skip('file modes are checked on Linux');
  const { dir } = place();
  const shared = join(dir, 'shared');
  const pack = join(shared, 'pack');
  mkdirSync(pack, { recursive: true });
  const file = join(pack, 'rule.json');
  writeFileSync(file, '{}', { mode: 0o644 });
  chmodSync(shared, 0o777);
  assert.equal(fileTrustProblem(file), `folder ${shared} is writable by group and others (mode 0777)`, 'every folder up to / counts, not only the nearest');
  chmodSync(shared, 0o775);
  assert.match(fileTrustProblem(file) ?? '', /folder .*shared is writable by group \(mode 0775\)/);
  chmodSync(shared, 0o1777);
  if (root) assert.equal(fileTrustProblem(file), undefined, 'a root-owned sticky folder above the file is accepted (as /tmp is)');
  else assert.match(fileTrustProblem(file) ?? '', /writable by group and others \(mode 1777\)/, 'a sticky folder of a non-root user is not');
  // As a place to find content in, a folder others can create files in is never trusted.
  assert.equal(folderTrustProblem(shared), `folder ${shared} is writable by group and others (mode 1777)`);
  assert.equal(folderTrustProblem(pack), root ? undefined : `folder ${shared} is writable by group and others (mode 1777)`);
  assert.match(folderTrustProblem(tmpdir()) ?? '', /is writable by group and others \(mode 1777\)/);
});

test('a file or a folder above it owned by another user than root and the agent user is refused', (t) => {
  if (!linux) return t.skip('file ownership is checked on Linux');
  if (!root) return t.skip('needs root to chown a file to another uid');
  const { dir, file } = place();
  chownSync(file, OTHER_UID, OTHER_UID);
  assert.equal(fileTrustProblem(file), `file ${file} is owned by uid ${OTHER_UID}, not by root or the agent's user (uid 0)`);
  chownSync(file, 0, 0);
  assert.equal(fileTrustProblem(file), undefined);
  chownSync(dir, OTHER_UID, OTHER_UID);
  assert.equal(fileTrustProblem(file), `folder ${dir} is owned by uid ${OTHER_UID}, not by root or the agent's user (uid 0)`);
  assert.equal(folderTrustProblem(dir), `folder ${dir} is owned by uid ${OTHER_UID}, not by root or the agent's user (uid 0)`);
});

test('links are resolved: what is checked is where the content is', (t) => {
  if (!linux) return t.skip('file modes are checked on Linux');
  const { dir, file } = place();
  const open = join(dir, 'open');
  mkdirSync(open);
  chmodSync(open, 0o777);
  const exposed = join(open, 'rule.json');
  writeFileSync(exposed, '{}', { mode: 0o644 });
  const toExposed = join(dir, 'link-to-exposed.json');
  symlinkSync(exposed, toExposed);
  assert.equal(fileTrustProblem(toExposed), `folder ${open} is writable by group and others (mode 0777)`);
  chmodSync(exposed, 0o666);
  assert.equal(fileTrustProblem(toExposed), `file ${toExposed} (${exposed}) is writable by group and others (mode 0666)`);
  const toGood = join(dir, 'link-to-good.json');
  symlinkSync(file, toGood);
  assert.equal(fileTrustProblem(toGood), undefined);
});

test('a path that cannot be checked is a problem; VIGIL_STRICT_FILE_MODES=0 turns the checks off', (t) => {
  if (!linux) return t.skip('file modes are checked on Linux');
  const { dir, file } = place();
  assert.match(fileTrustProblem(join(dir, 'missing.json')) ?? '', /^cannot check who may write .*missing\.json: ENOENT/);
  chmodSync(file, 0o666);
  const before = process.env[STRICT_FILE_MODES_ENV];
  try {
    for (const off of ['0', 'false', 'off']) {
      process.env[STRICT_FILE_MODES_ENV] = off;
      assert.equal(fileTrustProblem(file), undefined, off);
      assert.equal(folderTrustProblem(tmpdir()), undefined, off);
    }
    process.env[STRICT_FILE_MODES_ENV] = '1';
    assert.ok(fileTrustProblem(file) !== undefined, 'any other value keeps the checks');
  } finally {
    if (before === undefined) delete process.env[STRICT_FILE_MODES_ENV];
    else process.env[STRICT_FILE_MODES_ENV] = before;
  }
});

test('a config file others can write is refused before it is parsed (VIGIL_ERR_CONFIG_UNTRUSTED)', (t) => {
  if (!linux) return t.skip('file modes are checked on Linux');
  const { dir } = place();
  const file = join(dir, 'vigil.yaml');
  writeFileSync(file, 'agent: { data_dir: var }\n', { mode: 0o644 });
  assert.equal(loadConfig(file).config.agent.data_dir, 'var');
  chmodSync(file, 0o666);
  assert.throws(
    () => loadConfig(file),
    (err: unknown) => {
      assert.ok(isVigilError(err));
      assert.equal(err.code, 'VIGIL_ERR_CONFIG_UNTRUSTED');
      assert.match(err.message, new RegExp(`^${file}: file ${file} is writable by group and others \\(mode 0666\\); refused`));
      return true;
    },
  );
  chmodSync(file, 0o644);
  chmodSync(dir, 0o777);
  assert.throws(() => loadConfig(file), /folder .* is writable by group and others \(mode 0777\); refused/);
});
