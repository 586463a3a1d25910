/** The subset of the status snapshot rendered as Prometheus text. */
interface StatusLike {
  events: { total: number; by_type: Record<string, number> };
  detections: { total: number; by_severity: Record<string, number> };
  bus_backlog: number;
  plugins: Array<{
    id: string;
    kind: string;
    state: string;
    restarts: number;
    counters: {
      received: number;
      emitted: number;
      errors: Record<string, number>;
      discarded: Record<string, { count: number; intended: boolean }>;
    };
  }>;
}

const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/** Prometheus text exposition format (0.0.4) of the agent's counters. */
export function prometheusText(s: StatusLike): string {
  const out: string[] = [];
  const metric = (name: string, type: string, help: string, rows: Array<[Record<string, string>, number]>) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of rows) {
      const l = Object.entries(labels).map(([k, v]) => `${k}="${esc(v)}"`).join(',');
      out.push(`${name}${l ? `{${l}}` : ''} ${value}`);
    }
  };
  metric('vigil_events_total', 'counter', 'Events through the bus by type.', Object.entries(s.events.by_type).map(([t, n]) => [{ type: t }, n]));
  metric('vigil_detections_total', 'counter', 'Detections by severity.', Object.entries(s.detections.by_severity).map(([t, n]) => [{ severity: t }, n]));
  metric('vigil_bus_backlog', 'gauge', 'Items waiting in subscriber queues.', [[{}, s.bus_backlog]]);
  metric('vigil_plugin_received_total', 'counter', 'Items received by plugin.', s.plugins.map((p) => [{ plugin: p.id, kind: p.kind }, p.counters.received]));
  metric('vigil_plugin_emitted_total', 'counter', 'Items emitted by plugin.', s.plugins.map((p) => [{ plugin: p.id, kind: p.kind }, p.counters.emitted]));
  metric('vigil_plugin_restarts_total', 'counter', 'Plugin restarts.', s.plugins.map((p) => [{ plugin: p.id }, p.restarts]));
  metric('vigil_plugin_up', 'gauge', '1 when the plugin is running.', s.plugins.map((p) => [{ plugin: p.id, state: p.state }, p.state === 'running' ? 1 : 0]));
  metric(
    'vigil_plugin_errors_total',
    'counter',
    'Plugin errors by stage and kind.',
    s.plugins.flatMap((p) =>
      Object.entries(p.counters.errors).map(([k, n]): [Record<string, string>, number] => {
        const [stage = '', kind = ''] = k.split(/:(.*)/s);
        return [{ plugin: p.id, stage, kind }, n];
      }),
    ),
  );
  metric(
    'vigil_plugin_discarded_total',
    'counter',
    'Items discarded by plugin and reason.',
    s.plugins.flatMap((p) =>
      Object.entries(p.counters.discarded).map(([reason, v]): [Record<string, string>, number] => [
        { plugin: p.id, reason, intended: String(v.intended) },
        v.count,
      ]),
    ),
  );
  return out.join('\n') + '\n';
}
