import type { Detection, Severity } from '../../core/events/detection.js';
import type { VigilEvent } from '../../core/events/event.js';

export interface SampleOptions {
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
export function sampleDetection(o: SampleOptions = {}): Detection {
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
