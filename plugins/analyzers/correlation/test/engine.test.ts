import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ev, failureBurst, harness, LSASS, LSASS_RULE, compile, T0 } from './helpers.js';
import { CorrelationEngine } from '../engine.js';
import { VirtualClock } from '../clock.js';

const MIN = 60_000;

test('a sequence fires with every contributing event as evidence, oldest first', () => {
  const h = harness([LSASS_RULE]);
  const a = ev({ type: 'process.access', proc: { guid: '{A}' }, target: LSASS, access: { granted: 0x1410 } }, 0);
  const noise = ev({ type: 'process.access', proc: { guid: '{A}' }, target: { image: 'C:\\x\\notepad.exe' }, access: { granted: 0x10 } }, 1000);
  const b = ev({ type: 'thread.remote_create', proc: { guid: '{A}' }, target: LSASS }, 9 * MIN);
  h.feed(a, noise, b);
  assert.equal(h.fired.length, 1);
  const d = h.fired[0];
  assert.equal(d?.rule.source, 'correlation');
  assert.equal(d?.rule.id, 'test.lsass');
  assert.deepEqual(d?.evidence.map((e) => e.id), [a.id, b.id]);
  assert.equal(h.engine.liveKeys, 0, 'the completed match is released');
});

test('a ten-minute span: one second past it does not fire (virtual clock)', () => {
  const h = harness([LSASS_RULE]);
  h.feed(
    ev({ type: 'process.access', proc: { guid: '{A}' }, target: LSASS, access: { granted: 0x10 } }, 0),
    ev({ type: 'thread.remote_create', proc: { guid: '{A}' }, target: LSASS }, 10 * MIN + 1000),
  );
  assert.equal(h.fired.length, 0);
  const h2 = harness([LSASS_RULE]);
  h2.feed(
    ev({ type: 'process.access', proc: { guid: '{A}' }, target: LSASS, access: { granted: 0x10 } }, 0),
    ev({ type: 'thread.remote_create', proc: { guid: '{A}' }, target: LSASS }, 10 * MIN),
  );
  assert.equal(h2.fired.length, 1, 'exactly at the span still fires');
});

test('the partial expires with the clock and is counted', () => {
  const h = harness([LSASS_RULE]);
  h.feed(ev({ type: 'process.access', proc: { guid: '{A}' }, target: LSASS, access: { granted: 0x10 } }, 0));
  assert.equal(h.engine.liveKeys, 1);
  h.at(10 * MIN + 2000);
  assert.equal(h.engine.liveKeys, 0);
  assert.equal(h.counters.snapshot().discarded['expired']?.count, 1);
  assert.equal(h.counters.snapshot().custom['live_keys'], 0);
});

test('equals_bound: the thread must go into the same lsass pid as the access', () => {
  const h = harness([LSASS_RULE]);
  h.feed(
    ev({ type: 'process.access', proc: { guid: '{A}' }, target: LSASS, access: { granted: 0x10 } }, 0),
    ev({ type: 'thread.remote_create', proc: { guid: '{A}' }, target: { ...LSASS, pid: 701 } }, 1000),
  );
  assert.equal(h.fired.length, 0);
  h.feed(ev({ type: 'thread.remote_create', proc: { guid: '{A}' }, target: LSASS }, 2000));
  assert.equal(h.fired.length, 1);
});

test('pid reuse cannot join unrelated processes (identity is pid@start_time without a guid)', () => {
  const h = harness([LSASS_RULE]);
  h.feed(
    ev({ type: 'process.access', proc: { pid: 42, start_time: T0 - 5000 }, target: LSASS, access: { granted: 0x10 } }, 0),
    ev({ type: 'thread.remote_create', proc: { pid: 42, start_time: T0 + 500 }, target: LSASS }, 1000),
  );
  assert.equal(h.fired.length, 0, 'a later process with the same pid does not complete the match');
  h.feed(ev({ type: 'thread.remote_create', proc: { pid: 42, start_time: T0 - 5000 }, target: LSASS }, 2000));
  assert.equal(h.fired.length, 1);
  // A bare pid has no identity at all: it is counted, not joined.
  const before = h.counters.snapshot().discarded['missing_key']?.count ?? 0;
  h.feed(ev({ type: 'process.access', proc: { pid: 43 }, target: LSASS, access: { granted: 0x10 } }, 3000));
  assert.equal(h.counters.snapshot().discarded['missing_key']?.count, before + 1);
});

