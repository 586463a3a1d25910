import { randomUUID } from 'node:crypto';
import type { Bus } from '../bus/index.js';
import type { ActionRequest, ActionResult, Detection } from '../events/detection.js';
import type { DiscardReason, PluginCounters } from '../telemetry/counters.js';
import type { VigilConfig } from '../config/types.js';

/** Why an action is skipped: the reason journaled in the ActionResult, and the one counted. */
const SKIPS = {
  noResponder: { reason: 'no responder for action', counted: 'action_no_responder_for_action' },
  dryRun: { reason: 'dry-run', counted: 'action_dry_run' },
  protectedProcess: { reason: 'protected process', counted: 'action_protected_process' },
  rateLimit: { reason: 'rate limit', counted: 'action_rate_limit' },
  cooldown: { reason: 'cooldown', counted: 'action_cooldown' },
} as const satisfies Record<string, { reason: string; counted: DiscardReason }>;

type Skip = (typeof SKIPS)[keyof typeof SKIPS];

/**
 * Turns the actions a detection requests into ActionRequests for the responders that
 * perform them — or into a skipped ActionResult with the reason: dry-run, protected
 * process, rate limit, cooldown, or no responder for the action. `alert` is implicit
 * (outputs consume every detection).
 */
export class ResponsePolicy {
  private readonly recent: number[] = [];
  private readonly lastByKey = new Map<string, number>();

  constructor(
    private readonly config: VigilConfig['response'],
    private readonly bus: Bus,
    private readonly counters: PluginCounters,
    private readonly report: (r: ActionResult) => void,
    /** Milliseconds, as Date.now(); rate limits and cooldowns are measured on it. */
    private readonly now: () => number = Date.now,
  ) {}

  handle(det: Detection): void {
    for (const a of det.actions) {
      if (a.action === 'alert') continue;
      const request: ActionRequest = {
        id: randomUUID(),
        action: a.action,
        params: a.params ?? {},
        detection: det,
        ...(det.actor ? { target: det.actor } : {}),
        dry_run: this.config.dry_run,
      };
      const skip = this.refuse(request);
      if (skip) {
        this.counters.discard(skip.counted, 1, true);
        this.report({
          request_id: request.id,
          detection_id: det.id,
          action: request.action,
          responder: 'core',
          status: 'skipped',
          reason: skip.reason,
          time: this.now(),
        });
        continue;
      }
      this.bus.publishAction(request);
    }
  }

  private refuse(r: ActionRequest): Skip | undefined {
    if (!this.bus.hasActionHandler(r.action)) return SKIPS.noResponder;
    if (r.dry_run) return SKIPS.dryRun;
    const image = r.target?.image?.toLowerCase();
    if (image && this.config.protected_images.some((p) => image.endsWith(p.toLowerCase()))) return SKIPS.protectedProcess;
    const now = this.now();
    while (this.recent.length > 0 && this.recent[0]! < now - 60_000) this.recent.shift();
    if (this.recent.length >= this.config.max_actions_per_minute) return SKIPS.rateLimit;
    const key = `${r.action}|${r.target?.guid ?? r.target?.pid ?? '-'}`;
    const last = this.lastByKey.get(key);
    if (last !== undefined && now - last < this.config.cooldown_seconds * 1000) return SKIPS.cooldown;
    this.lastByKey.set(key, now);
    if (this.lastByKey.size > 10_000) {
      for (const [k, t] of this.lastByKey) if (now - t >= this.config.cooldown_seconds * 1000) this.lastByKey.delete(k);
    }
    this.recent.push(now);
    return undefined;
  }
}
