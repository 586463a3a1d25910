import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { compileCorrelationDocs, convertSigmaCorrelations, loadSigmaCorrelations, parseSigmaCorrelationDoc } from '../index.js';
import { CorrelationEngine } from '../engine.js';
import { VirtualClock } from '../clock.js';
import { ev, T0 } from './helpers.js';
import type { DetectionDraft } from '../../../../core/index.js';

const ROOT = process.env['VIGIL_PROJECT_ROOT'] ?? resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../..');
const DATASETS = process.env['VIGIL_DATASETS'] ?? resolve(ROOT, '../shared/datasets');

// The specification's own example (failed logins followed by a successful login), plus
// value_count, temporal with aliases, and an unsupported type.
const YAML = `title: Correlation - Multiple Failed Logins Followed by Successful Login
id: b180ead8-d58f-40b2-ae54-c8940995b9b6
correlation:
    type: temporal_ordered
    rules:
        - multiple_failed_login
        - successful_login
    group-by:
        - User
    timespan: 10m
level: high
---
title: Multiple failed logons
id: a8418a5a-5fc4-46b5-b23b-6c73beb19d41
name: multiple_failed_login
correlation:
    type: event_count
    rules:
        - failed_login
    group-by:
        - User
    timespan: 10m
    condition:
        gte: 3
---
title: Single failed login
id: 53ba33fd-3a50-4468-a5ef-c583635cfa92
name: failed_login
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID: 4625
    condition: selection
---
title: Successful login
id: 4d0a2c83-c62c-4ed4-b475-c7e23a9269b8
name: successful_login
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID: 4624
    condition: selection
---
title: Many users from one workstation
id: 0e95725d-7320-415d-80f7-004da920fc12
correlation:
    type: value_count
    rules:
        - failed_login
    group-by:
        - WorkstationName
    timespan: 1d
    condition:
        field: TargetUserName
        gte: 3
---
title: Error then connection between the same hosts
id: 11111111-2222-4333-8444-555555555555
correlation:
    type: temporal
    rules:
        - internal_error
        - new_network_connection
    group-by:
        - internal_ip
    timespan: 10s
    aliases:
        internal_ip:
            internal_error: destination.ip
            new_network_connection: source.ip
    generate: true
---
title: Not a thing
id: 99999999-2222-4333-8444-555555555555
correlation:
    type: value_percentile
    rules: [failed_login]
    group-by: [User]
    timespan: 1h
`;

function sigmaDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-sigma-'));
  writeFileSync(join(dir, 'mr_bruteforce.yml'), YAML);
  return dir;
}

async function engineFor(dir: string): Promise<{ engine: CorrelationEngine; fired: DetectionDraft[]; clock: VirtualClock }> {
  const load = await loadSigmaCorrelations([dir]);
  const conv = compileCorrelationDocs(load.docs);
  assert.deepEqual(conv.issues, []);
  const clock = new VirtualClock(T0);
  const fired: DetectionDraft[] = [];
  const engine = new CorrelationEngine({ clock, onDetection: (d) => fired.push(d) });
  engine.load(conv.compiled);
  return { engine, fired, clock };
}

function det(ruleId: string, raw: Record<string, unknown>, dt: number) {
  const e = ev({ type: 'windows.event', raw }, dt);
  return { rule: { id: ruleId, title: ruleId }, evidence: [e], time: e.time };
}

test('Sigma YAML: correlations are converted, others counted, unsupported types skipped with a reason', async () => {
  const load = await loadSigmaCorrelations([sigmaDir()]);
  assert.equal(load.stats.documents, 7);
  assert.equal(load.stats.detection_rules, 2);
  assert.equal(load.stats.correlations, 5);
  assert.equal(load.stats.converted, 4);
  assert.equal(load.stats.skipped, 1);
  // The unknown correlation type is refused by the shared importer's parser.
  assert.deepEqual(load.stats.skipped_by_kind, { 'bad-correlation': 1 });
  assert.match(load.skipped[0]?.reason ?? '', /type/);
  assert.equal(load.stats.generate_true, 1);
  const ordered = load.docs.find((d) => d.doc.id === 'b180ead8-d58f-40b2-ae54-c8940995b9b6')?.doc;
  assert.equal(ordered?.kind, 'sequence');
  if (ordered?.kind === 'sequence') {
    // Names resolve to ids: the chained correlation by its id, the plain rule by its id.
    assert.deepEqual(ordered.steps.map((s) => s.rule), ['a8418a5a-5fc4-46b5-b23b-6c73beb19d41', '4d0a2c83-c62c-4ed4-b475-c7e23a9269b8']);
    assert.equal(ordered.maxspan_ms, 600_000);
    assert.equal(ordered.severity, 'high');
  }
});

