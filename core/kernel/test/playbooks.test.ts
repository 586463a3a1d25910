import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bus } from '../../bus/index.js';
import { PluginCounters } from '../../telemetry/counters.js';
import type { Playbook, VigilConfig } from '../../config/types.js';
import type { ActionRequest, ActionResult, Detection } from '../../events/detection.js';
import type { ProcessInfo } from '../../events/event.js';
import { parseConfig } from '../../config/load.js';
import { ResponsePolicy } from '../response-policy.js';
import { responseConfig } from './response-config.js';

const CONTAIN: Playbook = {
  step_timeout_seconds: 5,
  on_timeout: 'resume',
  steps: [
    { id: 'freeze', action: 'suspend' },
    { id: 'scan', action: 'memscan' },
    { action: 'kill_tree', when: { scan: { verdict: ['suspicious', 'malicious'] } } },
    { action: 'resume', unless: { scan: { verdict: ['suspicious', 'malicious'] } } },
  ],
};

let n = 0;
function detection(actor: ProcessInfo, name = 'contain'): Detection {
  n++;
  return {
    id: `d-${n}`,
    rule: { id: 'r-implant', title: 'implant', source: 'native' },
    severity: 'high',
    evidence: [],
    tags: [],
    actions: [{ action: 'playbook', params: { name } }],
    time: Date.now(),
    raised: Date.now(),
    analyzer: 'a',
    host: { name: 'h' },
    summary: 'implant',
    actor,
  };
}

interface Harness {
  policy: ResponsePolicy;
  performed: ActionRequest[];
  journal: ActionResult[];
  bus: Bus;
}

/**
 * A policy over a bus with a process responder (suspend, resume, kill_tree) and a scanner
 * whose memscan is read-only; `scan` decides the scan's verdict, or withholds the answer.
 */
function harness(opts: { mode?: 'monitor' | 'enforce'; verdict?: string | 'never'; playbooks?: Record<string, Playbook>; response?: Partial<VigilConfig['response']> } = {}): Harness {
  const bus = new Bus({ capacity: 100, batchSize: 10 });
  const performed: ActionRequest[] = [];
  const journal: ActionResult[] = [];
  const config = responseConfig({ mode: opts.mode ?? 'enforce', playbooks: opts.playbooks ?? { contain: CONTAIN }, ...opts.response });
  const counters = new PluginCounters();
  const policy: ResponsePolicy = new ResponsePolicy(config, bus, counters, (r) => journal.push(r), Date.now, {
    lineage: new Set([process.pid]),
    liveProcess: () => undefined,
    readOnly: (a) => a === 'memscan',
  });
  const answer = (req: ActionRequest, details?: Record<string, unknown>): void => {
    journal.push(policy.complete({ request_id: req.id, detection_id: req.detection.id, action: req.action, responder: 'test', status: 'done', time: Date.now(), ...(details ? { details } : {}) }));
  };
  bus.subscribe({
    name: 'process',
    counters: new PluginCounters(),
    onFailure: (err) => assert.fail(String(err)),
    actions: ['suspend', 'resume', 'kill_tree'],
    onActions: (batch) => {
      for (const req of batch) {
        performed.push(req);
        answer(req);
      }
    },
  });
  bus.subscribe({
    name: 'scanner',
    counters: new PluginCounters(),
    onFailure: (err) => assert.fail(String(err)),
    actions: ['memscan'],
    onActions: (batch) => {
      for (const req of batch) {
        performed.push(req);
        if (opts.verdict === 'never') continue;
        const verdict = opts.verdict ?? 'suspicious';
        answer(req, { verdict, findings: verdict === 'clean' ? [] : ['anon_exec'] });
      }
    },
  });
  return { policy, performed, journal, bus };
}

const target: ProcessInfo = { pid: 31337, start_time: 1_700_000_000_000, image: '/tmp/implant' };

async function settle(h: Harness): Promise<void> {
  await h.policy.idle();
  await h.bus.idle();
}

const rows = (h: Harness) => h.journal.map((r) => `${r.step ?? '-'} ${r.action} ${r.outcome ?? r.status}`);

test('enforce: suspend, scan finds something, kill tree; resume is passed over; every row names the plan and step', async () => {
  const h = harness();
  h.policy.handle(detection(target));
  await settle(h);
  assert.deepEqual(h.performed.map((r) => r.action), ['suspend', 'memscan', 'kill_tree']);
  assert.deepEqual(rows(h), ['freeze suspend done', 'scan memscan done', 'step3 kill_tree done', 'step4 resume condition', '- playbook done']);
  assert.ok(h.journal.every((r) => r.playbook === 'contain'));
  assert.ok(h.performed.every((r) => r.playbook?.name === 'contain' && r.dry_run === false));
  const summary = h.journal.at(-1)!;
  assert.match(summary.reason ?? '', /scan=memscan:done\(suspicious\)/);
  assert.equal(summary.status, 'done');
});

