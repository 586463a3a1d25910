import type { DetectionDraft } from '../events/detection.js';
import type { VigilConfig } from '../config/types.js';
import type { PluginCounters } from '../telemetry/counters.js';

/** What the monitor reads of a plugin (a PluginHost). */
export interface WatchedPlugin {
  readonly id: string;
  readonly counters: PluginCounters;
  readonly state: string;
  readonly manifest: { readonly kind: string };
}

interface Sample {
  time: number;
  lost: number;
  errors: number;
}

/**
 * Watches every plugin's lost items and errors over a sliding window and raises a health
 * detection ("telemetry degraded: sensor X lost N events in 60 s") past the thresholds,
 * at most once per window per plugin and condition.
 */
export class HealthMonitor {
  private timer: NodeJS.Timeout | undefined;
  private readonly samples = new Map<string, Sample[]>();
  private readonly lastRaised = new Map<string, number>();

  constructor(
    private readonly config: VigilConfig['health'],
    private readonly hosts: readonly WatchedPlugin[],
    private readonly raise: (d: DetectionDraft) => void,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.check(Date.now()), this.config.check_interval_seconds * 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One check (exposed for tests). */
  check(now: number): void {
    const windowMs = this.config.window_seconds * 1000;
    for (const h of this.hosts) {
      // Refused content (a bad rule file) is a load error, reported at load in the log and
      // in `vigil status`; it is no sign of telemetry degrading, so it raises nothing here.
      const cur: Sample = { time: now, lost: h.counters.lostTotal, errors: h.counters.errorTotal - h.counters.errorsAt('load') };
      const list = this.samples.get(h.id) ?? [];
      list.push(cur);
      while (list.length > 1 && list[0]!.time < now - windowMs) list.shift();
      this.samples.set(h.id, list);
      const base = list[0]!;
      const lost = cur.lost - (list.length > 1 ? base.lost : 0);
      const errors = cur.errors - (list.length > 1 ? base.errors : 0);
      if (lost > this.config.max_lost_per_window) this.maybeRaise(h, 'lost', lost, now, windowMs);
      if (errors > this.config.max_errors_per_window) this.maybeRaise(h, 'errors', errors, now, windowMs);
      if (h.state === 'detached') this.maybeRaise(h, 'detached', 1, now, Number.MAX_SAFE_INTEGER);
    }
  }

  private maybeRaise(h: WatchedPlugin, what: 'lost' | 'errors' | 'detached', n: number, now: number, windowMs: number): void {
    const key = `${h.id}:${what}`;
    const last = this.lastRaised.get(key);
    if (last !== undefined && now - last < windowMs) return;
    this.lastRaised.set(key, now);
    const secs = this.config.window_seconds;
    const summary =
      what === 'lost'
        ? `telemetry degraded: ${h.manifest.kind} ${h.id} lost ${n} items in ${secs} s`
        : what === 'errors'
          ? `telemetry degraded: ${h.manifest.kind} ${h.id} had ${n} errors in ${secs} s`
          : `telemetry degraded: ${h.manifest.kind} ${h.id} was detached after repeated failures`;
    this.raise({
      rule: { id: `vigil.health.${what}`, title: 'Telemetry degraded', source: 'health', version: '1' },
      severity: what === 'detached' ? 'high' : 'medium',
      tags: ['vigil.health'],
      evidence: [],
      summary,
      actions: [],
      matched: [{ path: `/health/${what}`, op: 'gt', field: h.id, value: n }],
    });
  }
}

/** A health detection of the core (rule `vigil.health.<what>`). */
export function healthDraft(what: string, severity: 'medium' | 'high', summary: string, field: string, value: number): DetectionDraft {
  return {
    rule: { id: `vigil.health.${what}`, title: 'Agent health', source: 'health', version: '1' },
    severity,
    tags: ['vigil.health'],
    evidence: [],
    summary,
    actions: [],
    matched: [{ path: `/health/${what}`, op: 'gt', field, value }],
  };
}
