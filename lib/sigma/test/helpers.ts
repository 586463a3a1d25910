import { parse } from 'yaml';
import type { Condition } from '../../rules/index.js';
import { convertSigmaRule, type SigmaOptions, type SigmaRuleDoc } from '../index.js';

/** A minimal process_creation rule around a detection section written in YAML. */
export function ruleYaml(detection: string, logsource = 'category: process_creation\n  product: windows'): string {
  return `title: Test rule
id: 11111111-2222-3333-4444-555555555555
status: test
level: high
logsource:
  ${logsource}
detection:
${detection
  .trim()
  .split('\n')
  .map((l) => '  ' + l)
  .join('\n')}
`;
}

export function convertYaml(src: string, opts: SigmaOptions = {}): SigmaRuleDoc | { skipped: string } {
  return convertSigmaRule(parse(src) as unknown, 'inline.yml', opts);
}

/** Convert, failing the test with the skip reason when the rule did not convert. */
export function mustConvert(src: string, opts: SigmaOptions = {}): SigmaRuleDoc {
  const r = convertYaml(src, opts);
  if ('skipped' in r) throw new Error(`expected the rule to convert, got: ${r.skipped}`);
  return r;
}

export function matchOf(detection: string, logsource?: string, opts: SigmaOptions = {}): Condition {
  return mustConvert(ruleYaml(detection, logsource), opts).match;
}

export function mustSkip(src: string, opts: SigmaOptions = {}): string {
  const r = convertYaml(src, opts);
  if (!('skipped' in r)) throw new Error(`expected a skip, got a rule: ${JSON.stringify(r.match)}`);
  return r.skipped;
}
