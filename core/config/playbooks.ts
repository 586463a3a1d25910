import type { ConfigFinding } from './validate.js';
import type { VigilConfig } from './types.js';

/**
 * What the schema cannot say about `response.playbooks` and the sets that name them: step
 * ids are unique, conditions read only earlier steps, a plan does not nest plans, and a
 * response set names playbooks that exist.
 */
export function playbookFindings(response: VigilConfig['response']): ConfigFinding[] {
  const findings: ConfigFinding[] = [];
  const playbooks = response.playbooks ?? {};
  for (const [name, pb] of Object.entries(playbooks)) {
    const at = `/response/playbooks/${name}`;
    const earlier = new Set<string>();
    pb.steps.forEach((step, i) => {
      const here = `${at}/steps/${i}`;
      if (step.action === 'playbook' || step.action === 'alert') {
        findings.push({ path: `${here}/action`, expected: 'an action a responder performs (a plan does not nest plans; alert is implicit)', found: JSON.stringify(step.action) });
      }
      for (const key of ['when', 'unless'] as const) {
        for (const ref of Object.keys(step[key] ?? {})) {
          if (!earlier.has(ref)) findings.push({ path: `${here}/${key}/${ref}`, expected: `the id of an earlier step (${[...earlier].join(', ') || 'none before this one'})`, found: JSON.stringify(ref) });
        }
      }
      const id = step.id ?? `step${i + 1}`;
      if (earlier.has(id)) findings.push({ path: `${here}/id`, expected: 'an id no other step of the playbook has', found: JSON.stringify(id) });
      earlier.add(id);
    });
    if (pb.on_timeout === 'playbook' || pb.on_timeout === 'alert') findings.push({ path: `${at}/on_timeout`, expected: "an action a responder performs, or ''", found: JSON.stringify(pb.on_timeout) });
  }
  (response.sets ?? []).forEach((set, i) => {
    set.actions.forEach((a, j) => {
      if (a.action !== 'playbook') return;
      const name = a.params?.['name'];
      if (typeof name !== 'string' || !Object.prototype.hasOwnProperty.call(playbooks, name)) {
        findings.push({ path: `/response/sets/${i}/actions/${j}/params/name`, expected: `a playbook of response.playbooks (${Object.keys(playbooks).join(', ') || 'none defined'})`, found: JSON.stringify(name ?? null) });
      }
    });
  });
  return findings;
}
