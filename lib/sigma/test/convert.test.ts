import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSigmaRules, parseCorrelation, expandCollection, SigmaConversionError } from '../index.js';
import { convertYaml, matchOf, mustConvert, mustSkip, ruleYaml } from './helpers.js';

test('rule metadata: id, title, version from modified, level, tags, references, origin, x_sigma', () => {
  const r = mustConvert(`title: Suspicious Thing
id: 0D894093-71BC-43C3-8C4D-ECFC28DCF5D9
name: susp_thing
status: experimental
description: Detects a thing.
references:
  - https://example.org/a
author: Someone
date: 2023-01-02
modified: 2024-05-06
tags:
  - attack.execution
  - attack.T1059.001
logsource:
  category: process_creation
  product: windows
detection:
  sel:
    Image|endswith: '\\evil.exe'
  condition: sel
falsepositives:
  - Admins
level: critical
`);
  assert.equal(r.id, '0d894093-71bc-43c3-8c4d-ecfc28dcf5d9');
  assert.equal(r.title, 'Suspicious Thing');
  assert.equal(r.description, 'Detects a thing.');
  assert.equal(r.version, '2024-05-06');
  assert.equal(r.severity, 'critical');
  assert.deepEqual(r.tags, ['attack.execution', 'attack.t1059.001']);
  assert.deepEqual(r.references, ['https://example.org/a']);
  assert.equal(r.origin, 'sigma');
  assert.deepEqual(r.event, ['process.start']);
  assert.equal(r.enabled, undefined);
  assert.deepEqual(r.x_sigma, {
    logsource: { category: 'process_creation', product: 'windows' },
    file: 'inline.yml',
    status: 'experimental',
    falsepositives: ['Admins'],
    name: 'susp_thing',
    author: 'Someone',
    date: '2023-01-02',
    modified: '2024-05-06',
  });
  const plain = mustConvert(ruleYaml(`sel:\n  Image: x\ncondition: sel`));
  assert.equal(plain.version, '1');
  assert.equal(plain.description, 'Test rule');
});

test('deprecated rules convert but are disabled; a bad level is refused', () => {
  const dep = mustConvert(ruleYaml(`sel:\n  Image: x\ncondition: sel`).replace('status: test', 'status: deprecated'));
  assert.equal(dep.enabled, false);
  assert.match(mustSkip(ruleYaml(`sel:\n  Image: x\ncondition: sel`).replace('level: high', 'level: severe')), /^bad-rule: level "severe"/);
  assert.match(mustSkip('title: x\nlogsource: {product: windows}\ndetection: {sel: {a: 1}, condition: sel}'), /^bad-rule: id is missing/);
  assert.match(mustSkip('- just\n- a list'), /^bad-rule: the document is not a map/);
  assert.ok('skipped' in convertYaml('title: only a title'));
});

test('selections: maps are AND, lists of maps are OR, numbers stay numbers', () => {
  assert.deepEqual(matchOf(`sel:\n  Image|endswith: '\\a.exe'\n  CommandLine|contains: ' -x'\ncondition: sel`), {
    all: [
      { field: 'proc.image', endswith_any: ['\\a.exe'] },
      { field: 'proc.cmdline', contains_any: [' -x'] },
    ],
  });
  assert.deepEqual(matchOf(`sel:\n  - Image|endswith: '\\a.exe'\n  - OriginalFileName: 'a.exe'\ncondition: sel`), {
    any: [
      { field: 'proc.image', endswith_any: ['\\a.exe'] },
      { field: 'proc.original_file_name', equals_any: ['a.exe'] },
    ],
  });
  assert.deepEqual(matchOf(`sel:\n  TerminalSessionId: 0\n  EventID:\n    - 1\n    - 4688\ncondition: sel`), {
    all: [
      { field: 'proc.session_id', equals_any: [0] },
      { field: 'raw.EventID', equals_any: [1, 4688] },
    ],
  });
});