test('process.stop releases the state of that process', () => {
  const h = harness([LSASS_RULE]);
  h.feed(
    ev({ type: 'process.access', proc: { guid: '{A}' }, target: LSASS, access: { granted: 0x10 } }, 0),
    ev({ type: 'process.access', proc: { guid: '{B}' }, target: LSASS, access: { granted: 0x10 } }, 0),
  );
  assert.equal(h.engine.liveKeys, 2);
  h.feed(ev({ type: 'process.stop', proc: { guid: '{A}' } }, 1000));
  assert.equal(h.engine.liveKeys, 1);
  h.feed(ev({ type: 'thread.remote_create', proc: { guid: '{A}' }, target: LSASS }, 2000));
  assert.equal(h.fired.length, 0);
});

test('composite keys are released by either process identity', () => {
  const rule = {
    id: 'test.pair',
    title: 'pair',
    severity: 'low',
    kind: 'sequence',
    maxspan_ms: 60_000,
    steps: [
      { event: ['process.access'], by: ['proc.guid', 'target.guid'] },
      { event: ['thread.remote_create'], by: ['proc.guid', 'target.guid'] },
    ],
  };
  const h = harness([rule]);
  h.feed(ev({ type: 'process.access', proc: { guid: '{A}' }, target: { guid: '{T}' } }, 0));
  h.feed(ev({ type: 'process.access', proc: { guid: '{B}' }, target: { guid: '{U}' } }, 0));
  assert.equal(h.engine.liveKeys, 2);
  h.feed(ev({ type: 'process.stop', proc: { guid: '{T}' } }, 10));
  assert.equal(h.engine.liveKeys, 1);
  h.feed(ev({ type: 'thread.remote_create', proc: { guid: '{B}' }, target: { guid: '{U}' } }, 20));
  assert.equal(h.fired.length, 1);
});

const ABSENT = {
  id: 'test.absent',
  title: 'dropped binary never made a network connection',
  severity: 'low',
  kind: 'sequence',
  maxspan: '30s',
  steps: [
    { name: 'start', event: ['process.start'], by: ['proc.guid'] },
    { name: 'connect', event: ['net.connect'], by: ['proc.guid'], absent: true },
  ],
};

test('absent step: fires when the span expires without the event', () => {
  const h = harness([ABSENT]);
  const s = ev({ type: 'process.start', proc: { guid: '{P}' } }, 0);
  h.feed(s);
  h.at(29_000);
  assert.equal(h.fired.length, 0);
  h.at(32_000);
  assert.equal(h.fired.length, 1);
  assert.deepEqual(h.fired[0]?.evidence.map((e) => e.id), [s.id]);
  assert.equal(h.fired[0]?.matched?.[1]?.op, 'absent');
});

test('absent step: the event within the span cancels; process exit decides early', () => {
  const h = harness([ABSENT]);
  h.feed(ev({ type: 'process.start', proc: { guid: '{P}' } }, 0), ev({ type: 'net.connect', proc: { guid: '{P}' } }, 5000));
  h.at(60_000);
  assert.equal(h.fired.length, 0);
  h.feed(ev({ type: 'process.start', proc: { guid: '{Q}' } }, 61_000), ev({ type: 'process.stop', proc: { guid: '{Q}' } }, 62_000));
  assert.equal(h.fired.length, 1, 'a process that exited can no longer connect');
});

test('until cancels partial matches', () => {
  const rule = {
    ...LSASS_RULE,
    id: 'test.until',
    until: { event: ['registry.set'], match: { field: 'reg.key', contains_any: ['\\allowlist'] } },
  };
  const h = harness([rule]);
  h.feed(
    ev({ type: 'process.access', proc: { guid: '{A}' }, target: LSASS, access: { granted: 0x10 } }, 0),
    ev({ type: 'registry.set', proc: { guid: '{A}' }, reg: { key: 'HKLM\\Vigil\\Allowlist' } }, 100),
    ev({ type: 'thread.remote_create', proc: { guid: '{A}' }, target: LSASS }, 200),
  );
  assert.equal(h.fired.length, 0);
  assert.equal(h.counters.snapshot().discarded['cancelled']?.count, 1);
});

