import type { AgentStatus } from '../core/kernel/kernel.js';

/** A plain text table with padded columns. */
export function table(head: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cells = [head, ...rows].map((r) => r.map((c) => String(c)));
  const widths = head.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(cells[0]!), line(widths.map((w) => '-'.repeat(w))), ...cells.slice(1).map(line)].join('\n') + '\n';
}

/** `vigil status` for humans. */
export function formatStatus(s: AgentStatus): string {
  const out: string[] = [];
  out.push(`vigil agent pid ${s.pid} on ${s.host}, up ${s.uptime_seconds} s, config ${s.config_file}`);
  out.push(`events ${s.events.total}, detections ${s.detections.total}, bus backlog ${s.bus_backlog}, processes ${s.process_table.size}`);
  out.push('');
  out.push(
    table(
      ['plugin', 'kind', 'state', 'restarts', 'received', 'emitted', 'errors', 'lost', 'discarded (intended)'],
      s.plugins.map((p) => {
        const errors = Object.values(p.counters.errors).reduce((a, b) => a + b, 0);
        const lost = Object.values(p.counters.discarded).filter((d) => !d.intended).reduce((a, d) => a + d.count, 0);
        const intended = Object.values(p.counters.discarded).filter((d) => d.intended).reduce((a, d) => a + d.count, 0);
        return [p.id, p.kind, p.state, p.restarts, p.counters.received, p.counters.emitted, errors, lost, intended];
      }),
    ),
  );
  const problems = s.plugins.filter(
    (p) => p.lastError || Object.keys(p.counters.discarded).length > 0 || Object.keys(p.counters.errors).length > 0,
  );
  for (const p of problems) {
    if (p.lastError) out.push(`${p.id}: last error: ${p.lastError.split('\n')[0]}`);
    for (const [reason, d] of Object.entries(p.counters.discarded)) out.push(`${p.id}: discarded ${d.count} (${reason}${d.intended ? ', intended' : ''})`);
    for (const [k, n] of Object.entries(p.counters.errors)) out.push(`${p.id}: errors ${k} = ${n}`);
    for (const f of p.counters.file_errors) out.push(`${p.id}: ${f.stage} error in ${f.file}: ${f.reason}`);
  }
  // A plugin's own counters, grouped by the prefix before ':' (ebpf: `events:<type>`,
  // `records:<kind>`, `program:<name>`), so that what a sensor saw by kind is readable.
  for (const p of s.plugins) {
    const groups = new Map<string, [string, number][]>();
    for (const [k, n] of Object.entries(p.counters.custom)) {
      const at = k.indexOf(':');
      const group = at < 0 ? '' : k.slice(0, at);
      const list = groups.get(group) ?? [];
      list.push([at < 0 ? k : k.slice(at + 1), n]);
      groups.set(group, list);
    }
    for (const [group, list] of [...groups].sort(([a], [b]) => a.localeCompare(b))) {
      // Gauges that only say "present" (program:<name> = 1) print as names.
      const text = list.every(([, n]) => n === 1) && group !== '' ? list.map(([k]) => k).join(', ') : list.map(([k, n]) => `${k}=${n}`).join(' ');
      out.push(`${p.id}: ${group === '' ? 'counters' : group}: ${text}`);
    }
  }
  if (s.skipped.length > 0) out.push('', ...s.skipped.map((x) => `skipped ${x.id}: ${x.reason}`));
  if (s.watchdog) {
    const w = s.watchdog;
    const who = w.plugin ? ` (held by ${w.plugin}${w.method ? `.${w.method}` : ''})` : '';
    out.push('', `watchdog: ${w.restarts} restart(s) of the agent process; last: ${w.reason}${who}: ${w.detail}`);
  }
  return out.join('\n') + '\n';
}
