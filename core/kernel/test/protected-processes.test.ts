import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agentLineage, imageMatches, normalizeImage, readLiveProcess, resolveProtectedImages } from '../protected-processes.js';

test('image normalization: (deleted), Windows case and prefixes, dot segments', () => {
  assert.equal(normalizeImage('/usr/bin/sleep (deleted)').path, '/usr/bin/sleep');
  assert.equal(normalizeImage('/usr/bin/../bin//sleep').path, '/usr/bin/sleep');
  assert.equal(normalizeImage('\\\\?\\C:\\Windows\\System32\\LSASS.EXE').path, 'c:\\windows\\system32\\lsass.exe');
  assert.equal(normalizeImage('C:/Windows/System32/lsass.exe').base, 'lsass.exe');
});

test('protected entries: a file name anywhere, a full path, or a path suffix; Linux paths keep their case', () => {
  assert.ok(imageMatches('C:\\Windows\\System32\\LSASS.exe', 'lsass.exe'));
  assert.ok(imageMatches('\\Device\\HarddiskVolume2\\Windows\\System32\\lsass.exe', '\\Windows\\System32\\lsass.exe'));
  assert.ok(!imageMatches('C:\\tools\\notlsass.exe', 'lsass.exe'));
  assert.ok(imageMatches('/usr/sbin/sshd (deleted)', '/usr/sbin/sshd'));
  assert.ok(!imageMatches('/usr/sbin/SSHD', '/usr/sbin/sshd'), 'Linux file names are case-sensitive');
  assert.ok(!imageMatches('/opt/usr/sbin/sshd', 'usr/sbin/sshd-x'));
  assert.ok(imageMatches('/opt/x/sshd', 'sshd'));
});

test('a protected path that is a symbolic link protects its target too', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-protect-'));
  writeFileSync(join(dir, 'real-tool'), '');
  symlinkSync(join(dir, 'real-tool'), join(dir, 'tool'));
  const entries = resolveProtectedImages([join(dir, 'tool'), '/does/not/exist']);
  assert.ok(entries.some((e) => imageMatches(join(dir, 'real-tool'), e)));
  assert.ok(entries.includes('/does/not/exist'));
});

test('the agent lineage holds this process and its parent; live facts come from /proc', { skip: process.platform !== 'linux' && 'procfs is Linux only' }, () => {
  const lineage = agentLineage();
  assert.ok(lineage.has(process.pid) && lineage.has(process.ppid));
  const self = readLiveProcess(process.pid);
  assert.equal(self?.ppid, process.ppid);
  assert.equal(self?.kernelThread, false);
  assert.equal(self?.exe, process.execPath);
  assert.equal(readLiveProcess(2)?.kernelThread ?? true, true, 'kthreadd has no executable');
});

test('a setuid-root process counts as root; a kernel thread has no executable', () => {
  const root = mkdtempSync(join(tmpdir(), 'vigil-proc-'));
  const proc = (pid: number, stat: string, status: string) => {
    mkdirSync(join(root, String(pid)));
    writeFileSync(join(root, String(pid), 'stat'), stat);
    writeFileSync(join(root, String(pid), 'status'), status);
  };
  proc(10, '10 (passwd) S 9 10 10 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 500 0 0', 'Name:\tpasswd\nUid:\t1000\t0\t0\t0\n');
  proc(11, '11 (bash) S 9 11 11 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 500 0 0', 'Name:\tbash\nUid:\t1000\t1000\t1000\t1000\n');
  proc(12, '12 (kworker/0:1) I 2 0 0 0 -1 69238880 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0', 'Name:\tkworker/0:1\nUid:\t0\t0\t0\t0\n');
  assert.equal(readLiveProcess(10, root)?.uid, 0);
  assert.equal(readLiveProcess(11, root)?.uid, 1000);
  const kw = readLiveProcess(12, root);
  assert.equal(kw?.kernelThread, true, 'PF_KTHREAD, and no exe link');
  assert.equal(kw?.ppid, 2);
  assert.equal(readLiveProcess(13, root), undefined, 'gone');
});