test('bounded state: the oldest partial is evicted beyond the limit, and counted', () => {
  const h = harness([LSASS_RULE], { maxPartialPerRule: 3 });
  for (let i = 0; i < 5; i++) h.feed(ev({ type: 'process.access', proc: { guid: `{P${i}}` }, target: LSASS, access: { granted: 0x10 } }, i));
  assert.equal(h.engine.liveKeys, 3);
  const snap = h.counters.snapshot();
  assert.equal(snap.discarded['evicted']?.count, 2);
  assert.equal(snap.discarded['evicted']?.intended, false);
  assert.equal(snap.custom['live_keys'], 3);
  h.feed(ev({ type: 'thread.remote_create', proc: { guid: '{P0}' }, target: LSASS }, 10));
  assert.equal(h.fired.length, 0, 'the evicted (oldest) partial is gone');
  h.feed(ev({ type: 'thread.remote_create', proc: { guid: '{P4}' }, target: LSASS }, 10));
  assert.equal(h.fired.length, 1);
});

test('count rules are bounded and evicted like sequences; the state memory is a gauge', () => {
  const rule = failureBurst('t.burst');
  const h = harness([rule], { maxPartialPerRule: 2 });
  for (const u of ['a', 'b', 'c']) h.feed(ev({ type: 'logon.failure', user: { target_name: u } }, 0));
  assert.equal(h.engine.liveKeys, 2);
  const snap = h.counters.snapshot();
  assert.equal(snap.discarded['evicted']?.count, 1, 'the oldest group, a, is evicted');
  assert.ok((snap.custom['state_bytes'] ?? 0) > 0, 'state_bytes reports the off-heap state');
  assert.equal(snap.custom['state_bytes'], h.engine.stateBytes);
  for (let i = 1; i < 3; i++) h.feed(ev({ type: 'logon.failure', user: { target_name: 'a' } }, i), ev({ type: 'logon.failure', user: { target_name: 'c' } }, i));
  assert.deepEqual(
    h.fired.map((d) => d.summary),
    ['failures: 3 events for c'],
    'a started again after its eviction and has 2; c reached 3',
  );
});

test('total limit across rules', () => {
  const other = { ...LSASS_RULE, id: 'test.lsass2' };
  const h = harness([LSASS_RULE, other], { maxPartialTotal: 4 });
  for (let i = 0; i < 4; i++) h.feed(ev({ type: 'process.access', proc: { guid: `{P${i}}` }, target: LSASS, access: { granted: 0x10 } }, i));
  assert.equal(h.engine.liveKeys, 4);
  assert.equal(h.counters.snapshot().discarded['evicted']?.count, 4);
});

test('expiry runs in slices: each tick does bounded work until caught up; the state memory goes with it', () => {
  const clock = new VirtualClock(T0);
  const engine = new CorrelationEngine({ clock, onDetection: () => undefined, sliceEntries: 1000, sliceBudgetMs: 1000, maxPartialPerRule: 1e6, maxPartialTotal: 1e6 });
  engine.load([compile(LSASS_RULE)]);
  const n = 20_000;
  for (let i = 0; i < n; i++) engine.processEvent(ev({ type: 'process.access', proc: { guid: `g${i}` }, target: LSASS, access: { granted: 0x10 } }, 0));
  assert.equal(engine.liveKeys, n);
  const peak = engine.stateBytes;
  assert.ok(peak >= 4 << 20, `${peak} bytes of state for ${n} partial matches: records and evidence in several blocks`);
  clock.set(T0 + 11 * MIN);
  let ticks = 0;
  let prev = engine.liveKeys;
  while (!engine.tick()) {
    ticks++;
    assert.ok(prev - engine.liveKeys <= 1000, 'no tick does more than its slice');
    prev = engine.liveKeys;
  }
  assert.equal(engine.liveKeys, 0);
  assert.ok(ticks >= 19, `expected about 20 slices, got ${ticks}`);
  // One empty block of records and the evidence arena's current block may stay.
  assert.ok(engine.stateBytes <= (2 << 20) + 64 * 1024, `${engine.stateBytes} bytes of state left after expiry (${peak} at the peak)`);
});

