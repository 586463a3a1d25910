import type { VigilConfig } from '../../config/types.js';

/**
 * The response section the response-policy and playbook tests start from: enforce, the
 * default rate and cooldown, no age limit, nothing protected beyond the agent's lineage, no
 * sets and no playbooks; `over` replaces what a test is about.
 */
export function responseConfig(over: Partial<VigilConfig['response']> = {}): VigilConfig['response'] {
  return {
    mode: 'enforce',
    max_actions_per_minute: 60,
    max_actions_per_minute_by_action: {},
    cooldown_seconds: 300,
    max_event_age_seconds: 0,
    low_privilege_only: false,
    protected_images: [],
    protected_users: [],
    sets: [],
    playbooks: {},
    ...over,
  };
}