test('keyword lists search every raw value; |all keywords must all occur', () => {
  assert.deepEqual(matchOf(`keywords:\n  - 'mimikatz'\n  - 'sekurlsa::*'\ncondition: keywords`, 'product: windows\n  service: system'), {
    all: [
      { field: 'raw.Channel', equals_any: ['System'] },
      { field: '*', contains_any: ['mimikatz', 'sekurlsa::'] },
    ],
  });
  // Linux rules carry a guard that keeps them off Windows event-log events.
  assert.deepEqual(matchOf(`keywords:\n  '|all':\n    - 'a'\n    - 'b'\ncondition: keywords`, 'product: linux\n  service: syslog'), {
    all: [
      { field: 'raw.Channel', exists: false },
      { field: '*', contains_any: ['a'] },
      { field: '*', contains_any: ['b'] },
    ],
  });
  assert.deepEqual(matchOf(`keywords: 'single'\ncondition: keywords`, 'product: linux'), {
    all: [
      { field: 'raw.Channel', exists: false },
      { field: '*', contains_any: ['single'] },
    ],
  });
});

test('null means the field is absent; an empty string is an exact empty value', () => {
  assert.deepEqual(matchOf(`sel:\n  Image: x\nfilter:\n  ParentImage: null\ncondition: sel and not filter`), {
    all: [{ field: 'proc.image', equals_any: ['x'] }, { not: { field: 'parent.image', exists: false } }],
  });
  assert.deepEqual(matchOf(`sel:\n  OriginalFileName:\n    - ''\n    - null\ncondition: sel`), {
    any: [
      { field: 'proc.original_file_name', equals_any: [''] },
      { field: 'proc.original_file_name', exists: false },
    ],
  });
  assert.deepEqual(matchOf(`sel:\n  Description: '*'\ncondition: sel`), { field: 'proc.description', exists: true });
});

test('category rules map Sysmon field names to normalized paths, keeping exact-string fields raw', () => {
  const pa = mustConvert(
    ruleYaml(
      `sel:\n  TargetImage|endswith: '\\lsass.exe'\n  GrantedAccess: '0x1410'\n  CallTrace|contains: 'UNKNOWN'\n  SourceImage|endswith: '\\x.exe'\ncondition: sel`,
      'category: process_access\n  product: windows',
    ),
  );
  assert.deepEqual(pa.event, ['process.access']);
  assert.deepEqual(
    'all' in pa.match ? pa.match.all.map((p) => ('field' in p ? p.field : '?')) : [],
    ['target.image', 'raw.GrantedAccess', 'raw.CallTrace', 'proc.image'],
  );
  const pc = mustConvert(
    ruleYaml(`sel:\n  Hashes|contains: 'IMPHASH=ABC'\n  ParentCommandLine|contains: x\n  IntegrityLevel: System\n  GrandparentImage: y\ncondition: sel`),
  );
  assert.deepEqual(
    'all' in pc.match ? pc.match.all.map((p) => ('field' in p ? p.field : '?')) : [],
    ['raw.Hashes', 'parent.cmdline', 'proc.integrity', 'raw.GrandparentImage'],
  );
  const net = mustConvert(ruleYaml(`sel:\n  Initiated: 'true'\n  DestinationPort: 4444\ncondition: sel`, 'category: network_connection\n  product: windows'));
  assert.deepEqual(net.match, {
    all: [
      { field: 'raw.Initiated', equals_any: ['true'] },
      { field: 'net.dst_port', equals_any: [4444] },
    ],
  });
});