test('enforce: a clean scan resumes the process and kills nothing', async () => {
  const h = harness({ verdict: 'clean' });
  h.policy.handle(detection(target));
  await settle(h);
  assert.deepEqual(h.performed.map((r) => r.action), ['suspend', 'memscan', 'resume']);
  assert.deepEqual(rows(h).slice(2, 4), ['step3 kill_tree condition', 'step4 resume done']);
});

test('monitor: the plan is walked; only the read-only scan runs, the rest is journaled as would-have', async () => {
  const h = harness({ mode: 'monitor' });
  h.policy.handle(detection(target));
  await settle(h);
  assert.deepEqual(h.performed.map((r) => `${r.action}:${r.dry_run}`), ['memscan:false']);
  assert.deepEqual(rows(h), ['freeze suspend would_have', 'scan memscan done', 'step3 kill_tree would_have', 'step4 resume condition', '- playbook would_have']);
  assert.ok(h.journal.every((r) => r.mode === 'monitor'));
});

test('a step without an answer times out: the plan stops and resumes what it suspended', async () => {
  const quick: Playbook = { ...CONTAIN, steps: CONTAIN.steps.map((s) => (s.action === 'memscan' ? { ...s, timeout_seconds: 0.05 } : s)) };
  const h = harness({ verdict: 'never', playbooks: { contain: quick } });
  h.policy.handle(detection(target));
  await settle(h);
  assert.deepEqual(h.performed.map((r) => r.action), ['suspend', 'memscan', 'resume']);
  assert.deepEqual(rows(h), ['freeze suspend done', 'scan memscan timeout', 'scan:on_timeout resume done', '- playbook aborted']);
  assert.equal(h.journal.at(-1)!.status, 'failed');
  assert.match(h.journal.at(-1)!.reason ?? '', /step scan \(memscan\) ended timeout.*resume done/);
});

test('a refused first step stops the plan without a restoring action', async () => {
  const h = harness({ response: { protected_images: ['/tmp/implant'] } });
  h.policy.handle(detection(target));
  await settle(h);
  assert.deepEqual(h.performed, []);
  assert.deepEqual(rows(h), ['freeze suspend protected', '- playbook aborted']);
});

test('one plan per process at a time; a second detection meanwhile is journaled in_progress', async () => {
  const quick: Playbook = { ...CONTAIN, steps: CONTAIN.steps.map((s) => (s.action === 'memscan' ? { ...s, timeout_seconds: 0.05 } : s)) };
  const h = harness({ verdict: 'never', playbooks: { contain: quick } });
  h.policy.handle(detection(target));
  h.policy.handle(detection(target));
  await settle(h);
  assert.equal(h.journal.filter((r) => r.outcome === 'in_progress').length, 1);
  assert.equal(h.performed.filter((r) => r.action === 'suspend').length, 1);
});

test('an unknown playbook and a target without identity are refused with the reason', async () => {
  const h = harness();
  h.policy.handle(detection(target, 'nope'));
  h.policy.handle(detection({ pid: 77 }));
  await settle(h);
  assert.deepEqual(h.journal.map((r) => r.outcome), ['no_playbook', 'no_identity']);
  assert.match(h.journal[0]!.reason ?? '', /"nope" \(response.playbooks has contain\)/);
  assert.deepEqual(h.performed, []);
});

test('stopping the agent breaks off a waiting step and still resumes the process', async () => {
  const h = harness({ verdict: 'never' });
  h.policy.handle(detection(target));
  await h.bus.idle();
  await new Promise((r) => setTimeout(r, 20));
  await h.policy.shutdown(2000);
  await h.bus.idle();
  assert.deepEqual(h.performed.map((r) => r.action), ['suspend', 'memscan', 'resume']);
  assert.deepEqual(rows(h), ['freeze suspend done', 'scan memscan stopping', 'scan:on_timeout resume done', '- playbook aborted']);
});

test('the config refuses a condition on a later step, a nested plan, a duplicate id and a set naming no playbook', () => {
  const yaml = `
response:
  sets:
    - { name: s, actions: [{ action: playbook, params: { name: missing } }] }
  playbooks:
    bad:
      steps:
        - { id: a, action: suspend, when: { b: { verdict: [clean] } } }
        - { id: b, action: playbook }
        - { id: a, action: resume }
`;
  assert.throws(
    () => parseConfig(yaml, 'vigil.yaml'),
    (err: Error) => {
      assert.match(err.message, /\/response\/playbooks\/bad\/steps\/0\/when\/b/);
      assert.match(err.message, /\/response\/playbooks\/bad\/steps\/1\/action/);
      assert.match(err.message, /\/response\/playbooks\/bad\/steps\/2\/id/);
      assert.match(err.message, /\/response\/sets\/0\/actions\/0\/params\/name/);
      return true;
    },
  );
});
