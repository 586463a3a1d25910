/**
 * The DataView decoder and the event mapping on recorded records (Linux: no ETW needed): the
 * same records the Wine test double delivers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SchemaCache, ipv6Text, decodeEvent, parseEventInfo, schemaKey, EtwMapper, KERNEL_NETWORK, DNS_CLIENT, POWERSHELL } from '../index.js';
import { encodeRecord, eventRecordBytes, processStart, processStop, threadStart, KERNEL_PROCESS_GUID, type RecordDesc } from '../../../../test/support/etw-records.js';

const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
function decode(desc: RecordDesc) {
  const e = encodeRecord(desc);
  return decodeEvent(view(eventRecordBytes(e)), view(e.userData), parseEventInfo(view(e.schema)));
}

const T0 = Date.UTC(2026, 11, 8, 6, 0, 0, 250);

test('Kernel-Process ProcessStart decodes with its manifest layout and maps to process.start', () => {
  const ev = decode(processStart({ creatorPid: 900, creatorTid: 904, time: T0 + 1, pid: 4242, createTime: T0, ppid: 900, session: 1, image: '\\Device\\HarddiskVolume3\\Windows\\System32\\cmd.exe', label: 'S-1-16-12288', commandLine: 'cmd.exe /c whoami' }));
  assert.equal(ev.provider, KERNEL_PROCESS_GUID);
  assert.deepEqual([ev.id, ev.version, ev.pid, ev.tid, ev.task], [1, 3, 900, 904, 'ProcessStart']);
  assert.equal(ev.time, T0 + 1);
  assert.equal(ev.undecoded, undefined);
  assert.equal(ev.fields['ProcessID'], 4242);
  assert.equal(ev.fields['CreateTime'], T0);
  assert.equal(ev.fields['ImageName'], '\\Device\\HarddiskVolume3\\Windows\\System32\\cmd.exe');
  assert.equal(ev.fields['PackageFullName'], '');
  assert.equal(ev.fields['MandatoryLabel'], 'S-1-16-12288');
  assert.equal(ev.fields['ProcessSequenceNumber'], 4242 * 3);
  const m = new EtwMapper(16);
  const out = m.map(ev);
  assert.ok('draft' in out);
  assert.equal(out.draft.type, 'process.start');
  assert.deepEqual(out.draft.proc, {
    pid: 4242,
    ppid: 900,
    start_time: T0,
    guid: `4242@${T0}`,
    image: '\\Device\\HarddiskVolume3\\Windows\\System32\\cmd.exe',
    name: 'cmd.exe',
    cmdline: 'cmd.exe /c whoami',
    session_id: 1,
    integrity: 'High',
  });
  assert.deepEqual(out.draft.parent, { pid: 900 });
  assert.equal(out.draft.raw?.['EventID'], 1);
  assert.equal(out.draft.raw?.['Provider_Name'], 'Microsoft-Windows-Kernel-Process');
  const stop = m.map(decode(processStop({ pid: 4242, tid: 4250, time: T0 + 500, createTime: T0, exitCode: 3, image: 'x\\cmd.exe' })));
  assert.ok('draft' in stop);
  assert.equal(stop.draft.type, 'process.stop');
  assert.equal(stop.draft.proc?.image, '\\Device\\HarddiskVolume3\\Windows\\System32\\cmd.exe');
  assert.equal(stop.draft.proc?.guid, `4242@${T0}`);
  assert.equal(stop.draft.raw?.['exit_code'], 3);
  assert.equal(m.processes, 0);
});

test('a thread created in another process is thread.remote_create; a first thread by the parent and own threads are not', () => {
  const m = new EtwMapper(16);
  m.map(decode(processStart({ creatorPid: 900, creatorTid: 904, time: T0, pid: 5000, createTime: T0, ppid: 900, session: 1, image: 'C:\\a.exe' })));
  const first = m.map(decode(threadStart({ creatorPid: 900, creatorTid: 904, time: T0, pid: 5000, tid: 5004, start: '0x401000' })));
  assert.deepEqual(first, { skipped: 'local_thread' });
  const own = m.map(decode(threadStart({ creatorPid: 5000, creatorTid: 5004, time: T0, pid: 5000, tid: 5008, start: '0x402000' })));
  assert.deepEqual(own, { skipped: 'local_thread' });
  const remote = m.map(decode(threadStart({ creatorPid: 900, creatorTid: 904, time: T0 + 9, pid: 5000, tid: 5012, start: '0x7ffa12340000' })));
  assert.ok('draft' in remote);
  assert.equal(remote.draft.type, 'thread.remote_create');
  assert.equal(remote.draft.proc?.pid, 900);
  assert.equal(remote.draft.target?.guid, `5000@${T0}`);
  assert.deepEqual(remote.draft.thread, { id: 5012, start_address: '0x7ffa12340000' });
});

test('Kernel-Network connect, DNS-Client 3008 and PowerShell 4104 map to net.connect, dns.query and script.block', () => {
  const m = new EtwMapper(16);
  const net = m.map(decode({ provider: KERNEL_NETWORK, id: 12, version: 0, pid: 4, tid: 8, time: T0, fields: [
    { name: 'PID', type: 'u32', value: 1234 }, { name: 'size', type: 'u32', value: 0 }, { name: 'daddr', type: 'ipv4', value: '93.184.216.34' },
    { name: 'saddr', type: 'ipv4', value: '10.0.0.5' }, { name: 'dport', type: 'port', value: 443 }, { name: 'sport', type: 'port', value: 50123 },
  ] }));
  assert.ok('draft' in net);
  assert.deepEqual(net.draft.net, { protocol: 'tcp', initiated: true, ipv6: false, dst_ip: '93.184.216.34', dst_port: 443, src_ip: '10.0.0.5', src_port: 50123 });
  assert.equal(net.draft.proc?.pid, 1234);
  const dns = m.map(decode({ provider: DNS_CLIENT, id: 3008, version: 0, pid: 777, tid: 780, time: T0, fields: [
    { name: 'QueryName', type: 'wstring', value: 'example.org' }, { name: 'QueryType', type: 'u32', value: 1 }, { name: 'QueryOptions', type: 'u64', value: 0n },
    { name: 'QueryStatus', type: 'u32', value: 0 }, { name: 'QueryResults', type: 'wstring', value: '93.184.216.34;' },
  ] }));
  assert.ok('draft' in dns);
  assert.deepEqual(dns.draft.dns, { query: 'example.org', status: '0', answers: '93.184.216.34;' });
  const ps = m.map(decode({ provider: POWERSHELL, id: 4104, version: 1, pid: 888, tid: 890, time: T0, fields: [
    { name: 'MessageNumber', type: 'i32', value: 1 }, { name: 'MessageTotal', type: 'i32', value: 1 }, { name: 'ScriptBlockText', type: 'wstring', value: 'Get-Process | Select -First 1' },
    { name: 'ScriptBlockId', type: 'wstring', value: '6b3c2b8e-0000-4000-8000-000000000001' }, { name: 'Path', type: 'wstring', value: '' },
  ] }));
  assert.ok('draft' in ps);
  assert.equal(ps.draft.type, 'script.block');
  assert.deepEqual(ps.draft.script, { text: 'Get-Process | Select -First 1', block_id: '6b3c2b8e-0000-4000-8000-000000000001' });
});

test('short UserData keeps the fields read so far and says why; the schema key names provider, id and version', () => {
  const e = encodeRecord(processStart({ creatorPid: 1, creatorTid: 2, time: T0, pid: 3, createTime: T0, ppid: 1, session: 0, image: 'C:\\b.exe' }));
  const ev = decodeEvent(view(eventRecordBytes(e)), view(e.userData.subarray(0, 10)), parseEventInfo(view(e.schema)));
  assert.equal(ev.fields['ProcessID'], 3);
  assert.equal(ev.fields['CreateTime'], undefined);
  assert.match(ev.undecoded ?? '', /UserData ends at 10 bytes/);
  assert.equal(schemaKey(view(e.header)), `${KERNEL_PROCESS_GUID}/1/3`);
});

test('the schema cache matches the whole provider GUID, id and version, and refuses past its cap', () => {
  const a = encodeRecord(processStart({ creatorPid: 1, creatorTid: 2, time: T0, pid: 3, createTime: T0, ppid: 1, session: 0, image: 'C:\\b.exe' }));
  const b = encodeRecord({ ...processStart({ creatorPid: 1, creatorTid: 2, time: T0, pid: 3, createTime: T0, ppid: 1, session: 0, image: 'C:\\b.exe' }), version: 2 });
  const c = encodeRecord({ ...processStart({ creatorPid: 1, creatorTid: 2, time: T0, pid: 3, createTime: T0, ppid: 1, session: 0, image: 'C:\\b.exe' }), provider: '22FB2CD6-0E7B-422B-A0C7-2FAD1FD0E717' });
  const cache = new SchemaCache<string>(2);
  assert.equal(cache.set(view(a.header), 'a'), true);
  assert.equal(cache.set(view(b.header), 'b'), true);
  assert.equal(cache.get(view(a.header)), 'a');
  assert.equal(cache.get(view(b.header)), 'b');
  assert.equal(cache.get(view(c.header)), undefined, 'same Data1, other last byte');
  assert.equal(cache.set(view(c.header), 'c'), false);
  assert.equal(cache.size, 2);
});

test('64-bit values past 2^53 stay exact as text; pointers are hex', () => {
  const ev = decode({ provider: KERNEL_PROCESS_GUID, id: 99, pid: 1, tid: 2, time: T0, fields: [
    { name: 'big', type: 'u64', value: 0xfedcba9876543210n }, { name: 'small', type: 'u64', value: 123456789n },
    { name: 'ptr', type: 'pointer', value: '0xffff800012345678' }, { name: 'low', type: 'pointer', value: '0x1000' },
  ] });
  assert.deepEqual(ev.fields, { big: '18364758544493064720', small: 123456789, ptr: '0xffff800012345678', low: '0x1000' });
});

test('a TCPv6 connect (Kernel-Network 28) reads its 16-byte addresses as IPv6 text', () => {
  const out = new EtwMapper(16).map(decode({ provider: KERNEL_NETWORK, id: 28, version: 0, pid: 4, tid: 8, time: T0, fields: [
    { name: 'PID', type: 'u32', value: 321 }, { name: 'size', type: 'u32', value: 0 }, { name: 'daddr', type: 'ipv6', value: '2606:2800:220:1:248:1893:25c8:1946' },
    { name: 'saddr', type: 'ipv6', value: 'fe80:0:0:0:0:0:0:1' }, { name: 'dport', type: 'port', value: 80 }, { name: 'sport', type: 'port', value: 61000 },
  ] }));
  assert.ok('draft' in out);
  assert.deepEqual(out.draft.net, { protocol: 'tcp', initiated: true, ipv6: true, dst_ip: '2606:2800:220:1:248:1893:25c8:1946', dst_port: 80, src_ip: 'fe80::1', src_port: 61000 });
});

test('IPv6 text is compressed as RFC 5952 says', () => {
  const b = (...g: number[]) => Uint8Array.from(g.flatMap((x) => [x >> 8, x & 0xff]));
  assert.equal(ipv6Text(b(0, 0, 0, 0, 0, 0, 0, 1)), '::1');
  assert.equal(ipv6Text(b(0, 0, 0, 0, 0, 0, 0, 0)), '::');
  assert.equal(ipv6Text(b(0x2001, 0xdb8, 0, 1, 0, 0, 0, 1)), '2001:db8:0:1::1');
  assert.equal(ipv6Text(b(0x2001, 0xdb8, 0, 0, 1, 0, 0, 1)), '2001:db8::1:0:0:1');
  assert.equal(ipv6Text(b(1, 2, 3, 4, 5, 6, 7, 8)), '1:2:3:4:5:6:7:8');
  assert.equal(ipv6Text(b(0xfe80, 0, 0, 0, 0, 0, 0, 0)), 'fe80::');
});