test('hot reload keeps state of unchanged rules and drops changed ones', () => {
  const changed = { ...LSASS_RULE, id: 'test.changed' };
  const h = harness([LSASS_RULE, changed]);
  h.feed(ev({ type: 'process.access', proc: { guid: '{A}' }, target: LSASS, access: { granted: 0x10 } }, 0));
  assert.equal(h.engine.liveKeys, 2);
  const rep = h.engine.load([compile(LSASS_RULE), compile({ ...changed, maxspan: '5m' })]);
  assert.deepEqual({ kept: rep.kept, fresh: rep.fresh, dropped: rep.dropped, droppedPartials: rep.droppedPartials }, { kept: 1, fresh: 1, dropped: 1, droppedPartials: 1 });
  assert.equal(h.engine.liveKeys, 1);
  h.feed(ev({ type: 'thread.remote_create', proc: { guid: '{A}' }, target: LSASS }, 1000));
  assert.deepEqual(h.fired.map((d) => d.rule.id), ['test.lsass']);
});

test('count rule: fires at the threshold inside a sliding window, then starts over', () => {
  const h = harness([failureBurst('test.count')]);
  const f = (dt: number, user = 'alice') => ev({ type: 'logon.failure', user: { target_name: user } }, dt);
  h.feed(f(0), f(30_000), f(61_000)); // the first left the window
  assert.equal(h.fired.length, 0);
  h.feed(f(62_000, 'bob'), f(70_000));
  assert.equal(h.fired.length, 1);
  assert.equal(h.fired[0]?.evidence.length, 3);
  assert.deepEqual(h.fired[0]?.evidence.map((e) => e.time - T0), [30_000, 61_000, 70_000]);
});

test('count rule with an upper bound is decided when the window closes', () => {
  const rule = {
    id: 'test.few',
    title: 'between 2 and 3 connections',
    severity: 'low',
    kind: 'count',
    event: ['net.connect'],
    group_by: ['proc.guid'],
    timespan_ms: 10_000,
    condition: { gte: 2, lte: 3 },
  };
  const h = harness([rule]);
  const c = (g: string, dt: number) => ev({ type: 'net.connect', proc: { guid: g } }, dt);
  h.feed(c('{A}', 0), c('{A}', 1000), c('{B}', 0), c('{B}', 1), c('{B}', 2), c('{B}', 3));
  assert.equal(h.fired.length, 0, 'nothing is decided before the window closes');
  h.at(12_000);
  assert.equal(h.fired.length, 1);
  assert.equal(h.fired[0]?.evidence[0]?.proc?.guid, '{A}');
});

test('rule steps consume detections; correlation detections chain into other correlation rules', () => {
  const burst = {
    id: 'test.burst',
    title: 'burst',
    severity: 'low',
    kind: 'count',
    rule: 'native.failed_logon',
    group_by: ['user.target_name'],
    timespan: '5m',
    condition: { gte: 2 },
  };
  const then = {
    id: 'test.then',
    title: 'burst then success',
    severity: 'high',
    kind: 'sequence',
    maxspan: '5m',
    steps: [
      { rule: 'test.burst', by: ['user.target_name'] },
      { event: ['logon.success'], by: ['user.target_name'] },
    ],
  };
  const h = harness([burst, then]);
  const det = (dt: number) => {
    const e = ev({ type: 'logon.failure', user: { target_name: 'alice' } }, dt);
    return { rule: { id: 'native.failed_logon', title: 'x' }, evidence: [e], time: e.time };
  };
  h.engine.onDetections([det(0), det(1000)]);
  assert.deepEqual(h.fired.map((d) => d.rule.id), ['test.burst']);
  const ok = ev({ type: 'logon.success', user: { target_name: 'Alice' } }, 2000);
  h.feed(ok);
  assert.deepEqual(h.fired.map((d) => d.rule.id), ['test.burst', 'test.then']);
  assert.equal(h.fired[1]?.evidence.length, 3, 'both failures and the success');
});

