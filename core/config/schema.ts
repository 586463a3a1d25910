import type { JsonSchema } from '../plugin/types.js';

/** The agent's top-level config schema. Plugin blocks are validated by each plugin's own schema. */
export const CONFIG_SCHEMA: JsonSchema = {
  $id: 'https://vigil.dev/schema/config.json',
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    agent: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        host_name: { type: 'string', default: '', description: 'Host name stamped on events; empty means the OS host name.' },
        data_dir: { type: 'string', default: 'var', description: 'Folder for state (status socket, plugin data).' },
        log_level: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info' },
        max_queue_events: { type: 'integer', minimum: 16, default: 65536 },
        batch_events: { type: 'integer', minimum: 1, maximum: 65536, default: 256 },
        start_timeout_seconds: { type: 'number', exclusiveMinimum: 0, default: 15 },
        stop_timeout_seconds: { type: 'number', exclusiveMinimum: 0, default: 5 },
        max_restarts: { type: 'integer', minimum: 0, default: 3 },
        restart_window_seconds: { type: 'number', minimum: 1, default: 600 },
        restart_backoff_ms: { type: 'integer', minimum: 0, default: 500 },
        max_errors_before_restart: { type: 'integer', minimum: 1, default: 1000 },
        flush_timeout_seconds: { type: 'number', exclusiveMinimum: 0, default: 10, description: "A responder's flush() at stop." },
        reload_timeout_seconds: { type: 'number', exclusiveMinimum: 0, default: 60, description: "An analyzer's reload() on SIGHUP." },
        watchdog_stall_seconds: { type: 'number', exclusiveMinimum: 0, default: 30, description: 'No heartbeat from the agent process for this long: the watchdog restarts it.' },
        watchdog_max_rss_mb: { type: 'integer', minimum: 0, default: 0, description: 'Resident size of the agent process past which the watchdog restarts it; 0: off.' },
        watchdog_max_heap_mb: { type: 'integer', minimum: 0, default: 1024, description: "V8 old-space limit of the agent process (--max-old-space-size); 0: Node's default." },
        watchdog_max_restarts: { type: 'integer', minimum: 0, default: 5, description: 'Restarts within watchdog_restart_window_seconds; one more and the watchdog exits non-zero.' },
        watchdog_restart_window_seconds: { type: 'number', minimum: 1, default: 600 },
        watchdog_backoff_ms: { type: 'integer', minimum: 0, default: 1000, description: 'First restart delay; doubles with each restart in the window.' },
        watchdog_disable_after: { type: 'integer', minimum: 1, default: 2, description: 'A plugin named as the culprit this many times is disabled on the next start.' },
      },
    },
    response: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        dry_run: { type: 'boolean', default: false },
        max_actions_per_minute: { type: 'integer', minimum: 1, default: 60 },
        cooldown_seconds: { type: 'number', minimum: 0, default: 300 },
        protected_images: { type: 'array', items: { type: 'string' }, default: [] },
      },
    },
    status: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        socket_path: { type: 'string', default: '', description: 'Empty: <data_dir>/vigil.sock.' },
        metrics_file: { type: 'string', default: '', description: 'Write counters as JSON here every interval; empty: off.' },
        metrics_interval_seconds: { type: 'number', exclusiveMinimum: 0, default: 10 },
        prometheus_port: { type: 'integer', minimum: 0, maximum: 65535, default: 0, description: '0: off.' },
        prometheus_host: { enum: ['127.0.0.1', '::1', 'localhost'], default: '127.0.0.1' },
      },
    },
    health: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enabled: { type: 'boolean', default: true },
        window_seconds: { type: 'number', exclusiveMinimum: 0, default: 60 },
        max_lost_per_window: { type: 'integer', minimum: 0, default: 0 },
        max_errors_per_window: { type: 'integer', minimum: 0, default: 10 },
        check_interval_seconds: { type: 'number', exclusiveMinimum: 0, default: 5 },
      },
    },
    workers: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        max_threads: { type: 'integer', minimum: 1, maximum: 64, default: 2 },
        max_queue_tasks: { type: 'integer', minimum: 1, default: 256 },
        task_timeout_seconds: { type: 'number', exclusiveMinimum: 0, default: 120 },
      },
    },
    plugins: {
      type: 'object',
      default: {},
      propertyNames: { pattern: '^[a-z0-9][a-z0-9-]*$' },
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        properties: {
          enabled: { type: 'boolean', default: true },
          path: { type: 'string', description: 'Folder of a third-party plugin (its index.js / dist/index.js).' },
          package: { type: 'string', description: 'npm package name of a third-party plugin.' },
          config: { type: 'object', default: {} },
        },
      },
    },
  },
};
