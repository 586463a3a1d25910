/**
 * The plugin conformance suite: every plugin, built-in or third-party, must pass it.
 * It drives a plugin through the contract of DESIGN.md §3 with a recording context:
 * valid manifest and default config, stop without start, stop twice, start → feed → stop
 * within the deadline, only declared event types emitted, frozen input never mutated.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import 'reflect-metadata';
import { container } from 'tsyringe';
import { manifestProblems, checkApiVersion, runsOn } from '../../core/plugin/manifest.js';
import { validateWithSchema } from '../../core/config/validate.js';
import { deepFreeze } from '../../core/events/freeze.js';
import { PluginCounters } from '../../core/telemetry/counters.js';
import { silentLogger } from '../../core/telemetry/logger.js';
import type { Disposer, PluginInstance, VigilPlugin, AnalyzerInstance, ResponderInstance } from '../../core/plugin/types.js';
import type { EventDraft, VigilEvent } from '../../core/events/event.js';
import type { ActionRequest, Detection, DetectionDraft } from '../../core/events/detection.js';

export const STOP_DEADLINE_MS = 5000;

export interface Recorder {
  emitted: EventDraft[];
  detections: DetectionDraft[];
  results: unknown[];
  undeclared: string[];
  failures: unknown[];
  disposers: Disposer[];
  counters: PluginCounters;
  finished: boolean;
}

/** A context like the kernel's, recording everything the plugin does. */
export function recordingContext(plugin: VigilPlugin, config: Record<string, unknown>, baseDir: string): { ctx: Record<string, unknown>; rec: Recorder; abort: AbortController } {
  const rec: Recorder = { emitted: [], detections: [], results: [], undeclared: [], failures: [], disposers: [], counters: new PluginCounters(), finished: false };
  const abort = new AbortController();
  const m = plugin.manifest;
  const emit = (d: EventDraft) => {
    if (!m.produces.includes(d.type)) rec.undeclared.push(d.type);
    rec.emitted.push(d);
    return undefined;
  };
  const ctx = {
    id: m.id,
    config: deepFreeze(config),
    logger: silentLogger(),
    counters: rec.counters,
    signal: abort.signal,
    container: container.createChildContainer(),
    defer: (d: Disposer) => rec.disposers.push(d),
    dataDir: join(baseDir, 'data'),
    hostName: 'conformance-host',
    resolvePath: (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p)),
    fail: (err: unknown) => rec.failures.push(err),
    emit,
    finished: () => {
      rec.finished = true;
    },
    detect: (d: DetectionDraft) => rec.detections.push(d),
    result: (r: unknown) => rec.results.push(r),
  };
  return { ctx, rec, abort };
}

/** Representative, deep-frozen events of the main types. */
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

export function sampleDetection(evidence: VigilEvent): Detection {
  return deepFreeze({
    id: 'conf-d1',
    time: evidence.time,
    raised: evidence.time,
    analyzer: 'conformance',
    host: { name: 'conformance-host' },
    rule: { id: 'conformance.rule', title: 'Conformance rule', source: 'native', version: '1' },
    severity: 'high',
    tags: ['attack.t1003.001'],
    evidence: [evidence],
    actions: [],
    summary: 'conformance detection',
    ...(evidence.proc ? { actor: evidence.proc } : {}),
  } as Detection);
}

async function withDeadline<T>(what: string, p: Promise<T>, ms = STOP_DEADLINE_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new Error(`${what} exceeded ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

async function dispose(rec: Recorder): Promise<void> {
  while (rec.disposers.length > 0) await rec.disposers.pop()!();
}

/**
 * Run the whole suite on one plugin. `config` overrides the defaults (e.g. temp paths);
 * the suite asserts and throws on the first violation.
 */
export async function checkConformance(plugin: VigilPlugin, overrides: Record<string, unknown> = {}): Promise<void> {
  const m = plugin.manifest;
  assert.deepEqual(manifestProblems(m), [], `manifest of ${m.id}`);
  checkApiVersion(plugin, m.id);

  const defaults: Record<string, unknown> = {};
  assert.deepEqual(validateWithSchema(m.configSchema, defaults), [], `default config of ${m.id} must be valid`);
  const config = { ...defaults, ...overrides };
  assert.deepEqual(validateWithSchema(m.configSchema, config), [], `test config of ${m.id}`);

  const baseDir = mkdtempSync(join(tmpdir(), `vigil-conf-${m.id}-`));

  // stop() without start(), then twice.
  {
    const { ctx, rec } = recordingContext(plugin, structuredClone(config), baseDir);
    const inst = (plugin.create as (c: unknown) => PluginInstance)(ctx);
    await withDeadline('stop without start', inst.stop());
    await withDeadline('second stop', inst.stop());
    await dispose(rec);
  }

  if (!runsOn(m)) return; // the rest needs the plugin's platform

  // start → feed → stop within the deadline; stop again.
  const { ctx, rec, abort } = recordingContext(plugin, structuredClone(config), baseDir);
  const inst = (plugin.create as (c: unknown) => PluginInstance)(ctx);
  await withDeadline('start', inst.start());
  const events = sampleEvents();
  const before = JSON.stringify(events);
  if (m.kind === 'analyzer') {
    const a = inst as AnalyzerInstance;
    const wanted = events.filter((e) => m.consumes.includes('*') || m.consumes.includes(e.type));
    if (a.onEvents && wanted.length > 0) await withDeadline('onEvents', Promise.resolve(a.onEvents(wanted)));
    if (a.onDetections && m.consumes.includes('detection')) await withDeadline('onDetections', Promise.resolve(a.onDetections([sampleDetection(events[1]!)])));
  } else if (m.kind === 'responder') {
    const r = inst as ResponderInstance;
    if (r.onDetections) await withDeadline('onDetections', Promise.resolve(r.onDetections([sampleDetection(events[1]!)])));
    if (r.onActions) {
      const req: ActionRequest = deepFreeze({ id: 'conf-a1', action: (m.actions ?? ['alert'])[0]!, params: {}, detection: sampleDetection(events[1]!), dry_run: true });
      await withDeadline('onActions', Promise.resolve(r.onActions([req])));
    }
    if (r.flush) await withDeadline('flush', r.flush());
  } else {
    await new Promise((res) => setTimeout(res, 50));
  }
  assert.equal(JSON.stringify(events), before, `${m.id} must not mutate the events it is given`);
  abort.abort();
  await withDeadline('stop after start', inst.stop());
  await withDeadline('second stop after start', inst.stop());
  await withDeadline('disposers', dispose(rec));
  assert.deepEqual(rec.undeclared, [], `${m.id} emitted undeclared types`);
  assert.deepEqual(rec.failures.map(String), [], `${m.id} reported failures`);
}