test('categories select their event types', () => {
  const ev = (ls: string): string[] => mustConvert(ruleYaml(`sel:\n  Foo: x\ncondition: sel`, ls)).event;
  const win = (c: string): string[] => ev(`category: ${c}\n  product: windows`);
  assert.deepEqual(win('network_connection'), ['net.connect']);
  assert.deepEqual(win('image_load'), ['image.load']);
  assert.deepEqual(win('driver_load'), ['driver.load']);
  assert.deepEqual(win('create_remote_thread'), ['thread.remote_create']);
  assert.deepEqual(win('file_event'), ['file.create']);
  assert.deepEqual(win('file_delete'), ['file.delete', 'file.delete_detected']);
  assert.deepEqual(win('registry_set'), ['registry.set']);
  assert.deepEqual(win('registry_delete'), ['registry.delete'], 'Sysmon 12 deletions only, not key creation');
  assert.deepEqual(win('registry_add'), ['registry.create']);
  assert.deepEqual(win('registry_event'), ['registry.create', 'registry.set', 'registry.rename', 'registry.delete']);
  assert.deepEqual(win('pipe_created'), ['pipe.create', 'pipe.connect']);
  assert.deepEqual(win('wmi_event'), ['wmi.filter', 'wmi.consumer', 'wmi.binding']);
  assert.deepEqual(win('dns_query'), ['dns.query']);
  assert.deepEqual(win('raw_access_thread'), ['file.raw_read']);
  assert.deepEqual(win('file_change'), ['file.time_change']);
  assert.deepEqual(win('create_stream_hash'), ['file.stream_hash']);
  assert.deepEqual(win('process_tampering'), ['process.tamper']);
  assert.deepEqual(win('clipboard_capture'), ['clipboard.change']);
  assert.deepEqual(win('sysmon_status'), ['sensor.state', 'config.change']);
  assert.deepEqual(win('ps_script'), ['script.block']);
  assert.deepEqual(win('ps_module'), ['script.module']);
  assert.deepEqual(ev('category: process_creation\n  product: linux'), ['process.start']);
  assert.match(mustSkip(ruleYaml(`sel:\n  Foo: x\ncondition: sel`, 'category: process_creation\n  product: macos')), /^unsupported-logsource: product macos/);
  assert.match(mustSkip(ruleYaml(`sel:\n  Foo: x\ncondition: sel`, 'category: proxy')), /^unsupported-logsource: /);
  assert.match(mustSkip(ruleYaml(`sel:\n  Foo: x\ncondition: sel`, 'category: file_rename\n  product: windows')), /^unsupported-logsource: category file_rename/);
});

test('PowerShell categories: script fields are normalized, classic events are raw with a channel guard', () => {
  const ps = mustConvert(ruleYaml(`sel:\n  ScriptBlockText|contains: 'Invoke-'\ncondition: sel`, 'category: ps_script\n  product: windows'));
  assert.deepEqual(ps.match, { field: 'script.text', contains_any: ['Invoke-'] });
  const classic = mustConvert(ruleYaml(`sel:\n  Data|contains: 'HostName=ConsoleHost'\ncondition: sel`, 'category: ps_classic_start\n  product: windows'));
  assert.deepEqual(classic.event, ['windows.event']);
  assert.deepEqual(classic.match, {
    all: [
      { field: 'raw.Channel', equals_any: ['Windows PowerShell'] },
      { field: 'raw.EventID', equals_any: [400] },
      { field: 'raw.Data', contains_any: ['HostName=ConsoleHost'] },
    ],
  });
});

test('service rules: pinned event IDs choose the types, otherwise every type of the channel; a channel guard always', () => {
  const logon = mustConvert(ruleYaml(`sel:\n  EventID: 4624\n  LogonType: 10\ncondition: sel`, 'product: windows\n  service: security'));
  assert.deepEqual(logon.event, ['logon.success']);
  assert.deepEqual(logon.match, {
    all: [
      { field: 'raw.Channel', equals_any: ['Security'] },
      { field: 'raw.EventID', equals_any: [4624] },
      { field: 'raw.LogonType', equals_any: [10] },
    ],
  });
  const mixed = mustConvert(ruleYaml(`sel:\n  EventID:\n    - 4688\n    - 4663\ncondition: sel`, 'product: windows\n  service: security'));
  assert.deepEqual(mixed.event, ['process.start', 'windows.event']);
  const anyId = mustConvert(ruleYaml(`sel:\n  ObjectName|contains: x\ncondition: sel`, 'product: windows\n  service: security'));
  assert.ok(anyId.event.includes('windows.event') && anyId.event.includes('logon.failure') && anyId.event.includes('process.start'));
  assert.ok(!anyId.event.includes('script.block'));
  const notPinned = mustConvert(ruleYaml(`sel:\n  EventID: 4624\nf:\n  EventID: 4625\ncondition: sel or not f`, 'product: windows\n  service: security'));
  assert.ok(notPinned.event.includes('windows.event') && notPinned.event.length > 2);
  const sysmon = mustConvert(ruleYaml(`sel:\n  EventID: 16\ncondition: sel`, 'product: windows\n  service: sysmon'));
  assert.deepEqual(sysmon.event, ['config.change']);
  const sys = mustConvert(ruleYaml(`sel:\n  EventID: 7045\n  ImagePath|contains: 'cmd'\ncondition: sel`, 'product: windows\n  service: system'));
  assert.deepEqual(sys.event, ['service.install']);
  assert.match(mustSkip(ruleYaml(`sel:\n  EventID: 1\ncondition: sel`, 'product: windows\n  service: nosuchlog')), /^unsupported-logsource: service nosuchlog/);
});

