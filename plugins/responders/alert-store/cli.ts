import { resolve } from 'node:path';
import type { CommandHandler, CommandHandlers, CommandHost } from '../../../core/index.js';
import { ALERT_STORE_DEFAULTS } from './config.js';
import { AlertStoreError, errorKind } from './errors.js';
import { CLI_DEFAULT_LIMIT } from './manifest.js';
import { parseLimit, parseSeverity, parseSince, queryActionJournal, queryAlerts, type AlertQuery, type AlertRow, type JournalQuery, type JournalRow } from './query.js';

/** A declared option's value checked by `check`; a bad value is a usage error naming the option. */
function optionValue<T>(host: CommandHost, name: string, given: string | true | undefined, check: (value: string) => T): T | undefined {
  if (given === undefined) return undefined;
  const value = String(given);
  try {
    return check(value);
  } catch (err) {
    throw host.usageError(`option '--${name}' argument '${value}' is invalid. ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** The database the agent writes to: the alert-store path of the config, relative to its folder. */
function configuredDbPath(host: CommandHost): string {
  const { config, resolvePath } = host.pluginConfig();
  const path = config['path'];
  return resolvePath(typeof path === 'string' && path !== '' ? path : ALERT_STORE_DEFAULTS.path);
}

/**
 * `vigil alerts` (declared in manifest.ts): list stored alerts as a table, or as a JSON array
 * with --json. Only bad option values are usage errors (exit 2); a missing or unreadable
 * store is a runtime failure (exit 1); config errors keep their own codes.
 */
export const alertsCommand: CommandHandler = ({ options }, host) => {
  const query: AlertQuery = { limit: optionValue(host, 'limit', options['limit'], parseLimit) ?? CLI_DEFAULT_LIMIT };
  const since = optionValue(host, 'since', options['since'], (v) => parseSince(v));
  if (since !== undefined) query.since = since;
  const severity = optionValue(host, 'severity', options['severity'], parseSeverity);
  if (severity !== undefined) query.severity = severity;
  if (typeof options['rule'] === 'string') query.rule = options['rule'];
  const db = typeof options['db'] === 'string' ? resolve(options['db']) : configuredDbPath(host);
  const read = <T>(run: () => T): T => {
    try {
      return run();
    } catch (err) {
      if (err instanceof AlertStoreError && err.code === 'VIGIL_ERR_ALERTS_BAD_OPTION') throw host.usageError(err.message);
      if (err instanceof AlertStoreError) throw err;
      throw new AlertStoreError('VIGIL_ERR_ALERTS_OPEN', `cannot read alert store ${db}: ${errorKind(err)}`, { cause: err });
    }
  };
  const limit = query.limit ?? CLI_DEFAULT_LIMIT;
  if (options['actions'] === true) {
    if (query.severity !== undefined) throw host.usageError("option '--severity' does not apply to '--actions' (the journal is filtered by --since, --rule, --limit)");
    const jq: JournalQuery = { limit, ...(query.since !== undefined ? { since: query.since } : {}), ...(query.rule !== undefined ? { rule: query.rule } : {}) };
    const rows = read(() => queryActionJournal(db, jq));
    host.out(options['json'] === true ? `${JSON.stringify(rows, null, 2)}\n` : formatJournalTable(rows, limit));
    return;
  }
  const rows: AlertRow[] = read(() => queryAlerts(db, query));
  host.out(options['json'] === true ? `${JSON.stringify(rows, null, 2)}\n` : formatAlertTable(rows, limit));
};

/** The handlers of the commands manifest.ts declares. */
export const commands: CommandHandlers = { alerts: alertsCommand };

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

/**
 * A table with column widths fitted to the content within `max`, and a closing line that
 * counts the rows (`noun`, plural with an s) and says when the limit cut the list.
 */
function table(header: readonly string[], max: readonly number[], cells: readonly string[][], limit: number, noun: string): string {
  const widths = header.map((h, i) => Math.min(max[i] ?? 40, Math.max(h.length, ...cells.map((c) => clean(c[i] ?? '').length))));
  const line = (cols: readonly string[]): string =>
    cols
      .map((c, i) => fit(c, widths[i] ?? 10).padEnd(widths[i] ?? 10))
      .join('  ')
      .trimEnd();
  const out = [line(header), ...cells.map(line)];
  const more = cells.length >= limit ? ` (limit ${limit} reached; use --limit or filters to see more)` : '';
  out.push(`${cells.length} ${noun}${cells.length === 1 ? '' : 's'}${more}`);
  return `${out.join('\n')}\n`;
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
  return table(header, max, cells, limit, 'alert');
}

/** The action journal as a table, newest first. */
export function formatJournalTable(rows: readonly JournalRow[], limit: number): string {
  if (rows.length === 0) return 'No journaled actions match.\n';
  const header = ['TIME', 'MODE', 'ACTION', 'OUTCOME', 'TARGET', 'RULE', 'BY', 'REASON'];
  const max = [20, 7, 28, 17, 32, 40, 16, 80];
  const cells = rows.map((r) => [
    shortTime(r.time),
    r.mode ?? '-',
    r.playbook === null ? r.action : r.step === null ? `${r.playbook} (plan)` : `${r.playbook}/${r.step}: ${r.action}`,
    r.outcome,
    r.target_pid === null ? (r.target_guid ?? '-') : `${r.target_image === null ? '' : `${baseName(r.target_image)} `}(${r.target_pid})`,
    r.rule_id ?? '-',
    r.analyzer ?? r.responder,
    r.reason ?? '-',
  ]);
  return table(header, max, cells, limit, 'journaled action');
}