test('join_on re-keys a sequence: file path → started image → its connections', () => {
  const rule = {
    id: 'test.dl',
    title: 'download execute connect',
    severity: 'high',
    kind: 'sequence',
    maxspan: '10m',
    steps: [
      { event: ['file.create'], by: ['file.path'] },
      { name: 'run', event: ['process.start'], by: ['proc.image'] },
      { event: ['net.connect'], by: ['proc.guid'], join_on: ['$run.proc.guid'] },
    ],
  };
  const h = harness([rule]);
  h.feed(
    ev({ type: 'file.create', file: { path: 'C:\\Dl\\a.exe' } }, 0),
    ev({ type: 'process.start', proc: { guid: '{X}', image: 'c:\\dl\\A.EXE' } }, 1000),
    ev({ type: 'net.connect', proc: { guid: '{Y}', image: 'c:\\dl\\a.exe' } }, 2000),
  );
  assert.equal(h.fired.length, 0, 'another process with the same image does not count');
  h.feed(ev({ type: 'net.connect', proc: { guid: '{X}' } }, 3000));
  assert.equal(h.fired.length, 1);
  assert.equal(h.fired[0]?.evidence.length, 3);
});

test('the event clock follows event time, so replay expires state without waiting', () => {
  const fired: unknown[] = [];
  const engine = new CorrelationEngine({ clock: new (class {
    readonly kind = 'event' as const;
    private t = Number.NEGATIVE_INFINITY;
    now() { return this.t; }
    observe(x: number) { if (x > this.t) this.t = x; }
  })(), onDetection: (d) => fired.push(d) });
  engine.load([compile(LSASS_RULE)]);
  engine.onEvents([ev({ type: 'process.access', proc: { guid: '{A}' }, target: LSASS, access: { granted: 0x10 } }, 0)]);
  engine.drain();
  assert.equal(engine.liveKeys, 1);
  engine.onEvents([ev({ type: 'dns.query', proc: { guid: '{Z}' } }, 11 * MIN)]);
  engine.drain();
  assert.equal(engine.liveKeys, 0);
});

test('count groups hold no event objects: evidence is kept as bytes, and the detection carries equal events', async () => {
  setFlagsFromString('--expose-gc');
  const collect = runInNewContext('gc') as () => void;
  const rule = failureBurst('t.count');
  const h = harness([rule]);
  const refs: WeakRef<object>[] = [];
  const copies: unknown[] = [];
  (() => {
    for (let i = 0; i < 2; i++) {
      const e = ev({ type: 'logon.failure', user: { target_name: 'alice' }, raw: { IpAddress: '10.1.1.1' } }, i * 10);
      refs.push(new WeakRef(e));
      copies.push(structuredClone(e));
      h.engine.onEvents([e]);
    }
  })();
  assert.equal(h.engine.liveKeys, 1, 'the group is live, two short of its threshold');
  await new Promise((r) => setImmediate(r));
  collect();
  assert.deepEqual(
    refs.map((r) => r.deref() === undefined),
    [true, true],
    'no counted event is reachable while the group waits',
  );
  const third = ev({ type: 'logon.failure', user: { target_name: 'alice' } }, 30);
  h.feed(third);
  assert.equal(h.fired.length, 1);
  assert.deepEqual(h.fired[0]?.evidence, [...copies, third]);
  assert.equal(h.engine.liveKeys, 0);
});

// ---- the trace hook ------------------------------------------------------------------

type Trace = import('../engine.js').EngineTrace;

const THREE = {
  id: 'test.three',
  title: 'start, connect, write',
  severity: 'medium',
  kind: 'sequence',
  maxspan: '10s',
  steps: [
    { name: 'start', event: ['process.start'], by: ['proc.guid'] },
    { name: 'connect', event: ['net.connect'], by: ['proc.guid'] },
    { name: 'write', event: ['file.create'], by: ['proc.guid'] },
  ],
  until: { event: ['registry.set'], match: { field: 'reg.key', contains_any: ['\\allowlist'] } },
};

const BURST = failureBurst('test.trace_count');

