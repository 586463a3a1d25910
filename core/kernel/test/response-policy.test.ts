import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bus } from '../../bus/index.js';
import { PluginCounters } from '../../telemetry/counters.js';
import type { VigilConfig } from '../../config/types.js';
import type { ActionRequest, ActionResult, Detection } from '../../events/detection.js';
import type { ProcessInfo } from '../../events/event.js';
import { ResponsePolicy, type ResponsePolicyOptions } from '../response-policy.js';
import { responseConfig } from './response-config.js';

let n = 0;
function detection(actor: ProcessInfo | undefined, actions: string[]): Detection {
  n++;
  return {
    id: `d-${n}`,
    rule: { id: 'r', title: 'r', source: 'native' },
    severity: 'high',
    evidence: [],
    tags: [],
    actions: actions.map((action) => ({ action, params: { tree: true } })),
    time: n,
    raised: n,
    analyzer: 'a',
    host: { name: 'h' },
    summary: 'r',
    ...(actor ? { actor } : {}),
  };
}

/** A policy over a bus where a responder performs `kill` and `suspend`; time is the test's; no live /proc facts unless given. */
function policy(response: Partial<VigilConfig['response']> = {}, options: ResponsePolicyOptions = {}) {
  const bus = new Bus({ capacity: 100, batchSize: 10 });
  const performed: ActionRequest[] = [];
  bus.subscribe({
    name: 'killer',
    counters: new PluginCounters(),
    onFailure: (err) => assert.fail(String(err)),
    actions: ['kill', 'suspend'],
    onActions: (batch) => void performed.push(...batch),
  });
  const counters = new PluginCounters();
  const journal: ActionResult[] = [];
  const clock = { now: 1_700_000_000_000 };
  const config = responseConfig(response);
  const p = new ResponsePolicy(config, bus, counters, (r) => journal.push(r), () => clock.now, {
    lineage: new Set([process.pid]),
    liveProcess: () => undefined,
    ...options,
  });
  const skipped = () => journal.map((r) => `${r.action}:${r.status}:${r.reason ?? ''}`);
  const outcomes = () => journal.map((r) => `${r.action}:${r.outcome ?? ''}:${r.mode ?? ''}`);
  return { p, bus, performed, counters, journal, clock, skipped, outcomes };
}

const evil: ProcessInfo = { pid: 4242, guid: 'g-evil', image: 'C:\\Users\\bob\\mimikatz.exe' };

test('an allowed action becomes one request to its responder, aimed at the actor; alert is implicit', async () => {
  const t = policy();
  const det = detection(evil, ['alert', 'kill']);
  t.p.handle(det);
  await t.bus.idle();
  assert.equal(t.performed.length, 1, 'alert produces no request');
  const r = t.performed[0]!;
  assert.equal(r.action, 'kill');
  assert.deepEqual(r.target, evil);
  assert.equal(r.detection, det);
  assert.deepEqual(r.params, { tree: true });
  assert.equal(r.dry_run, false);
  assert.deepEqual(t.journal, []);
  assert.deepEqual(t.counters.snapshot().discarded, {});
});