test('Linux services test raw fields on the generic Linux event types', () => {
  const r = mustConvert(ruleYaml(`sel:\n  type: EXECVE\n  a0: nc\ncondition: sel`, 'product: linux\n  service: auditd'));
  assert.ok(r.event.includes('process.start') && r.event.includes('file.open') && !r.event.includes('windows.event'));
  assert.deepEqual(r.match, {
    all: [
      { field: 'raw.Channel', exists: false },
      { field: 'raw.type', equals_any: ['EXECVE'] },
      { field: 'raw.a0', equals_any: ['nc'] },
    ],
  });
});

test('correlation rules are parsed and validated, not converted', () => {
  const c = parseCorrelation(
    {
      title: 'Many failed logins',
      id: '0e95725d-7320-415d-80f7-004da920fc11',
      level: 'high',
      correlation: {
        type: 'value_count',
        rules: ['failed_logon'],
        'group-by': ['ComputerName'],
        timespan: '1h',
        condition: { field: 'TargetUserName', gte: 10 },
      },
    },
    'c.yml',
  );
  assert.equal(c.type, 'value_count');
  assert.equal(c.timespan_ms, 3_600_000);
  assert.deepEqual(c.condition, { gte: 10 });
  assert.equal(c.field, 'TargetUserName');
  assert.deepEqual(c.group_by, ['ComputerName']);
  assert.equal(c.generate, false);
  assert.equal(c.severity, 'high');
  const t = parseCorrelation(
    {
      title: 't',
      id: 'x1',
      correlation: {
        type: 'temporal_ordered',
        rules: ['a', 'b'],
        'group-by': ['User'],
        timespan: '90m',
        generate: true,
        aliases: { ip: { a: 'SourceIp', b: 'DestinationIp' } },
      },
    },
    'c.yml',
  );
  assert.equal(t.timespan_ms, 5_400_000);
  assert.equal(t.condition, undefined);
  assert.equal(t.generate, true);
  assert.deepEqual(t.aliases, { ip: { a: 'SourceIp', b: 'DestinationIp' } });
  const bad = (correlation: Record<string, unknown>): void => {
    assert.throws(
      () => parseCorrelation({ title: 'x', id: 'y', correlation }, 'c.yml'),
      (err: unknown) => err instanceof SigmaConversionError && err.kind === 'bad-correlation' && err.message.length > 10,
    );
  };
  bad({ type: 'event_count', rules: ['a'], timespan: '1 hour', condition: { gte: 1 } });
  bad({ type: 'event_count', rules: ['a'], timespan: '1h' });
  bad({ type: 'sum', rules: ['a'], timespan: '1h', condition: { gte: 1 } });
  bad({ type: 'value_count', rules: ['a'], timespan: '1h', condition: { gte: 1 } });
  bad({ type: 'temporal', rules: ['a'], timespan: '1h' });
  bad({ type: 'event_count', rules: [], timespan: '1h', condition: { gte: 1 } });
  bad({ type: 'event_count', rules: ['a'], timespan: '1h', condition: { over: 1 } });
});