function traced(rules: unknown[], opts: Parameters<typeof harness>[1] = {}): { h: ReturnType<typeof harness>; log: Trace[] } {
  const log: Trace[] = [];
  return { h: harness(rules, { ...opts, trace: (t) => log.push(t) }), log };
}

test('trace: a sequence reports each decision — started, no partial, span exceeded by 1000 ms, started, advanced, fired', () => {
  const { h, log } = traced([THREE]);
  const p = (type: string, guid: string, dt: number) => ev({ type, proc: { guid } } as never, dt);
  h.feed(p('process.start', '{A}', 0), p('net.connect', '{B}', 1000), p('net.connect', '{A}', 11_000), p('process.start', '{A}', 12_000), p('net.connect', '{A}', 13_000), p('file.create', '{A}', 14_000));
  assert.deepEqual(
    log.map((t) => [t.step, t.outcome, t.key]),
    [
      [0, 'started', '{a}'],
      [1, 'no-partial', '{b}'],
      [1, 'span-exceeded', '{a}'],
      [0, 'started', '{a}'],
      [1, 'advanced', '{a}'],
      [2, 'fired', '{a}'],
    ],
  );
  assert.ok(log.every((t) => t.ruleId === 'test.three'));
  const over = log[2] as Trace;
  assert.equal(over.overMs, 1000);
  assert.equal(over.expires, T0 + 10_000);
  assert.equal(over.time, T0 + 11_000);
  assert.equal(log[4]?.expires, T0 + 22_000, 'the advanced partial keeps the span of its first step');
  assert.equal(h.fired.length, 1);
});

test('trace: until cancels with cancelled-until, superseded / expired / absent-satisfied / released / evicted name the partial', () => {
  const { h, log } = traced([THREE]);
  const p = (type: string, guid: string, dt: number, extra: object = {}) => ev({ type, proc: { guid }, ...extra } as never, dt);
  h.feed(p('process.start', '{A}', 0), p('net.connect', '{A}', 100), p('registry.set', '{A}', 200, { reg: { key: 'HKLM\\Vigil\\Allowlist' } }));
  assert.deepEqual(log.slice(-1).map((t) => [t.step, t.outcome, t.key, t.expires]), [[-2, 'cancelled-until', '{a}', T0 + 10_000]]);
  log.length = 0;
  h.feed(p('process.start', '{C}', 1000), p('process.start', '{C}', 2000), p('process.start', '{D}', 2500), p('process.stop', '{D}', 2600));
  assert.deepEqual(log.map((t) => [t.step, t.outcome, t.key]), [
    [0, 'started', '{c}'],
    [1, 'superseded', '{c}'],
    [0, 'started', '{c}'],
    [0, 'started', '{d}'],
    [1, 'released', '{d}'],
  ]);
  log.length = 0;
  h.at(20_000);
  assert.deepEqual(log.map((t) => [t.step, t.outcome, t.key, t.expires]), [[1, 'expired', '{c}', T0 + 12_000]]);

  const a = traced([ABSENT]);
  a.h.feed(ev({ type: 'process.start', proc: { guid: '{P}' } }, 0), ev({ type: 'process.start', proc: { guid: '{Q}' } }, 0), ev({ type: 'process.stop', proc: { guid: '{Q}' } }, 10));
  a.h.at(40_000);
  assert.deepEqual(a.log.map((t) => [t.step, t.outcome, t.key]), [
    [0, 'started', '{p}'],
    [0, 'started', '{q}'],
    [1, 'absent-satisfied', '{q}'],
    [1, 'fired', '{q}'],
    [1, 'absent-satisfied', '{p}'],
    [1, 'fired', '{p}'],
  ]);
  assert.equal(a.h.fired.length, 2);

  const e = traced([LSASS_RULE], { maxPartialPerRule: 1 });
  e.h.feed(ev({ type: 'process.access', proc: { guid: '{P0}' }, target: LSASS, access: { granted: 0x10 } }, 0), ev({ type: 'process.access', proc: { guid: '{P1}' }, target: LSASS, access: { granted: 0x10 } }, 1));
  assert.deepEqual(e.log.map((t) => [t.step, t.outcome, t.key]), [
    [0, 'started', '{p0}'],
    [1, 'evicted', '{p0}'],
    [0, 'started', '{p1}'],
  ]);
});

