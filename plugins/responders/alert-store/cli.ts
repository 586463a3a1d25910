import { InvalidArgumentError, type Command } from 'commander';
import { resolve } from 'node:path';
import type { CliHost } from '../../../core/index.js';
import { ALERT_STORE_DEFAULTS } from './config.js';
import { AlertStoreError, errorKind } from './errors.js';
import { parseLimit, parseSeverity, parseSince, queryAlerts, type AlertQuery, type AlertRow } from './query.js';

/**
 * How `vigil alerts` finds the store when `--db` is not given: `defaultDbPath` first, then
 * the alert-store config block through `pluginConfig` (the `CliHost` the vigil CLI passes,
 * honouring `--config`), else `vigil-alerts.db` in the working directory.
 */
export interface AlertCommandOptions {
  defaultDbPath?: () => string;
  pluginConfig?: CliHost['pluginConfig'];
  /** Where output goes (default: process.stdout). */
  write?: (text: string) => void;
}

/** Exit code for a bad option value (commander uses 1 for its own errors by default). */
export const EXIT_BAD_OPTION = 2;
export const CLI_DEFAULT_LIMIT = 50;

/** Turns a value check into a commander argument parser that exits with code 2. */
function optionParser<T>(check: (value: string) => T): (value: string) => T {
  return (value) => {
    try {
      return check(value);
    } catch (err) {
      const e = new InvalidArgumentError(err instanceof Error ? err.message : String(err));
      e.exitCode = EXIT_BAD_OPTION;
      throw e;
    }
  };
}

interface AlertsCliOptions {
  db?: string;
  config?: string;
  since?: number;
  severity?: AlertQuery['severity'];
  rule?: string;
  limit?: number;
  json?: boolean;
}

/** The database the agent writes to, as configured (see AlertCommandOptions). */
function configuredDbPath(opts: AlertCommandOptions, configFile: string | undefined): string {
  if (opts.defaultDbPath) return resolve(opts.defaultDbPath());
  if (opts.pluginConfig) {
    const { config, resolvePath } = opts.pluginConfig('alert-store', configFile);
    const path = config['path'];
    return resolvePath(typeof path === 'string' && path !== '' ? path : ALERT_STORE_DEFAULTS.path);
  }
  return resolve(ALERT_STORE_DEFAULTS.path);
}

/**
 * Adds `vigil alerts`: list stored alerts as a table, or as a JSON array with --json.
 * Matches the core's PluginCliRegistrar (the CLI passes its CliHost as `opts`).
 */
export function registerAlertCommands(program: Command, opts: AlertCommandOptions = {}): void {
  program
    .command('alerts')
    .description('List alerts from the alert store, newest first, with evidence and action results in --json')
    .option('--db <file>', 'alert store database (default: the alert-store path from the config)')
    .option('-c, --config <file>', 'config file naming the alert store (default: $VIGIL_CONFIG or the embedded default)')
    .option('--since <time>', 'only alerts raised since an ISO time or a span back from now (30m, 1h, 7d)', optionParser((v) => parseSince(v)))
    .option('--severity <level>', 'minimum severity: informational, low, medium, high, critical', optionParser(parseSeverity))
    .option('--rule <text>', 'rule id, or part of the rule title')
    .option('--limit <n>', `most alerts to show (default ${CLI_DEFAULT_LIMIT})`, optionParser(parseLimit))
    .option('--json', 'print a JSON array, each alert with its evidence and action results')
    .action((options: AlertsCliOptions, command: Command) => {
      const write = opts.write ?? ((text: string) => void process.stdout.write(text));
      // Only bad option values are usage errors (commander, exit 2). A missing or unreadable
      // store is a runtime failure: it is thrown for the CLI to report (exit 1), and config
      // errors from the host keep their own codes.
      const query: AlertQuery = { limit: options.limit ?? CLI_DEFAULT_LIMIT };
      if (options.since !== undefined) query.since = options.since;
      if (options.severity !== undefined) query.severity = options.severity;
      if (options.rule !== undefined) query.rule = options.rule;
      const db = options.db !== undefined ? resolve(options.db) : configuredDbPath(opts, options.config);
      let rows: AlertRow[];
      try {
        rows = queryAlerts(db, query);
      } catch (err) {
        if (err instanceof AlertStoreError && err.code === 'VIGIL_ERR_ALERTS_BAD_OPTION') {
          command.error(`error: ${err.message}`, { exitCode: EXIT_BAD_OPTION, code: err.code });
        }
        if (err instanceof AlertStoreError) throw err;
        throw new AlertStoreError('VIGIL_ERR_ALERTS_OPEN', `cannot read alert store ${db}: ${errorKind(err)}`, { cause: err });
      }
      if (options.json === true) {
        write(`${JSON.stringify(rows, null, 2)}\n`);
        return;
      }
      write(formatAlertTable(rows, query.limit ?? CLI_DEFAULT_LIMIT));
    });
}

// Stored strings come from monitored processes; control characters would let them rewrite
// the operator's terminal.
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
const clean = (s: string): string => s.replace(UNSAFE, '?');

function fit(text: string, width: number): string {
  const t = clean(text);
  return t.length <= width ? t : `${t.slice(0, width - 1)}…`;
}

function shortTime(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, 'Z');
}

function baseName(path: string): string {
  const i = Math.max(path.lastIndexOf('\\'), path.lastIndexOf('/'));
  return i >= 0 ? path.slice(i + 1) : path;
}

/** The human table: one alert per line, widths fitted to the content within limits. */
export function formatAlertTable(rows: readonly AlertRow[], limit: number): string {
  if (rows.length === 0) return 'No alerts match.\n';
  const header = ['TIME', 'SEVERITY', 'RULE', 'ACTOR', 'HOST', 'ACTIONS', 'ID'];
  const max = [20, 13, 50, 32, 24, 30, 40];
  const cells = rows.map((r) => [
    shortTime(r.time),
    r.severity,
    r.rule_title,
    r.actor_image === null ? '-' : `${baseName(r.actor_image)}${r.actor_pid === null ? '' : ` (${r.actor_pid})`}`,
    r.host,
    r.action_results.length === 0 ? '-' : r.action_results.map((a) => `${a.action}:${a.status}`).join(','),
    r.id,
  ]);
  const widths = header.map((h, i) =>
    Math.min(max[i] ?? 40, Math.max(h.length, ...cells.map((c) => clean(c[i] ?? '').length))),
  );
  const line = (cols: readonly string[]): string =>
    cols
      .map((c, i) => fit(c, widths[i] ?? 10).padEnd(widths[i] ?? 10))
      .join('  ')
      .trimEnd();
  const out = [line(header), ...cells.map(line)];
  const more = rows.length >= limit ? ` (limit ${limit} reached; use --limit or filters to see more)` : '';
  out.push(`${rows.length} alert${rows.length === 1 ? '' : 's'}${more}`);
  return `${out.join('\n')}\n`;
}
