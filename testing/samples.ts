/** Sample events and detections for plugin tests, shaped as the core delivers them. */
import type { Detection, Severity } from '../core/events/detection.js';
import type { EventDraft, VigilEvent } from '../core/events/event.js';
import { deepFreeze } from '../core/events/freeze.js';

export { stampDraft } from '../core/events/stamp.js';

/** Representative, deep-frozen events of the main types (the conformance suite feeds these). */
export function sampleEvents(): VigilEvent[] {
  const t = 1_700_000_000_000;
  const envelope = (seq: number, d: EventDraft): VigilEvent =>
    deepFreeze({ ...d, id: `conf-${seq}`, seq, received: t, source: 'conformance', host: { name: 'conformance-host' } }) as VigilEvent;
  return [
    envelope(1, {
      type: 'process.start',
      time: t,
      proc: { pid: 4242, guid: '{11111111-2222-3333-4444-555555555555}', image: 'C:\\Windows\\System32\\cmd.exe', name: 'cmd.exe', cmdline: 'cmd.exe /c whoami', user: 'LAB\\alice' },
      parent: { pid: 4000, image: 'C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE', name: 'WINWORD.EXE' },
      raw: { EventID: 1, Channel: 'Microsoft-Windows-Sysmon/Operational', Image: 'C:\\Windows\\System32\\cmd.exe', CommandLine: 'cmd.exe /c whoami' },
    }),
    envelope(2, {
      type: 'process.access',
      time: t + 1,
      proc: { pid: 4242, image: 'C:\\Users\\alice\\mimikatz.exe' },
      target: { pid: 700, image: 'C:\\Windows\\System32\\lsass.exe' },
      access: { granted: 0x1010, call_trace: 'C:\\Windows\\SYSTEM32\\ntdll.dll+9c584' },
      raw: { EventID: 10, GrantedAccess: '0x1010', TargetImage: 'C:\\Windows\\System32\\lsass.exe' },
    }),
    envelope(3, { type: 'net.connect', time: t + 2, proc: { pid: 4242, image: '/usr/bin/bash' }, net: { dst_ip: '203.0.113.9', dst_port: 4444, protocol: 'tcp', initiated: true } }),
    envelope(4, { type: 'registry.set', time: t + 3, proc: { pid: 4242 }, reg: { key: 'HKU\\S-1-5-21\\Software\\Microsoft\\Windows\\CurrentVersion\\Run\\x', data: 'C:\\x.exe' } }),
    envelope(5, { type: 'process.stop', time: t + 4, proc: { pid: 4242, image: 'C:\\Windows\\System32\\cmd.exe' } }),
  ];
}

export interface SampleDetectionOptions {
  id?: string;
  severity?: Severity;
  title?: string;
  ruleId?: string;
  time?: number;
  raised?: number;
  image?: string;
  pid?: number;
  host?: string;
  /** Pads the command line so a detection serializes to a known rough size. */
  cmdlinePad?: number;
}

/** An LSASS-access detection shaped like what the rule engine raises for a Sysmon event 10. */
export function sampleDetection(o: SampleDetectionOptions = {}): Detection {
  const time = o.time ?? Date.UTC(2024, 4, 1, 12, 34, 56, 789);
  const image = o.image ?? 'C:\\Users\\bob\\Downloads\\mimikatz.exe';
  const pid = o.pid ?? 4242;
  const host = o.host ?? 'WS01.corp.local';
  const proc = { pid, guid: '{6c1a0b0e-1111-2222-3333-444455556666}', image, name: 'mimikatz.exe', cmdline: `mimikatz.exe "sekurlsa::logonpasswords"${' '.repeat(o.cmdlinePad ?? 0)}` };
  const event: VigilEvent = {
    id: `boot-${pid}-1`,
    seq: 1,
    type: 'process.access',
    time,
    received: time + 5,
    source: 'sysmon',
    host: { name: host },
    proc,
    target: { pid: 640, image: 'C:\\Windows\\system32\\lsass.exe' },
    access: { granted: 0x1010 },
    raw: { EventID: 10, GrantedAccess: '0x1010', Computer: host },
  };
  const title = o.title ?? 'LSASS memory access by credential dumper';
  return {
    id: o.id ?? 'det-1',
    time,
    raised: o.raised ?? Date.now(),
    analyzer: 'rule-engine',
    host: { name: host },
    rule: { id: o.ruleId ?? 'vigil-cred-lsass-access', title, source: 'native', version: '1' },
    severity: o.severity ?? 'high',
    tags: ['attack.t1003.001', 'attack.credential_access'],
    evidence: [event],
    actor: proc,
    actions: [{ action: 'alert' }],
    matched: [{ path: '/match/all/0', field: 'target.image', op: 'endswith', value: 'lsass.exe' }],
    summary: `${title}: mimikatz.exe read lsass.exe`,
  };
}