test('trace: a count rule reports counted with the count in the sliding window, then fired', () => {
  const { h, log } = traced([BURST]);
  const f = (dt: number, user?: string) => ev({ type: 'logon.failure', ...(user !== undefined ? { user: { target_name: user } } : {}) } as never, dt);
  h.feed(f(0, 'alice'), f(30_000, 'alice'), f(40_000), f(61_000, 'alice'), f(70_000, 'alice'));
  assert.deepEqual(log.map((t) => [t.step, t.outcome, t.count]), [
    [-1, 'counted', 1],
    [-1, 'counted', 2],
    [-1, 'key-missing', undefined],
    [-1, 'counted', 2], // the first left the window
    [-1, 'counted', 3],
    [-1, 'fired', 3],
  ]);
  assert.equal(h.fired.length, 1);
  log.length = 0;
  h.feed(f(200_000, 'alice'));
  assert.deepEqual(log.map((t) => [t.outcome, t.count]), [['counted', 1]]);
});

test('trace: the hook changes nothing — same detections, counters and state with and without it', () => {
  const UNTIL = { ...LSASS_RULE, id: 'test.until2', until: { event: ['registry.set'], match: { field: 'reg.key', contains_any: ['\\allowlist'] } } };
  const rules = [THREE, ABSENT, BURST, LSASS_RULE, UNTIL];
  const guids = ['{A}', '{B}', '{C}', '{D}'];
  const types = ['process.start', 'net.connect', 'file.create', 'process.stop', 'registry.set', 'logon.failure', 'process.access', 'thread.remote_create'];
  const events: ReturnType<typeof ev>[] = [];
  // A fixed pseudo-random stream (an LCG): every kind of decision occurs, and the run is repeatable.
  let x = 12345;
  const rnd = (n: number): number => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0), (x >>> 16) % n);
  for (let i = 0; i < 400; i++) {
    const guid = guids[rnd(guids.length)] as string;
    const type = types[rnd(types.length)] as string;
    events.push(
      ev(
        {
          type,
          proc: { guid },
          target: LSASS,
          access: { granted: 0x10 },
          user: { target_name: guid },
          ...(type === 'registry.set' ? { reg: { key: rnd(2) === 0 ? 'HKLM\\allowlist' : 'HKLM\\other' } } : {}),
        } as never,
        i * 700 + rnd(500),
      ),
    );
  }
  events.sort((a, b) => a.time - b.time);
  // And one item that finds its partial a second past the span before expiry has run.
  events.push(ev({ type: 'process.start', proc: { guid: '{E}' } } as never, 400 * 700), ev({ type: 'net.connect', proc: { guid: '{E}' } } as never, 400 * 700 + 11_000));
  const plain = harness(rules, { maxPartialPerRule: 3 });
  const { h, log } = traced(rules, { maxPartialPerRule: 3 });
  // Expiry runs only now and then, so that some items find their partial past its span.
  events.forEach((e, i) => {
    for (const k of [plain, h]) {
      k.clock.set(e.time);
      k.engine.onEvents([e]);
      if (i % 25 === 0) k.engine.drain();
    }
  });
  plain.at(events.length * 700 + 120_000);
  h.at(events.length * 700 + 120_000);
  const view = (ds: typeof h.fired) => ds.map((d) => ({ id: d.rule.id, summary: d.summary, ev: d.evidence.map((e) => e.id), matched: d.matched }));
  assert.ok(plain.fired.length > 5, 'the stream makes rules fire');
  assert.deepEqual(view(h.fired), view(plain.fired));
  assert.deepEqual(h.counters.snapshot(), plain.counters.snapshot());
  assert.equal(h.engine.liveKeys, plain.engine.liveKeys);
  const seen = new Set(log.map((t) => t.outcome));
  for (const o of ['started', 'advanced', 'fired', 'no-partial', 'span-exceeded', 'cancelled-until', 'cancelled-absent', 'expired', 'absent-satisfied', 'released', 'evicted', 'counted', 'superseded'] as const) assert.ok(seen.has(o), `the stream exercises ${o}`);
  assert.equal(log.filter((t) => t.outcome === 'fired').length, h.fired.length, 'one fired record per detection');
});