test('no responder, monitor mode and a protected image are skipped, journaled with the reason and counted as intended', async () => {
  const none = policy();
  none.p.handle(detection(evil, ['scan-everything']));
  assert.deepEqual(none.skipped(), ['scan-everything:skipped:no responder for action']);
  assert.equal(none.journal[0]!.responder, 'core');
  assert.deepEqual(none.counters.snapshot().discarded, { action_no_responder_for_action: { count: 1, intended: true } });

  const monitor = policy({ mode: 'monitor' });
  monitor.p.handle(detection(evil, ['kill']));
  assert.deepEqual(monitor.outcomes(), ['kill:would_have:monitor']);
  assert.match(monitor.journal[0]!.reason!, /^would have: kill pid 4242 \(C:\\Users\\bob\\mimikatz\.exe\) \(monitor mode\)$/);
  assert.deepEqual(monitor.counters.snapshot().discarded, { action_monitor: { count: 1, intended: true } });

  const protectedInMonitor = policy({ mode: 'monitor', protected_images: ['mimikatz.exe'] });
  protectedInMonitor.p.handle(detection(evil, ['kill']));
  assert.deepEqual(protectedInMonitor.outcomes(), ['kill:protected:monitor'], 'monitor walks every rail: the journal says the action would have been refused');

  const guarded = policy({ protected_images: ['\\MIMIKATZ.EXE'] });
  guarded.p.handle(detection(evil, ['kill']));
  guarded.p.handle(detection({ pid: 5151, guid: 'g-other', image: 'C:\\tools\\other.exe' }, ['kill']));
  await guarded.bus.idle();
  assert.deepEqual(guarded.skipped(), ['kill:skipped:protected process: image C:\\Users\\bob\\mimikatz.exe matches \\MIMIKATZ.EXE'], 'matched case-insensitively on the end of the image');
  assert.deepEqual(guarded.performed.map((r) => r.target?.guid), ['g-other']);
  assert.deepEqual(guarded.counters.snapshot().discarded, { action_protected_process: { count: 1, intended: true } });
  for (const t of [none, monitor, guarded]) assert.equal(t.counters.lostTotal, 0, 'a policy skip is never lost telemetry');
  await Promise.all([none.bus.idle(), monitor.bus.idle(), protectedInMonitor.bus.idle()]);
  assert.deepEqual([...none.performed, ...monitor.performed, ...protectedInMonitor.performed], []);
});

test('rate limit: past max_actions_per_minute within 60 s actions are skipped; a minute later they pass again', async () => {
  const t = policy({ max_actions_per_minute: 3, cooldown_seconds: 0 });
  for (let i = 0; i < 5; i++) t.p.handle(detection({ pid: 100 + i, guid: `g-${i}` }, ['kill']));
  assert.deepEqual(t.skipped(), ['kill:skipped:rate limit: 3 kill per minute', 'kill:skipped:rate limit: 3 kill per minute']);
  t.clock.now += 59_000;
  t.p.handle(detection({ pid: 200, guid: 'g-200' }, ['kill']));
  assert.equal(t.journal.length, 3, 'still within the minute of the first three');
  t.clock.now += 1_001;
  t.p.handle(detection({ pid: 201, guid: 'g-201' }, ['kill']));
  await t.bus.idle();
  assert.deepEqual(t.performed.map((r) => r.target?.guid), ['g-0', 'g-1', 'g-2', 'g-201']);
  assert.deepEqual(t.counters.snapshot().discarded, { action_rate_limit: { count: 3, intended: true } });
});

test('cooldown: the same action on the same process is skipped until cooldown_seconds have passed; other processes are not', async () => {
  const t = policy({ cooldown_seconds: 300 });
  const other: ProcessInfo = { pid: 4242, guid: 'g-reused-pid', image: 'C:\\x\\b.exe' };
  t.p.handle(detection(evil, ['kill']));
  t.clock.now += 299_000;
  t.p.handle(detection(evil, ['kill']));
  t.p.handle(detection(other, ['kill']));
  t.clock.now += 1_000;
  t.p.handle(detection(evil, ['kill']));
  await t.bus.idle();
  assert.deepEqual(t.skipped(), ['kill:skipped:cooldown']);
  assert.deepEqual(t.performed.map((r) => r.target?.guid), ['g-evil', 'g-reused-pid', 'g-evil'], 'the process is told apart by guid, not pid');
  assert.deepEqual(t.counters.snapshot().discarded, { action_cooldown: { count: 1, intended: true } });
  assert.equal(t.journal[0]!.time, t.clock.now - 1_000, 'the journal entry carries the decision time');
});