test('Sigma chain: event_count of failures, then temporal_ordered success, fires once with all evidence', async () => {
  const { engine, fired } = await engineFor(sigmaDir());
  const failed = '53ba33fd-3a50-4468-a5ef-c583635cfa92';
  engine.onDetections([det(failed, { User: 'alice', EventID: 4625 }, 0), det(failed, { User: 'bob', EventID: 4625 }, 1), det(failed, { User: 'alice', EventID: 4625 }, 2)]);
  engine.onDetections([det('4d0a2c83-c62c-4ed4-b475-c7e23a9269b8', { User: 'alice', EventID: 4624 }, 3)]);
  assert.equal(fired.length, 0, 'two failures are not enough');
  engine.onDetections([det(failed, { User: 'alice', EventID: 4625 }, 4)]);
  assert.deepEqual(fired.map((d) => d.rule.id), ['a8418a5a-5fc4-46b5-b23b-6c73beb19d41']);
  engine.onDetections([det('4d0a2c83-c62c-4ed4-b475-c7e23a9269b8', { User: 'ALICE', EventID: 4624 }, 5)]);
  assert.deepEqual(fired.map((d) => d.rule.id), ['a8418a5a-5fc4-46b5-b23b-6c73beb19d41', 'b180ead8-d58f-40b2-ae54-c8940995b9b6']);
  assert.equal(fired[1]?.evidence.length, 4);
});

test('Sigma value_count counts distinct values per group', async () => {
  const { engine, fired } = await engineFor(sigmaDir());
  const failed = '53ba33fd-3a50-4468-a5ef-c583635cfa92';
  const d = (u: string, dt: number) => det(failed, { TargetUserName: u, WorkstationName: 'WS1', User: `x${dt}` }, dt);
  engine.onDetections([d('a', 0), d('a', 1), d('b', 2)]);
  assert.equal(fired.filter((f) => f.rule.id === '0e95725d-7320-415d-80f7-004da920fc12').length, 0);
  engine.onDetections([d('c', 3)]);
  assert.equal(fired.filter((f) => f.rule.id === '0e95725d-7320-415d-80f7-004da920fc12').length, 1);
});

test('Sigma temporal with aliases joins different fields of different rules', async () => {
  const { engine, fired } = await engineFor(sigmaDir());
  const id = '11111111-2222-4333-8444-555555555555';
  engine.onDetections([det('internal_error', { 'destination.ip': '10.0.0.1' }, 0)]);
  engine.onDetections([det('new_network_connection', { 'source.ip': '10.0.0.2' }, 1000)]);
  assert.equal(fired.filter((f) => f.rule.id === id).length, 0);
  engine.onDetections([det('new_network_connection', { 'source.ip': '10.0.0.1' }, 2000)]);
  assert.equal(fired.filter((f) => f.rule.id === id).length, 1);
});

test('importer-shaped input converts the same way (SigmaCorrelationDoc)', () => {
  const conv = convertSigmaCorrelations([
    { id: 'C1', title: 't', tags: [], references: [], type: 'event_count', rules: ['r1'], group_by: ['User'], timespan_ms: 60_000, condition: { gt: 4 }, aliases: {}, generate: false, file: 'x.yml' },
    { id: 'c2', title: 't', tags: [], references: [], type: 'temporal_ordered', rules: ['r1', 'r2'], group_by: [], timespan_ms: 60_000, condition: { gte: 1 }, aliases: {}, generate: false, file: 'x.yml' },
  ]);
  assert.equal(conv.docs.length, 1);
  assert.equal(conv.docs[0]?.doc.id, 'c1');
  assert.match(conv.skipped[0]?.reason ?? '', /^unsupported: temporal_ordered/);
  assert.equal(typeof parseSigmaCorrelationDoc({ title: 'x' }, 'f'), 'string');
});

test('SigmaHQ dataset: every YAML file loads; correlation documents are counted and reported', async (t) => {
  const dir = join(DATASETS, 'sigma');
  if (!existsSync(dir)) {
    t.skip(`Sigma dataset not found at ${dir} (set VIGIL_DATASETS)`);
    return;
  }
  const load = await loadSigmaCorrelations([join(dir, 'rules'), join(dir, 'rules-emerging-threats'), join(dir, 'rules-threat-hunting')]);
  t.diagnostic(JSON.stringify(load.stats));
  assert.ok(load.stats.files > 3000, `expected the full rule set, found ${load.stats.files} files`);
  assert.equal(load.stats.correlations, load.stats.converted + load.stats.skipped);
  assert.ok(load.stats.documents >= load.stats.files - load.stats.file_errors, 'every readable file yields at least one document');
  assert.equal(load.stats.file_errors, load.issues.length, 'every unreadable file is reported');
  const conv = compileCorrelationDocs(load.docs);
  assert.equal(conv.compiled.length, load.stats.converted, JSON.stringify(conv.issues.slice(0, 3)));
});

test('Sigma correlation files: an alias bomb and an untrusted file are issues of their file, the rest still loads', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-corr-sigma-bad-'));
  const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]', ...'bcdefgh'.split('').map((c, i) => `${c}: &${c} [${Array(9).fill(`*${'abcdefgh'[i]!}`).join(', ')}]`)];
  const bombFile = join(dir, 'bomb.yml');
  writeFileSync(bombFile, bomb.join('\n') + '\n');
  const open = join(dir, 'open.yml');
  writeFileSync(open, 'title: x\nid: 1\n', { mode: 0o666 });
  chmodSync(open, 0o666);
  const res = await loadSigmaCorrelations([dir]);
  const byFile = new Map(res.issues.map((i) => [i.file, i.message]));
  assert.match(byFile.get(bombFile) ?? '', /YAML error: .*alias/i);
  if (process.platform === 'linux') assert.match(byFile.get(open) ?? '', /^untrusted: file .* is writable by group and others \(mode 0666\); refused$/);
  else t.diagnostic('file modes are checked on Linux only');
  assert.equal(res.stats.file_errors, process.platform === 'linux' ? 2 : 1);
});
