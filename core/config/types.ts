/** The agent config after validation and defaults (see schema.ts and config/default.yaml). */
export interface VigilConfig {
  agent: {
    host_name: string;
    data_dir: string;
    log_level: string;
    max_queue_events: number;
    batch_events: number;
    start_timeout_seconds: number;
    stop_timeout_seconds: number;
    max_restarts: number;
    restart_window_seconds: number;
    restart_backoff_ms: number;
    max_errors_before_restart: number;
    flush_timeout_seconds: number;
    reload_timeout_seconds: number;
    watchdog_stall_seconds: number;
    watchdog_max_rss_mb: number;
    watchdog_max_heap_mb: number;
    watchdog_max_restarts: number;
    watchdog_restart_window_seconds: number;
    watchdog_backoff_ms: number;
    watchdog_disable_after: number;
  };
  response: {
    mode: 'monitor' | 'enforce';
    max_actions_per_minute: number;
    max_actions_per_minute_by_action: Record<string, number>;
    cooldown_seconds: number;
    max_event_age_seconds: number;
    low_privilege_only: boolean;
    protected_images: string[];
    protected_users: string[];
    sets: ResponseSet[];
    playbooks: Record<string, Playbook>;
  };
  status: {
    socket_path: string;
    metrics_file: string;
    metrics_interval_seconds: number;
    prometheus_port: number;
    prometheus_host: string;
  };
  health: {
    enabled: boolean;
    window_seconds: number;
    max_lost_per_window: number;
    max_errors_per_window: number;
    check_interval_seconds: number;
  };
  workers: {
    max_threads: number;
    max_queue_tasks: number;
    task_timeout_seconds: number;
  };
  plugins: Record<string, PluginEntry>;
}

export interface PluginEntry {
  enabled: boolean;
  path?: string;
  package?: string;
  config: Record<string, unknown>;
}

/** What a playbook condition reads from an earlier step's result; every field named must hold. */
export interface StepCondition {
  /** The step's outcome is one of these (`done`, `would_have`, `failed` …). */
  outcome?: string[];
  /** The step's status is one of these (`done`, `failed`, `skipped`). */
  status?: string[];
  /** The step's `details.verdict` (scans) is one of these. */
  verdict?: string[];
  /** true: the step reported findings (`details.findings` not empty); false: none. */
  findings?: boolean;
}

/** One step of a playbook: an action, run when its conditions on earlier steps hold. */
export interface PlaybookStep {
  id?: string;
  action: string;
  params?: Record<string, unknown>;
  timeout_seconds?: number;
  /** Run only when every named step's result meets its condition. */
  when?: Record<string, StepCondition>;
  /** Skip when every named step's result meets its condition. */
  unless?: Record<string, StepCondition>;
}

/** An ordered response plan (config `response.playbooks.<name>`). */
export interface Playbook {
  description?: string;
  step_timeout_seconds: number;
  /** The action run when a step times out or fails after an earlier step acted; '' for none. */
  on_timeout: string;
  steps: PlaybookStep[];
}

/** A response set (as in Aurora): detections it matches get its actions, and may be held to simulation. */
export interface ResponseSet {
  name: string;
  rules?: string[];
  min_severity?: 'informational' | 'low' | 'medium' | 'high' | 'critical';
  tags?: string[];
  actions: Array<{ action: string; params?: Record<string, unknown> }>;
  simulate: boolean;
}