test('the default config is monitor mode: nothing is sent, the journal says what would have happened', async () => {
  const t = policy({ mode: 'monitor' });
  const target: ProcessInfo = { pid: 7001, start_time: 1_699_999_990_000, image: '/usr/bin/sleep' };
  t.p.handle(detection(target, ['kill', 'suspend']));
  await t.bus.idle();
  assert.deepEqual(t.performed, []);
  assert.deepEqual(t.outcomes(), ['kill:would_have:monitor', 'suspend:would_have:monitor']);
  const row = t.journal[0]!;
  assert.deepEqual(row.target, { pid: 7001, start_time: 1_699_999_990_000, image: '/usr/bin/sleep' });
  assert.equal(row.rule_id, 'r');
  assert.equal(row.analyzer, 'a');
});

test('identity before action: a target without pid + start time or guid is refused with the reason, in either mode', async () => {
  for (const mode of ['enforce', 'monitor'] as const) {
    const t = policy({ mode });
    t.p.handle(detection({ pid: 7002, image: '/usr/bin/sleep' }, ['kill']));
    t.p.handle(detection(undefined, ['kill']));
    t.p.handle(detection({ pid: 7003, start_time: 1_699_999_990_000 }, ['kill']));
    await t.bus.idle();
    assert.deepEqual(t.outcomes().slice(0, 2), [`kill:no_identity:${mode}`, `kill:no_identity:${mode}`]);
    assert.match(t.journal[0]!.reason!, /^no target identity: a target needs pid \+ start time, or guid; refused$/);
    assert.deepEqual(t.counters.snapshot().discarded['action_no_identity'], { count: 2, intended: true });
    if (mode === 'enforce') assert.deepEqual(t.performed.map((r) => r.target?.pid), [7003], 'pid + start time is an identity');
    else assert.deepEqual(t.performed, []);
  }
});

test('replayed telemetry is monitor only whatever the mode, and journaled so', async () => {
  const t = policy({ mode: 'enforce' }, { deliveryOf: (source) => (source === 'replay' ? 'replay' : 'live') });
  const det = detection({ pid: 7004, start_time: 1 }, ['kill']);
  const replayed: Detection = { ...det, evidence: [{ id: 'e1', seq: 1, type: 'process.start', time: 1, received: 1, source: 'replay', host: { name: 'h' } }] };
  t.p.handle(replayed);
  const live: Detection = { ...detection({ pid: 7005, start_time: 1 }, ['kill']), evidence: [{ ...replayed.evidence[0]!, source: 'procfs' }] };
  t.p.handle(live);
  await t.bus.idle();
  assert.deepEqual(t.outcomes(), ['kill:replayed:monitor']);
  assert.match(t.journal[0]!.reason!, /^replayed telemetry: monitor only, would have kill pid 7004$/);
  assert.deepEqual(t.performed.map((r) => r.target?.pid), [7005]);
});

test('while a replay sensor is loaded, evidence of unknown origin (a derived event, no evidence) counts as replayed', async () => {
  const deliveryOf = (source: string) => (source === 'procfs' ? 'live' : source === 'replay' ? 'replay' : undefined);
  const base = detection({ pid: 7100, start_time: 1 }, ['kill']);
  const derived: Detection = { ...base, evidence: [{ id: 'e', seq: 1, type: 'process.start', time: 1, received: 1, source: 'correlation', host: { name: 'h' } }] };
  const replaying = policy({}, { deliveryOf, replaying: () => true });
  replaying.p.handle(derived);
  replaying.p.handle(detection({ pid: 7101, start_time: 1 }, ['kill']));
  await replaying.bus.idle();
  assert.deepEqual(replaying.outcomes(), ['kill:replayed:monitor', 'kill:replayed:monitor']);
  assert.deepEqual(replaying.performed, []);
  const live = policy({}, { deliveryOf, replaying: () => false });
  live.p.handle(derived);
  await live.bus.idle();
  assert.deepEqual(live.performed.map((r) => r.target?.pid), [7100], 'without a replay sensor a derived event is live');
});

