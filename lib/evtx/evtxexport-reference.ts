/**
 * Helpers to run libevtx's `evtxexport` (the reference parser) and read its XML output.
 * Used by the tests and the benchmark to check Vigil's parser against the tool.
 */
import { execFile, execFileSync } from 'node:child_process';

export interface RefEvent {
  /** EventData values by Data Name (unnamed: Data, Data1, ...), as evtxexport prints them. */
  data: Map<string, string>;
  eventId: string;
  recordId: string;
}

/** True when `evtxexport` can be run. */
export function hasEvtxexport(): boolean {
  try {
    execFileSync('evtxexport', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Run `evtxexport -f xml` on a file and return its output. */
export function runEvtxexport(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('evtxexport', ['-f', 'xml', file], { maxBuffer: 1 << 30, encoding: 'utf8' }, (err, stdout) => {
      if (err) reject(err);
      else resolve(stdout);
    });
  });
}

function unescapeXml(s: string): string {
  if (s.indexOf('&') < 0) return s;
  return s.replace(/&(lt|gt|amp|quot|apos);/g, (_m, e: string) =>
    e === 'lt' ? '<' : e === 'gt' ? '>' : e === 'amp' ? '&' : e === 'quot' ? '"' : "'",
  );
}

const DATA_RE = /<Data(?: Name="([^"]*)")?(?:\/>|>([\s\S]*?)<\/Data>)/g;

/** Split evtxexport XML output into events and extract their EventData values. */
export function parseEvtxexportXml(out: string): RefEvent[] {
  const events: RefEvent[] = [];
  const parts = out.split(/^<Event xmlns="[^"]*">$/m);
  for (let i = 1; i < parts.length; i++) {
    const body = parts[i] as string;
    const data = new Map<string, string>();
    const ed0 = body.indexOf('<EventData>');
    const ed1 = body.indexOf('</EventData>');
    if (ed0 >= 0 && ed1 > ed0) {
      const ed = body.slice(ed0 + 11, ed1);
      for (const m of ed.matchAll(DATA_RE)) {
        const name = m[1] !== undefined && m[1] !== '' ? unescapeXml(m[1]) : 'Data';
        let key = name;
        for (let n = 1; data.has(key); n++) key = name + n;
        data.set(key, unescapeXml(m[2] ?? ''));
      }
    }
    const id = /<EventID(?: [^>]*)?>([^<]*)<\/EventID>/.exec(body);
    const rid = /<EventRecordID>([^<]*)<\/EventRecordID>/.exec(body);
    events.push({ data, eventId: id?.[1] ?? '', recordId: rid?.[1] ?? '' });
  }
  return events;
}
