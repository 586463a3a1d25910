/** Small in-test plugins for exercising the kernel: a scripted sensor, counting analyzers. */
import type {
  AnalyzerContext,
  AnalyzerPlugin,
  EventDraft,
  PluginManifest,
  SensorContext,
  SensorPlugin,
  VigilEvent,
  ResponderPlugin,
  ResponderContext,
  Detection,
} from '../../core/index.js';
import type { PluginModuleRef } from '../../core/plugin/loader.js';

const base = { apiVersion: '2.0.0', version: '1.0.0', description: 'test plugin', configSchema: { type: 'object', additionalProperties: true } };

export function ref(plugin: SensorPlugin | AnalyzerPlugin | ResponderPlugin, origin = 'test'): PluginModuleRef {
  return { plugin, origin };
}

/** A sensor that emits `count` process.start events (replay: awaits back-pressure). */
export function scriptedSensor(
  id: string,
  drafts: () => Iterable<EventDraft>,
  opts: { delivery?: 'live' | 'replay'; platforms?: PluginManifest['platforms']; log?: string[]; produces?: string[]; pauseEvery?: number } = {},
): SensorPlugin {
  return {
    manifest: {
      ...base,
      id,
      kind: 'sensor',
      platforms: opts.platforms ?? ['any'],
      produces: opts.produces ?? ['process.start', 'net.connect'],
      consumes: [],
      delivery: opts.delivery ?? 'replay',
    },
    create(ctx: SensorContext) {
      let loop: Promise<void> | undefined;
      return {
        async start() {
          opts.log?.push(`start:${id}`);
          loop = (async () => {
            await new Promise((r) => setImmediate(r));
            let n = 0;
            for (const d of drafts()) {
              if (ctx.signal.aborted) break;
              if (opts.pauseEvery && ++n % opts.pauseEvery === 0) await new Promise((r) => setTimeout(r, 1));
              const p = ctx.emit(d);
              if (p) await p;
            }
            ctx.finished();
          })().catch((err: unknown) => ctx.fail(err));
        },
        async stop() {
          opts.log?.push(`stop:${id}`);
          await loop;
        },
      };
    },
  };
}

export interface Collected {
  events: VigilEvent[];
  detections: Detection[];
}

/** An analyzer that records what it sees and optionally throws or raises detections. */
export function recordingAnalyzer(
  id: string,
  sink: Collected,
  opts: { throwEvery?: boolean; detectOn?: (e: VigilEvent) => boolean; log?: string[]; consumes?: string[]; slowMs?: number } = {},
): AnalyzerPlugin {
  return {
    manifest: { ...base, id, kind: 'analyzer', platforms: ['any'], produces: [], consumes: opts.consumes ?? ['*'] },
    create(ctx: AnalyzerContext) {
      return {
        async start() {
          opts.log?.push(`start:${id}`);
        },
        async stop() {
          opts.log?.push(`stop:${id}`);
        },
        async onEvents(batch) {
          if (opts.throwEvery) throw new Error(`${id} fails on every batch`);
          if (opts.slowMs) await new Promise((r) => setTimeout(r, opts.slowMs));
          for (const e of batch) {
            sink.events.push(e);
            if (opts.detectOn?.(e)) {
              ctx.detect({ rule: { id: `${id}.rule`, title: 'test rule', source: 'native' }, severity: 'high', evidence: [e], actions: [{ action: 'kill' }] });
            }
          }
        },
      };
    },
  };
}

/** A responder that records detections and performs `kill` (records the request). */
export function recordingResponder(id: string, sink: Collected & { actions: string[]; results: string[] }, log?: string[]): ResponderPlugin {
  return {
    manifest: { ...base, id, kind: 'responder', platforms: ['any'], produces: [], consumes: ['detection'], actions: ['alert', 'kill'] },
    create(ctx: ResponderContext) {
      return {
        async start() {
          log?.push(`start:${id}`);
        },
        async stop() {
          log?.push(`stop:${id}`);
        },
        onDetections(batch) {
          sink.detections.push(...batch);
        },
        onActions(batch) {
          for (const r of batch) {
            sink.actions.push(r.action);
            ctx.result({ request_id: r.id, detection_id: r.detection.id, action: r.action, responder: id, status: 'done', time: Date.now() });
          }
        },
        onActionResults(batch) {
          for (const r of batch) sink.results.push(`${r.action}:${r.status}${r.reason ? `:${r.reason}` : ''}`);
        },
      };
    },
  };
}

export function* processStarts(n: number, t0 = 1_700_000_000_000): Iterable<EventDraft> {
  for (let i = 0; i < n; i++) {
    yield { type: 'process.start', time: t0 + i, proc: { pid: 1000 + (i % 5000), guid: `g-${i}`, image: `C:\\Windows\\System32\\p${i % 7}.exe`, cmdline: `p${i} --x` } };
  }
}