test('evidence older than max_event_age_seconds is not acted on', async () => {
  const t = policy({ max_event_age_seconds: 300 });
  const old: Detection = { ...detection({ pid: 7006, guid: 'g-old' }, ['kill']), time: t.clock.now - 301_000 };
  const fresh: Detection = { ...detection({ pid: 7007, guid: 'g-fresh' }, ['kill']), time: t.clock.now - 299_000 };
  t.p.handle(old);
  t.p.handle(fresh);
  await t.bus.idle();
  assert.deepEqual(t.skipped(), ['kill:skipped:evidence too old: 301 s old, max_event_age_seconds is 300']);
  assert.deepEqual(t.performed.map((r) => r.target?.guid), ['g-fresh']);
});

test('protected set: the agent and its ancestors, pid 1, kernel threads, critical Windows images, exe links, users', async () => {
  const t = policy(
    { protected_images: ['/usr/sbin/sshd'], protected_users: ['backup'] },
    {
      lineage: new Set([process.pid, 4000]),
      liveProcess: (pid) => (pid === 7010 ? { ppid: 1, kernelThread: false, exe: '/usr/sbin/sshd (deleted)' } : pid === 7011 ? { ppid: 2, kernelThread: true } : undefined),
    },
  );
  const cases: Array<[ProcessInfo, RegExp]> = [
    [{ pid: process.pid, start_time: 1 }, /is the agent or one of its ancestors/],
    [{ pid: 4000, start_time: 1 }, /is the agent or one of its ancestors/],
    [{ pid: 1, start_time: 1 }, /pid 1 is init or a kernel thread/],
    [{ pid: 7009, ppid: 2, start_time: 1 }, /pid 7009 is init or a kernel thread/],
    [{ pid: 7011, start_time: 1 }, /pid 7011 is init or a kernel thread/],
    [{ pid: 7010, start_time: 1, image: '/tmp/innocent' }, /image \/usr\/sbin\/sshd \(deleted\) matches \/usr\/sbin\/sshd/],
    [{ pid: 7012, guid: 'g', image: 'C:\\WINDOWS\\system32\\LSASS.EXE' }, /matches lsass\.exe/],
    [{ pid: 7013, guid: 'g', image: '\\??\\C:\\Windows\\System32\\csrss.exe' }, /matches csrss\.exe/],
    [{ pid: 4, guid: 'g', image: 'System' }, /matches System/],
    [{ pid: 7014, start_time: 1, image: '/usr/sbin/sshd (deleted)' }, /matches \/usr\/sbin\/sshd/],
    [{ pid: 7015, start_time: 1, user: 'BACKUP' }, /user BACKUP is protected/],
  ];
  for (const [target] of cases) t.p.handle(detection(target, ['kill']));
  t.p.handle(detection({ pid: 7016, start_time: 1, image: '/usr/sbin/sshd-wrapper' }, ['kill']));
  t.p.handle(detection({ pid: 7017, start_time: 1, image: '/tmp/lsass.exe' }, ['kill']));
  await t.bus.idle();
  assert.equal(t.journal.length, cases.length);
  cases.forEach(([, re], i) => {
    assert.equal(t.journal[i]!.outcome, 'protected');
    assert.match(t.journal[i]!.reason!, re);
  });
  assert.deepEqual(t.performed.map((r) => r.target?.pid), [7016, 7017], 'a longer name is not the protected one; a Linux lsass.exe is not Windows\' lsass');
});

test('low_privilege_only acts only on processes that do not run as root / SYSTEM, and refuses an unknown user', async () => {
  const t = policy({ low_privilege_only: true }, { liveProcess: (pid) => (pid === 7020 ? { ppid: 1, kernelThread: false, uid: 0 } : undefined) });
  t.p.handle(detection({ pid: 7020, start_time: 1, uid: 1000 }, ['kill']));
  t.p.handle(detection({ pid: 7021, guid: 'g', user: 'NT AUTHORITY\\SYSTEM' }, ['kill']));
  t.p.handle(detection({ pid: 7022, start_time: 1 }, ['kill']));
  t.p.handle(detection({ pid: 7023, start_time: 1, uid: 1000, user: 'bob' }, ['kill']));
  await t.bus.idle();
  assert.deepEqual(t.journal.map((r) => r.reason), [
    'protected process: low_privilege_only: the target runs as root',
    'protected process: low_privilege_only: the target runs as NT AUTHORITY\\SYSTEM',
    "protected process: low_privilege_only: the target's user is unknown",
  ]);
  assert.deepEqual(t.performed.map((r) => r.target?.pid), [7023]);
});

