/**
 * The plugin conformance suite: every plugin, built-in or third-party, must pass it.
 * It drives a plugin through the contract of DESIGN.md §3 with a recording context built by
 * the kernel's own factory: valid manifest and default config, declared services offered,
 * handlers matching the declared capabilities, stop without start, stop twice, start → feed
 * → stop within the deadline, only declared event types emitted, frozen input never mutated.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ActionRequest, Detection } from '../core/events/detection.js';
import type { VigilEvent } from '../core/events/event.js';
import { deepFreeze } from '../core/events/freeze.js';
import { preparePluginConfig } from '../core/plugin/context.js';
import { checkApiVersion, manifestProblems, runsOn } from '../core/plugin/manifest.js';
import { unknownServices } from '../core/plugin/services.js';
import type { AnalyzerInstance, ResponderInstance, VigilPlugin } from '../core/plugin/types.js';
import { instantiate, recordingContext, type Recording } from './context.js';
import { sampleEvents } from './samples.js';

export const STOP_DEADLINE_MS = 5000;

/** The detection the suite hands analyzers and responders. */
function conformanceDetection(evidence: VigilEvent): Detection {
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

/**
 * Run the whole suite on one plugin. `overrides` is a config block over the defaults (e.g.
 * temp paths); the suite asserts and throws on the first violation.
 */
export async function checkConformance(plugin: VigilPlugin, overrides: Record<string, unknown> = {}): Promise<void> {
  const m = plugin.manifest;
  assert.deepEqual(manifestProblems(m), [], `manifest of ${m.id}`);
  checkApiVersion(plugin, m.id);
  assert.deepEqual(unknownServices(m), [], `${m.id} declares services the core does not offer`);

  assert.deepEqual(preparePluginConfig(m, {}).findings, [], `default config of ${m.id} must be valid`);
  assert.deepEqual(preparePluginConfig(m, overrides).findings, [], `test config of ${m.id}`);

  const baseDir = mkdtempSync(join(tmpdir(), `vigil-conf-${m.id}-`));
  const context = (): Recording =>
    recordingContext(plugin, { config: overrides, baseDir, dataDir: join(baseDir, 'data'), hostName: 'conformance-host', stopTimeoutMs: STOP_DEADLINE_MS });

  // stop() without start(), then twice.
  {
    const rec = context();
    const inst = instantiate(plugin, rec);
    await withDeadline('stop without start', inst.stop());
    await withDeadline('second stop', inst.stop());
    await rec.dispose();
  }

  if (!runsOn(m)) return; // the rest needs the plugin's platform

  // start → feed → stop within the deadline; stop again.
  const rec = context();
  const inst = instantiate(plugin, rec);
  await withDeadline('start', inst.start());
  const events = sampleEvents();
  const before = JSON.stringify(events);
  if (m.kind === 'analyzer') {
    const a = inst as AnalyzerInstance;
    const wanted = events.filter((e) => m.consumes.includes('*') || m.consumes.includes(e.type));
    if (a.onEvents && wanted.length > 0) await withDeadline('onEvents', Promise.resolve(a.onEvents(wanted)));
    if (a.onDetections && m.consumes.includes('detection')) await withDeadline('onDetections', Promise.resolve(a.onDetections([conformanceDetection(events[1]!)])));
  } else if (m.kind === 'responder') {
    const r = inst as ResponderInstance;
    if (r.onDetections) await withDeadline('onDetections', Promise.resolve(r.onDetections([conformanceDetection(events[1]!)])));
    if (r.onActions) {
      const req: ActionRequest = deepFreeze({ id: 'conf-a1', action: (m.actions ?? ['alert'])[0]!, params: {}, detection: conformanceDetection(events[1]!), dry_run: true });
      await withDeadline('onActions', Promise.resolve(r.onActions([req])));
    }
    if (r.flush) await withDeadline('flush', r.flush());
  } else {
    await new Promise((res) => setTimeout(res, 50));
  }
  assert.equal(JSON.stringify(events), before, `${m.id} must not mutate the events it is given`);
  rec.abort();
  await withDeadline('stop after start', inst.stop());
  await withDeadline('second stop after start', inst.stop());
  await withDeadline('disposers', rec.dispose());
  assert.deepEqual(rec.undeclared, [], `${m.id} emitted undeclared types`);
  assert.deepEqual(rec.failures.map(String), [], `${m.id} reported failures`);
}
