import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { EVENT_TYPES, type EventDraft } from '../../../core/index.js';
import { projectRoot } from '../../../testing/index.js';
import {
  normalizeWindowsEvent,
  parseEventXml,
  parseFieldSpec,
  SYSMON_EVENTS,
  WINDOWS_EVENTS,
  windowsEventTypes,
  type WindowsRecord,
} from '../index.js';

const FIXTURE = join(projectRoot(), 'lib', 'windows', 'test', 'fixtures', 'real-events.xml');
const records = parseEventXml(readFileSync(FIXTURE, 'utf8'));
const known: ReadonlySet<string> = new Set(EVENT_TYPES);

function find(id: number, channel: string, pred: (r: WindowsRecord) => boolean = () => true): EventDraft {
  const r = records.find((x) => x.system.EventID === id && x.system.Channel === channel && pred(x));
  assert.ok(r, `fixture has event ${id} on ${channel}`);
  return normalizeWindowsEvent(r);
}
const SYSMON = 'Microsoft-Windows-Sysmon/Operational';

test('the real-event fixture parses completely', () => {
  assert.equal(records.length, 29);
  for (const r of records) {
    const d = normalizeWindowsEvent(r);
    assert.ok(known.has(d.type), `${d.type} is a known event type`);
    assert.ok(d.time > Date.UTC(2015, 0, 1), 'event time is read');
  }
});

test('Sysmon 1 becomes process.start with converted fields and raw kept', () => {
  const d = find(1, SYSMON, (r) => r.data['ProcessId'] === '12876');
  assert.equal(d.type, 'process.start');
  assert.equal(d.time, Date.UTC(2020, 9, 5, 22, 28, 20, 529), 'time from UtcTime');
  assert.deepEqual(d.host, { name: 'LAPTOP-JU4M3I0E' });
  assert.equal(d.proc?.pid, 12876);
  assert.equal(d.proc?.image, 'C:\\Windows\\System32\\cmd.exe');
  assert.equal(d.proc?.name, 'cmd.exe');
  assert.equal(d.proc?.cmdline, '"C:\\windows\\system32\\cmd.exe"');
  assert.equal(d.proc?.session_id, 2);
  assert.equal(d.proc?.integrity, 'High');
  assert.equal(d.proc?.original_file_name, 'Cmd.Exe');
  assert.equal(d.proc?.ppid, 20228);
  assert.equal(d.proc?.parent_guid, '{00247C92-9E03-5F7B-0000-0010A645272C}');
  assert.deepEqual(d.proc?.hashes, {
    sha1: '8DCA9749CD48D286950E7A9FA1088C937CBCCAD4',
    md5: 'D7AB69FAD18D4A643D84A271DFC0DBDF',
    sha256: 'FF79D3C4A0B7EB191783C323AB8363EBD1FD10BE58D8BCC96B07067743CA81D5',
    imphash: '272245E2988E1E430500B852C4FB5E18',
  });
  assert.equal(d.parent?.pid, 20228);
  assert.equal(d.parent?.name, 'mmc.exe');
  assert.equal(d.parent?.cmdline, '"C:\\Windows\\System32\\mmc.exe" WF.msc');
  assert.equal(d.user?.logon_id, '0x000000000391e334');
  const raw = d.raw ?? {};
  assert.equal(raw['EventID'], 1);
  assert.equal(raw['Channel'], SYSMON);
  assert.equal(raw['Provider_Name'], 'Microsoft-Windows-Sysmon');
  assert.equal(raw['Computer'], 'LAPTOP-JU4M3I0E');
  assert.equal(raw['EventRecordID'], 2164913);
  assert.equal(raw['Keywords'], '0x8000000000000000');
  assert.equal(raw['Level'], 4);
  assert.equal(raw['Execution_ProcessID'], 5424);
  assert.equal(raw['Security_UserID'], 'S-1-5-18');
  assert.equal(raw['Image'], 'C:\\Windows\\System32\\cmd.exe');
  assert.equal(raw['ProcessId'], '12876', 'raw keeps the source text');
  assert.equal(raw['RuleName'], '');
  assert.equal(raw['LogonGuid'], '{00247C92-8C36-5F75-0000-002034E39103}', 'unmapped fields stay in raw');
});