test('response sets add actions by rule id, severity and tags; a simulating set keeps them in monitor under enforce', async () => {
  const t = policy({
    sets: [
      { name: 'by-rule', rules: ['r'], actions: [{ action: 'suspend' }], simulate: false },
      { name: 'critical-only', min_severity: 'critical', actions: [{ action: 'kill' }], simulate: false },
      { name: 'careful', tags: ['attack.t1059'], actions: [], simulate: true },
    ],
  });
  t.p.handle(detection({ pid: 7030, start_time: 1 }, []));
  const tagged: Detection = { ...detection({ pid: 7031, start_time: 1 }, ['kill']), tags: ['attack.t1059'] };
  t.p.handle(tagged);
  await t.bus.idle();
  assert.deepEqual(t.performed.map((r) => `${r.action}:${r.target?.pid}`), ['suspend:7030'], 'high is below critical; the tagged detection is simulated');
  assert.deepEqual(t.outcomes(), ['kill:would_have:monitor', 'suspend:would_have:monitor']);
  assert.match(t.journal[0]!.reason!, /\(simulated by response set careful\)$/);
});

test('rate limits are per action', async () => {
  const t = policy({ max_actions_per_minute_by_action: { kill: 1 }, cooldown_seconds: 0 });
  for (let i = 0; i < 3; i++) t.p.handle(detection({ pid: 7040 + i, start_time: 1 }, ['kill', 'suspend']));
  await t.bus.idle();
  assert.deepEqual(t.performed.map((r) => `${r.action}:${r.target?.pid}`), ['kill:7040', 'suspend:7040', 'suspend:7041', 'suspend:7042']);
  assert.deepEqual(t.skipped(), ['kill:skipped:rate limit: 1 kill per minute', 'kill:skipped:rate limit: 1 kill per minute']);
});

test('cooldown is per (process identity, action): the same pid with another start time is another process', async () => {
  const t = policy();
  t.p.handle(detection({ pid: 7050, start_time: 1 }, ['kill']));
  t.p.handle(detection({ pid: 7050, start_time: 1 }, ['kill', 'suspend']));
  t.p.handle(detection({ pid: 7050, start_time: 2 }, ['kill']));
  await t.bus.idle();
  assert.deepEqual(t.skipped(), ['kill:skipped:cooldown']);
  assert.deepEqual(t.performed.map((r) => `${r.action}:${r.target?.start_time}`), ['kill:1', 'suspend:1', 'kill:2']);
});

test("a responder's result is completed with who asked, the rule, the target identity and the mode", async () => {
  const t = policy();
  t.p.handle(detection({ pid: 7060, start_time: 5, image: '/usr/bin/sleep', cmdline: 'sleep 60' }, ['kill']));
  await t.bus.idle();
  const req = t.performed[0]!;
  const done = t.p.complete({ request_id: req.id, detection_id: req.detection.id, action: 'kill', responder: 'process-actions', status: 'done', time: 1 });
  assert.deepEqual(
    { outcome: done.outcome, mode: done.mode, rule_id: done.rule_id, analyzer: done.analyzer, target: done.target },
    { outcome: 'done', mode: 'enforce', rule_id: 'r', analyzer: 'a', target: { pid: 7060, start_time: 5, image: '/usr/bin/sleep' } },
  );
  const again = t.p.complete({ request_id: req.id, detection_id: req.detection.id, action: 'kill', responder: 'x', status: 'failed', outcome: 'not_found', time: 2 });
  assert.equal(again.outcome, 'not_found', "a responder's own outcome is kept");
  assert.equal(again.mode, undefined, 'the request is forgotten once answered');
});
