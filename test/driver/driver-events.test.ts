/**
 * Driver records become the Vigil events of their Sysmon equivalents, and the shipped lsass
 * sequence rule fires on them: a privileged lsass handle open, then a remote thread into lsass
 * from the same process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as P from '../../driver/protocol/protocol.js';
import { decodeRecords, handleAccessRecord, processStartRecord, threadCreateRecord, type DriverRecord } from '../../driver/protocol/records.js';
import { compileCorrelation } from '../../plugins/analyzers/correlation/compile.js';
import { replayFixture } from '../../plugins/analyzers/correlation/fixtures.js';
import type { CorrelationRuleDoc } from '../../plugins/analyzers/correlation/model.js';
import type { EventDraft } from '../../core/index.js';
import { CanaryMonitor } from '../../plugins/sensors/driver/canary.js';
import { normalizeDriverRecord, processGuid, type ImageLookup } from '../../plugins/sensors/driver/normalize.js';

const LSASS = 'C:\\Windows\\System32\\lsass.exe';
const LSASS_CT = 133_400_000_000_000_000n;
const X_CT = 133_400_000_100_000_000n;
const T0 = 133_400_000_200_000_000n;

function decode(b: Uint8Array): DriverRecord {
  return decodeRecords(new DataView(b.buffer), b.length)[0] as DriverRecord;
}

const images: ImageLookup = { image: (pid, ct) => (pid === 700 && ct === LSASS_CT ? LSASS : pid === 4242 && ct === X_CT ? 'C:\\Users\\bob\\x.exe' : undefined) };

function access(mode: number): DriverRecord {
  const desired = 0x1fffff;
  const stripped = mode === P.C.MODE_ENFORCE ? desired & P.C.PROCESS_STRIP_MASK : 0;
  return decode(
    handleAccessRecord(
      { caller_pid: 4242, caller_tid: 4300, target_pid: 700, target_tid: 0, caller_create_time: X_CT, target_create_time: LSASS_CT, object_type: P.C.OBJ_PROCESS, operation: P.C.OP_CREATE, mode, desired, granted: desired & ~stripped, stripped, would_strip: desired & P.C.PROCESS_STRIP_MASK },
      'x.exe',
      'lsass.exe',
      T0,
    ),
  );
}

function remoteThread(creatorCt = X_CT): DriverRecord {
  return decode(threadCreateRecord({ pid: 700, tid: 9000, creator_pid: 4242, creator_tid: 4300, create_time: LSASS_CT, creator_create_time: creatorCt, start_address: 0x7ff6a1b2c000n }, T0 + 20_000_000n));
}

function lsassRule() {
  const doc = JSON.parse(readFileSync(fileURLToPath(new URL('../../../rules/correlation/win.cred.lsass_access_then_remote_thread.json', import.meta.url)), 'utf8')) as CorrelationRuleDoc;
  return compileCorrelation(doc, { lists: {}, macros: {} });
}

test('a process start becomes process.start with guid, image, command line, parent and start time', () => {
  const r = decode(processStartRecord({ pid: 700, ppid: 600, creator_pid: 600, creator_tid: 604, create_time: LSASS_CT, parent_create_time: 1n, creator_create_time: 1n }, LSASS, 'lsass.exe', T0));
  const e = normalizeDriverRecord(r, images) as EventDraft & { proc: Record<string, unknown>; parent: Record<string, unknown> };
  assert.equal(e.type, 'process.start');
  assert.equal(e.proc.guid, processGuid(700, LSASS_CT));
  assert.equal(e.proc.pid, 700);
  assert.equal(e.proc.image, LSASS);
  assert.equal(e.proc.cmdline, 'lsass.exe');
  assert.equal(e.parent.pid, 600);
  assert.equal(e.time, Number((T0 - 116444736000000000n) / 10_000n));
  assert.notEqual(processGuid(700, LSASS_CT), processGuid(700, LSASS_CT + 1n), 'a reused pid is another process');
});

test('handle access: process.access with granted rights; enforce shows what was stripped, monitor that nothing was', () => {
  const enforce = normalizeDriverRecord(access(P.C.MODE_ENFORCE), images) as EventDraft & { access: Record<string, unknown>; target: Record<string, unknown> };
  assert.equal(enforce.type, 'process.access');
  assert.equal(enforce.target.image, LSASS, 'the full image from the process table, not the kernel short name');
  assert.equal(enforce.access.granted, 0x1fffff & ~P.C.PROCESS_STRIP_MASK);
  assert.equal(enforce.access.stripped, P.C.PROCESS_STRIP_MASK);
  assert.equal(enforce.access.mode, 'enforce');
  const monitor = normalizeDriverRecord(access(P.C.MODE_MONITOR), images) as EventDraft & { access: Record<string, unknown> };
  assert.equal(monitor.access.granted, 0x1fffff);
  assert.equal(monitor.access.stripped, 0);
  assert.equal(monitor.access.would_strip, P.C.PROCESS_STRIP_MASK);
  assert.equal(monitor.access.mode, 'monitor');
});

test('the shipped lsass sequence fires on driver events in monitor mode; in enforce mode the stripped handle no longer matches', () => {
  const rule = lsassRule();
  const monitor = [access(P.C.MODE_MONITOR), remoteThread()].map((r) => normalizeDriverRecord(r, images) as EventDraft);
  const dets = replayFixture(rule, monitor);
  assert.equal(dets.length, 1);
  // Enforced: the caller got no VM/thread rights, so the first step (granted & 0x2|0x8|0x10|0x20) does not match.
  const enforce = [access(P.C.MODE_ENFORCE), remoteThread()].map((r) => normalizeDriverRecord(r, images) as EventDraft);
  assert.equal(replayFixture(rule, enforce).length, 0);
  // Another process (same pid, other creation time) creating the thread: no sequence.
  const other = [access(P.C.MODE_MONITOR), remoteThread(X_CT + 1n)].map((r) => normalizeDriverRecord(r, images) as EventDraft);
  assert.equal(replayFixture(rule, other).length, 0);
});

test('a thread created by its own process is not a remote thread event', () => {
  const own = decode(threadCreateRecord({ pid: 700, tid: 9000, creator_pid: 700, creator_tid: 704, create_time: LSASS_CT, creator_create_time: LSASS_CT, start_address: 0n }));
  assert.equal(normalizeDriverRecord(own, images), undefined);
  const e = normalizeDriverRecord(remoteThread(), images) as EventDraft & { proc: Record<string, unknown>; target: Record<string, unknown> };
  assert.equal(e.type, 'thread.remote_create');
  assert.equal(e.proc.guid, processGuid(4242, X_CT));
  assert.equal(e.target.guid, processGuid(700, LSASS_CT));
});

test('the canary monitor reports a canary not seen by its deadline, once, and not one that came back', () => {
  const m = new CanaryMonitor(5000);
  m.arm(1n, 0);
  m.arm(2n, 0);
  assert.equal(m.see(1n), true);
  assert.deepEqual(m.check(4000), []);
  assert.deepEqual(m.check(5001), [{ nonce: 2n, armedAt: 0 }]);
  assert.deepEqual(m.check(9000), []);
  assert.equal(m.see(2n), false, 'too late: already reported');
  assert.equal(m.seen, 1);
  assert.equal(m.missed, 1);
});