test('Sysmon 10 maps source/target and converts GrantedAccess from hex', () => {
  const d = find(10, SYSMON);
  assert.equal(d.type, 'process.access');
  assert.equal(d.access?.granted, 0x1fffff);
  assert.equal(d.access?.source_thread_id, 23480);
  assert.equal(d.proc?.guid, '{00247C92-9E03-5F7B-0000-0010A645272C}');
  assert.equal(d.proc?.name, 'mmc.exe');
  assert.equal(d.target?.pid, 12876);
  assert.equal(d.target?.name, 'cmd.exe');
  assert.equal(d.raw?.['GrantedAccess'], '0x001fffff');
});

test('Sysmon 3 converts booleans and ports', () => {
  const d = find(3, SYSMON);
  assert.equal(d.type, 'net.connect');
  assert.equal(d.net?.initiated, true);
  assert.equal(d.net?.ipv6, false);
  assert.equal(d.net?.dst_port, 445);
  assert.equal(d.net?.src_port, 49925);
  assert.equal(d.net?.protocol, 'tcp');
  assert.equal(d.proc?.name, 'powershell.exe');
});

test('Sysmon 12 tells key deletion from creation', () => {
  const del = find(12, SYSMON, (r) => r.data['EventType'] === 'DeleteKey');
  assert.equal(del.type, 'registry.delete');
  assert.equal(del.reg?.operation, 'DeleteKey');
  assert.match(del.reg?.key ?? '', /exefile\\shell\\open\\command$/);
  const other = find(12, SYSMON, (r) => r.data['EventType'] !== 'DeleteKey');
  assert.equal(other.type, 'registry.create');
});

test('Sysmon 11 fills file.name and file.creation_time', () => {
  const d = find(11, SYSMON);
  assert.equal(d.type, 'file.create');
  assert.ok(d.file?.path);
  assert.equal(d.file?.name, d.file?.path?.split('\\').pop());
  assert.equal(typeof d.file?.creation_time, 'number');
});

test('Security 4688 converts hex pids and uses TimeCreated', () => {
  const d = find(4688, 'Security');
  assert.equal(d.type, 'process.start');
  assert.equal(d.proc?.pid, 0x4f0);
  assert.equal(d.parent?.pid, 0x12c);
  assert.equal(d.proc?.ppid, 0x12c);
  assert.equal(d.proc?.name, 'python.exe');
  assert.equal(d.proc?.cmdline, '');
  assert.equal(d.user?.name, 'IEUser');
  assert.equal(d.time, Date.UTC(2019, 4, 11, 17, 10, 10) + 342.446, "TimeCreated to the microsecond");
  assert.equal(d.raw?.['NewProcessId'], '0x000004f0');
});

test('Security 4624 / System 7045 / PowerShell 4104 use the Windows table', () => {
  const logon = find(4624, 'Security');
  assert.equal(logon.type, 'logon.success');
  assert.equal(typeof logon.logon?.type, 'number');
  const svc = find(7045, 'System');
  assert.equal(svc.type, 'service.install');
  assert.equal(svc.service?.name, 'WinPwnage');
  assert.equal(svc.service?.path, "%COMSPEC% /c ping -n 1 127.0.0.1 >nul && echo 'WinPwnage' > \\\\.\\pipe\\WinPwnagePipe");
  assert.equal(svc.raw?.['EventID_Qualifiers'], 16384);
  const ps = find(4104, 'Microsoft-Windows-PowerShell/Operational');
  assert.equal(ps.type, 'script.block');
  assert.ok((ps.script?.text ?? '').length > 0);
});

test('events without a mapping become windows.event with raw fields (UserData included)', () => {
  const cleared = find(1102, 'Security');
  assert.equal(cleared.type, 'windows.event');
  assert.equal(cleared.raw?.['SubjectUserName'], 'IEUser');
  assert.equal(cleared.raw?.['EventID'], 1102);
  assert.deepEqual(cleared.host, { name: 'IEWIN7' });
  // Event 3 on another channel is not a Sysmon network connection.
  const bits = find(3, 'Microsoft-Windows-Bits-Client/Operational');
  assert.equal(bits.type, 'windows.event');
  assert.equal(bits.net, undefined);
  assert.equal(bits.raw?.['processPath'], 'C:\\Windows\\System32\\desktopimgdownldr.exe');
});