test('rule collections: action global / repeat / reset', () => {
  const docs = expandCollection([
    { action: 'global', title: 'T', logsource: { product: 'windows' }, detection: { condition: 'sel' } },
    { id: 'a', detection: { sel: { A: 1 } } },
    { action: 'repeat', id: 'b', detection: { sel: { A: 2 } } },
    { action: 'reset' },
    { id: 'c', title: 'C' },
  ]);
  assert.deepEqual(docs, [
    { title: 'T', logsource: { product: 'windows' }, detection: { condition: 'sel', sel: { A: 1 } }, id: 'a' },
    { title: 'T', logsource: { product: 'windows' }, detection: { condition: 'sel', sel: { A: 2 } }, id: 'b' },
    { id: 'c', title: 'C' },
  ]);
});

test('loading a folder: multi-document files, correlations, a YAML error and a bad rule do not stop the others', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-sigma-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'sub', 'deeper'), { recursive: true });
  await writeFile(join(dir, 'good.yml'), ruleYaml(`sel:\n  Image: a.exe\ncondition: sel`));
  await writeFile(join(dir, 'broken.yml'), 'title: [unclosed\nid: x\n  bad: indent: here\n');
  await writeFile(
    join(dir, 'sub', 'badcond.yaml'),
    ruleYaml(`sel:\n  Image: b.exe\ncondition: sel and (`).replace('11111111-2222', '99999999-2222'),
  );
  await writeFile(join(dir, 'sub', 'ignored.txt'), 'not yaml: [');
  await writeFile(
    join(dir, 'sub', 'deeper', 'collection.yml'),
    `action: global
title: Collection
status: test
level: medium
logsource:
  product: windows
  service: security
detection:
  condition: sel
---
id: aaaaaaaa-0000-0000-0000-000000000001
name: failed_logon
detection:
  sel:
    EventID: 4625
---
action: repeat
id: aaaaaaaa-0000-0000-0000-000000000002
detection:
  sel:
    EventID: 4624
---
action: reset
---
title: Brute force then success
id: aaaaaaaa-0000-0000-0000-000000000003
correlation:
  type: event_count
  rules:
    - failed_logon
  group-by:
    - TargetUserName
  timespan: 5m
  condition:
    gte: 10
`,
  );
  const res = await loadSigmaRules([dir]);
  assert.deepEqual(res.rules.map((r) => r.id).sort(), [
    '11111111-2222-3333-4444-555555555555',
    'aaaaaaaa-0000-0000-0000-000000000001',
    'aaaaaaaa-0000-0000-0000-000000000002',
  ]);
  const second = res.rules.find((r) => r.id.endsWith('0002'));
  assert.deepEqual(second?.event, ['logon.success']);
  assert.equal(res.rules.find((r) => r.id.endsWith('0001'))?.x_sigma.name, 'failed_logon');
  assert.equal(res.correlations.length, 1);
  assert.equal(res.correlations[0]?.timespan_ms, 300_000);
  assert.deepEqual(res.correlations[0]?.rules, ['failed_logon']);
  assert.equal(res.skipped.length, 2);
  const broken = res.skipped.find((s) => s.file.endsWith('broken.yml'));
  assert.match(broken?.reason ?? '', /^yaml-error: /);
  const badcond = res.skipped.find((s) => s.file.endsWith('badcond.yaml'));
  assert.equal(badcond?.id, '99999999-2222-3333-4444-555555555555');
  assert.equal(badcond?.title, 'Test rule');
  assert.match(badcond?.reason ?? '', /^bad-condition: /);
  assert.equal(res.stats.files, 4);
  assert.equal(res.stats.file_errors, 1);
  assert.equal(res.stats.rules, 3);
  assert.equal(res.stats.correlations, 1);
  assert.deepEqual(res.stats.skipped_by_kind, { 'yaml-error': 1, 'bad-condition': 1 });

  // The same rule id twice: the second is reported, not loaded.
  const again = await loadSigmaRules([join(dir, 'good.yml'), join(dir, 'good.yml'), join(dir, 'missing.yml')]);
  assert.equal(again.rules.length, 1);
  assert.match(again.skipped.map((s) => s.reason).join('\n'), /duplicate-id: .*already loaded/);
  assert.match(again.skipped.map((s) => s.reason).join('\n'), /read-error: /);
});
