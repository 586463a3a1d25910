/**
 * Everything this plugin uses from the scan rooms it builds on, in one place: the YARA
 * engines (lib/yara), the Linux region scanner (linux/) and the PE-sieve / HollowsHunter
 * runner (windows/). The worker task module and `vigil scan` both reach them through here.
 */
export {
  compileRules,
  engineAvailable,
  chooseEngines,
  checkRuleSet,
  readYaraSources,
  toScanMatches,
} from '../../../lib/yara/index.js';
export type { YaraEngineName, YaraRules, YaraSource, YaraRuleMatch } from '../../../lib/yara/index.js';
export { scanLinuxProcess, REASON_EXITED, REASON_IDENTITY } from './linux/index.js';
export { runPeSieve, runHollowsHunter } from './windows/runner.js';
