import { existsSync, readdirSync, statSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import cliProgress from 'cli-progress';
import { resolveConfigPath } from '../core/config/index.js';
import { VigilError } from '../core/errors/index.js';
import type { AgentStatus } from '../core/kernel/kernel.js';
import type { Logger } from '../core/telemetry/logger.js';
import { startAgent } from './agent.js';
import { table } from './format.js';

export interface ReplayOptions {
  config?: string;
  out?: string;
  eventsOut?: string;
  sigma?: string[];
  mergeByTime?: boolean;
  progress: boolean;
  json?: boolean;
  logger: Logger;
}

const REPLAY_EXTENSIONS = new Set(['.evtx', '.jsonl', '.json', '.ndjson', '.xml']);

function countFiles(p: string): number {
  const st = statSync(p);
  if (!st.isDirectory()) return 1;
  let n = 0;
  for (const name of readdirSync(p)) {
    const child = join(p, name);
    const s = statSync(child);
    if (s.isDirectory()) n += countFiles(child);
    else if (REPLAY_EXTENSIONS.has(extname(name).toLowerCase())) n++;
  }
  return n;
}

/**
 * `vigil replay`: enable every sensor whose manifest declares `replay.pathsKey`, with the
 * given paths under that key, switch the other sensors off, run until the sources are
 * exhausted and the queues drained, then print a summary. Returns the exit code. Every
 * config key it sets is one a manifest declared in `replay` (ReplayCapability).
 */
export async function runReplay(paths: string[], opts: ReplayOptions): Promise<number> {
  const abs = paths.map((p) => resolve(p));
  for (const p of abs) {
    if (!existsSync(p)) throw new VigilError('VIGIL_ERR_REPLAY_INPUT', `replay path ${p} does not exist`);
  }
  const sigma = (opts.sigma ?? []).map((p) => resolve(p));
  for (const p of sigma) {
    if (!existsSync(p)) throw new VigilError('VIGIL_ERR_REPLAY_INPUT', `Sigma folder ${p} does not exist`);
  }
  const files = abs.reduce((n, p) => n + countFiles(p), 0);
  const replaySensors: string[] = [];
  const t0 = performance.now();
  const agent = await startAgent({
    configFile: resolveConfigPath(opts.config),
    logger: opts.logger,
    serveStatus: false,
    logLevelFixed: true,
    ...(opts.out ? { out: opts.out } : {}),
    ...(opts.eventsOut ? { eventsOut: opts.eventsOut } : {}),
    adjust: (refs, config) => {
      for (const [id, ref] of refs) {
        const m = ref.plugin.manifest;
        const cap = m.replay ?? {};
        const entry = config.plugins[id];
        if (m.kind === 'sensor') {
          if (cap.pathsKey !== undefined) {
            const cfg: Record<string, unknown> = { ...(entry?.config ?? {}), [cap.pathsKey]: abs };
            if (opts.mergeByTime && cap.mergeByTimeKey !== undefined) cfg[cap.mergeByTimeKey] = true;
            config.plugins[id] = { ...(entry ?? {}), enabled: true, config: cfg };
            replaySensors.push(id);
          } else if (entry) entry.enabled = false;
        } else if (m.kind === 'responder' && opts.json && cap.streamKey !== undefined && entry?.enabled) {
          // stdout carries the JSON summary: outputs that can write elsewhere go to stderr.
          entry.config = { ...entry.config, [cap.streamKey]: 'stderr' };
        } else if (m.kind === 'analyzer' && sigma.length > 0 && cap.sigmaPathsKey !== undefined && entry?.enabled) {
          const key = cap.sigmaPathsKey;
          const cur = Array.isArray(entry.config[key]) ? (entry.config[key] as string[]) : [];
          entry.config = { ...entry.config, [key]: [...cur, ...sigma] };
        }
      }
      if (replaySensors.length === 0) {
        throw new VigilError('VIGIL_ERR_REPLAY_NO_SENSOR', 'no replay sensor plugin is available (a sensor whose manifest declares replay.pathsKey)');
      }
    },
  });
  const kernel = agent.kernel;
  // Loading and compiling content (Sigma import) is start-up, reported apart from the replay rate.
  const startup = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  const replayHosts = kernel.hosts.filter((h) => replaySensors.includes(h.id));
  const records = () => replayHosts.reduce((n, h) => n + (h.counters.snapshot().custom['records'] ?? h.counters.emitted), 0);
  const filesDone = () => replayHosts.reduce((n, h) => n + (h.counters.snapshot().custom['files'] ?? 0), 0);

  let bar: cliProgress.SingleBar | undefined;
  let timer: NodeJS.Timeout | undefined;
  if (opts.progress && process.stderr.isTTY) {
    bar = new cliProgress.SingleBar(
      { format: 'replay [{bar}] {value}/{total} files | {records} records | {rate} events/s | {detections} detections', stream: process.stderr, hideCursor: true },
      cliProgress.Presets.shades_classic,
    );
    bar.start(Math.max(files, 1), 0, { records: 0, rate: 0, detections: 0 });
    timer = setInterval(() => updateBar(), 250);
  }
  function updateBar(): void {
    const s = kernel.status();
    const secs = (performance.now() - t1) / 1000;
    bar?.update(Math.min(filesDone(), files), { records: records(), rate: Math.round(s.events.total / secs), detections: s.detections.total });
  }
  const stopAll = async () => {
    if (timer) clearInterval(timer);
    updateBar();
    bar?.stop();
    await agent.stop();
  };
  const onSignal = () => void stopAll();
  process.once('SIGINT', onSignal);
  try {
    await kernel.whenSourcesFinished();
  } finally {
    const status = kernel.status();
    await stopAll();
    process.off('SIGINT', onSignal);
    const secs = (performance.now() - t1) / 1000;
    const summary = replaySummary(status, replaySensors, files, secs, startup);
    process.stdout.write(opts.json ? JSON.stringify(summary, null, 2) + '\n' : formatReplaySummary(summary));
  }
  const failed = kernel.hosts.some((h) => replaySensors.includes(h.id) && h.state === 'detached');
  return failed ? 1 : 0;
}

export interface ReplaySummary {
  files: number;
  records: number;
  events: number;
  /** Seconds from the first event to the last one handled (start-up excluded). */
  seconds: number;
  /** Seconds to load config, plugins and content (rules, Sigma) before the replay began. */
  startup_seconds: number;
  events_per_second: number;
  events_by_type: Record<string, number>;
  detections: number;
  detections_by_severity: Record<string, number>;
  detections_by_rule: Array<{ id: string; title: string; count: number }>;
  skipped: Record<string, number>;
  errors: Record<string, number>;
  /** Content that failed to load (a broken Sigma file), by plugin and file. */
  load_errors: Array<{ plugin: string; file: string; reason: string }>;
}

function replaySummary(s: AgentStatus, sensors: readonly string[], files: number, seconds: number, startup: number): ReplaySummary {
  const skipped: Record<string, number> = {};
  const errors: Record<string, number> = {};
  const loadErrors: ReplaySummary['load_errors'] = [];
  let records = 0;
  let filesRead = 0;
  for (const p of s.plugins) {
    if (sensors.includes(p.id)) {
      records += p.counters.custom['records'] ?? p.counters.emitted;
      filesRead += p.counters.custom['files'] ?? 0;
    }
    for (const [reason, d] of Object.entries(p.counters.discarded)) {
      if (!d.intended) skipped[`${p.id}: ${reason}`] = (skipped[`${p.id}: ${reason}`] ?? 0) + d.count;
    }
    for (const [k, n] of Object.entries(p.counters.errors)) errors[`${p.id}: ${k}`] = n;
    for (const f of p.counters.file_errors) if (f.stage === 'load') loadErrors.push({ plugin: p.id, file: f.file, reason: f.reason });
  }
  return {
    files: filesRead || files,
    records,
    events: s.events.total,
    seconds: Math.round(seconds * 100) / 100,
    startup_seconds: Math.round(startup * 100) / 100,
    events_per_second: Math.round(s.events.total / Math.max(seconds, 1e-3)),
    events_by_type: s.events.by_type,
    detections: s.detections.total,
    detections_by_severity: s.detections.by_severity,
    detections_by_rule: Object.entries(s.detections.by_rule)
      .map(([id, v]) => ({ id, title: v.title, count: v.count }))
      .sort((a, b) => b.count - a.count),
    skipped,
    errors,
    load_errors: loadErrors,
  };
}

function formatReplaySummary(r: ReplaySummary): string {
  const out: string[] = [];
  out.push(`replay: ${r.files} files, ${r.records} records, ${r.events} events in ${r.seconds} s (${r.events_per_second} events/s; start-up ${r.startup_seconds} s)`);
  out.push('', 'events by type:');
  out.push(table(['type', 'events'], Object.entries(r.events_by_type).sort((a, b) => b[1] - a[1])));
  out.push(`detections: ${r.detections}` + (r.detections ? ` (${Object.entries(r.detections_by_severity).map(([k, v]) => `${k} ${v}`).join(', ')})` : ''));
  if (r.detections_by_rule.length > 0) {
    out.push(table(['rule', 'title', 'count'], r.detections_by_rule.slice(0, 50).map((d) => [d.id, d.title.slice(0, 70), d.count])));
    if (r.detections_by_rule.length > 50) out.push(`… and ${r.detections_by_rule.length - 50} more rules`);
  }
  const skipped = Object.entries(r.skipped);
  out.push(skipped.length ? 'skipped:' : 'skipped: nothing');
  for (const [k, n] of skipped) out.push(`  ${k}: ${n}`);
  const errors = Object.entries(r.errors);
  if (errors.length) {
    out.push('errors:');
    for (const [k, n] of errors) out.push(`  ${k}: ${n}`);
  }
  if (r.load_errors.length) {
    out.push('not loaded (broken content):');
    for (const e of r.load_errors) out.push(`  ${e.plugin}: ${e.file}: ${e.reason}`);
  }
  return out.join('\n') + '\n';
}