test('a mapped event ID on the wrong channel is not mapped', () => {
  const d = normalizeWindowsEvent({ system: { EventID: 4688, Channel: 'Application' }, data: { NewProcessId: '0x10' } });
  assert.equal(d.type, 'windows.event');
  assert.equal(d.proc, undefined);
});

test('unreadable values stay in raw only', () => {
  const d = normalizeWindowsEvent({
    system: { EventID: 1, Channel: SYSMON, TimeCreated: 1_600_000_000_000 },
    data: { UtcTime: 'not a time', ProcessId: 'abc', Hashes: 'garbage', Image: 'C:\\x\\y.exe', TerminalSessionId: '' },
  });
  assert.equal(d.time, 1_600_000_000_000, 'falls back to TimeCreated');
  assert.equal(d.proc?.pid, undefined);
  assert.equal(d.proc?.hashes, undefined);
  assert.equal(d.proc?.session_id, undefined);
  assert.equal(d.proc?.name, 'y.exe');
  assert.equal(d.raw?.['ProcessId'], 'abc');
  assert.equal(d.raw?.['Hashes'], 'garbage');
});

test('typed values (numbers, booleans) from a typed parser convert too', () => {
  const d = normalizeWindowsEvent({
    system: { EventID: 3, Channel: SYSMON },
    data: { ProcessId: 4, Initiated: true, DestinationPort: 443, SourceIsIpv6: 'False' },
  });
  assert.equal(d.proc?.pid, 4);
  assert.equal(d.net?.initiated, true);
  assert.equal(d.net?.dst_port, 443);
  assert.equal(d.net?.ipv6, false);
  assert.equal(d.time, 0, 'no time at all gives 0');
});

test('EventData may not override the identifying System fields', () => {
  const d = normalizeWindowsEvent({
    system: { EventID: 4100, Channel: 'Application', Level: 2 },
    data: { EventID: 'x', Level: 'warning' },
  });
  assert.equal(d.raw?.['EventID'], 4100);
  assert.equal(d.raw?.['Channel'], 'Application');
  assert.equal(d.raw?.['Level'], 'warning');
});

test('the normalizer never throws and keeps every source field (property)', () => {
  const value = fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null), fc.double(), fc.array(fc.string()), fc.object());
  fc.assert(
    fc.property(
      fc.oneof(fc.constantFrom(...Object.keys(SYSMON_EVENTS).map(Number), 4688, 4624, 7045, 4104), fc.integer()),
      fc.constantFrom(SYSMON, 'Security', 'System', 'Microsoft-Windows-PowerShell/Operational', 'X'),
      fc.dictionary(
        fc.oneof(fc.constantFrom('ProcessId', 'Image', 'Hashes', 'GrantedAccess', 'UtcTime', 'NewProcessId', 'Initiated', 'EventType'), fc.string()),
        value,
      ),
      (id, channel, data) => {
        const d = normalizeWindowsEvent({ system: { EventID: id, Channel: channel }, data });
        assert.ok(known.has(d.type));
        assert.equal(typeof d.time, 'number');
        for (const k of Object.keys(data)) {
          if (k === 'EventID' || k === 'Channel') continue;
          assert.ok(Object.is(d.raw?.[k], data[k]), `raw.${k} kept`);
        }
      },
    ),
    { numRuns: 2000 },
  );
});

test('the field table is well formed', () => {
  const groups = new Set(['proc', 'parent', 'target', 'thread', 'access', 'file', 'image', 'reg', 'net', 'dns', 'user', 'logon', 'service', 'task', 'script', 'pipe', 'wmi']);
  const kinds = new Set(['str', 'int', 'hex', 'bool', 'time', 'hashes']);
  for (const m of [...Object.values(SYSMON_EVENTS), ...Object.values(WINDOWS_EVENTS)]) {
    assert.ok(known.has(m.type), m.type);
    for (const [f, spec] of Object.entries(m.fields)) {
      const { path, kind } = parseFieldSpec(spec);
      assert.ok(kinds.has(kind), `${f}: kind ${kind}`);
      const [g, k, more] = path.split('.');
      assert.ok(g !== undefined && groups.has(g) && k && more === undefined, `${f}: path ${path}`);
    }
  }
  for (const t of windowsEventTypes()) assert.ok(known.has(t), t);
});
