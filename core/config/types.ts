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
    dry_run: boolean;
    max_actions_per_minute: number;
    cooldown_seconds: number;
    protected_images: string[];
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
