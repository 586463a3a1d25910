import type { ProcessInfo, VigilEvent, HostInfo } from './event.js';

export const SEVERITIES = ['informational', 'low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** Where the rule behind a detection came from. */
export type RuleSource = 'native' | 'sigma' | 'correlation' | 'health';

export interface RuleRef {
  /** Native rule id, or the Sigma rule's UUID. */
  id: string;
  title: string;
  version?: string;
  source: RuleSource;
  description?: string;
}

/** One predicate of a rule that contributed to the verdict. */
export interface MatchedPredicate {
  /** JSON path of the predicate inside the rule (e.g. `/match/all/0`). */
  path: string;
  field?: string;
  op: string;
  /** The event value the predicate saw (stringified and truncated when large). */
  value?: unknown;
}

/** An action a rule asks for; the response policy turns it into an ActionRequest. */
export interface RequestedAction {
  action: string;
  /** Action parameters from the rule, validated by the responder that performs it. */
  params?: Readonly<Record<string, unknown>>;
}

/** What an analyzer hands to its detection sink; the core stamps the rest. */
export interface DetectionDraft {
  rule: RuleRef;
  severity: Severity;
  /** ATT&CK and other tags, e.g. `attack.t1003.001`, `attack.credential_access`. */
  tags?: readonly string[];
  /** The events that make the case, oldest first. */
  evidence: readonly VigilEvent[];
  /** The process the detection is about (defaults to the last evidence event's `proc`). */
  actor?: ProcessInfo;
  actions?: readonly RequestedAction[];
  matched?: readonly MatchedPredicate[];
  /** Short human summary; defaults to the rule title. */
  summary?: string;
}

/** A stamped, frozen detection as responders and outputs see it. */
export interface Detection extends DetectionDraft {
  readonly id: string;
  /** Event time of the newest evidence (or wall time when none), ms since the epoch. */
  readonly time: number;
  /** Wall time the detection was raised. */
  readonly raised: number;
  /** Plugin id of the analyzer that raised it. */
  readonly analyzer: string;
  readonly host: HostInfo;
  readonly tags: readonly string[];
  readonly actions: readonly RequestedAction[];
}

/** What the response policy asks a responder to do. */
export interface ActionRequest {
  readonly id: string;
  readonly action: string;
  readonly params: Readonly<Record<string, unknown>>;
  readonly detection: Detection;
  /**
   * Process the action is about (the detection's actor). The policy sends a request only
   * with an identity: `pid` + `start_time`, or `guid`.
   */
  readonly target?: ProcessInfo;
  /**
   * Monitor mode: the responder must not act, only say what it would have done. Read-only
   * actions (manifest `readOnlyActions`) are sent with `false` in monitor mode too.
   */
  readonly dry_run: boolean;
  /** The playbook and step this request is part of (plugin API 2.2.0). */
  readonly playbook?: { readonly name: string; readonly step: string };
}

export type ActionStatus = 'done' | 'failed' | 'skipped';

/** What happened to an ActionRequest. */
export interface ActionResult {
  readonly request_id: string;
  readonly detection_id: string;
  readonly action: string;
  readonly responder: string;
  readonly status: ActionStatus;
  /** Why it failed or was skipped (dry-run, protected process, rate limit, cooldown …). */
  readonly reason?: string;
  readonly details?: Readonly<Record<string, unknown>>;
  readonly time: number;
  /**
   * The journal's stable outcome code: `done`, `would_have` (monitor), `not_found`,
   * `identity_mismatch`, `protected`, `no_identity`, `stale_event`, `replayed`,
   * `rate_limit`, `cooldown`, `no_responder`, `failed`. The core fills it from `status`
   * when a responder leaves it out.
   */
  readonly outcome?: string;
  /** The mode the decision was taken in; the core fills it. */
  readonly mode?: 'monitor' | 'enforce';
  /** Rule and analyzer behind the request (who asked); the core fills them. */
  readonly rule_id?: string;
  readonly analyzer?: string;
  /** The target's identity as the request named it; the core fills it. */
  readonly target?: Readonly<Pick<ProcessInfo, 'pid' | 'start_time' | 'guid' | 'image'>>;
  /** The playbook and step the request was part of (plugin API 2.2.0); the core fills them. */
  readonly playbook?: string;
  readonly step?: string;
}
