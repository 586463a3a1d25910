/** Loads native (and imported Sigma) rules into one compiled RuleSet, swapped atomically. */
import { resolve } from 'node:path';
import { compileRuleSet, loadRuleFiles, type LoadIssue, type NamedLists, type NamedMacros, type RuleDoc, type RuleSet } from '../../../lib/rules/index.js';
import { loadSigmaRules } from '../../../lib/sigma/index.js';
import { isSigmaLoadError } from '../../../lib/sigma/skip-kinds.js';

export interface RuleEngineConfig {
  rule_paths: string[];
  sigma_paths: string[];
  sigma_placeholders: Record<string, string[]>;
  watch: boolean;
  max_regex_input_chars: number;
}

export interface SigmaSkip {
  file: string;
  id?: string;
  reason: string;
}

export interface BuiltSet {
  set: RuleSet;
  issues: LoadIssue[];
  /** Sigma rules that are valid but use what Vigil does not support (intended skips). */
  sigmaSkipped: SigmaSkip[];
  /** Sigma files or rules that are broken (load errors). */
  sigmaErrors: SigmaSkip[];
  files: string[];
}

/** Relative paths are resolved with `resolver` (default: against the working directory). */
export function resolvePaths(paths: readonly string[], resolver: (p: string) => string = (p) => resolve(process.cwd(), p)): string[] {
  return paths.map(resolver);
}

/** Load and compile the whole configured set; nothing is swapped here. */
export async function buildRuleSet(cfg: RuleEngineConfig, resolver?: (p: string) => string): Promise<BuiltSet> {
  const loaded = await loadRuleFiles(resolvePaths(cfg.rule_paths, resolver), { maxRegexInputChars: cfg.max_regex_input_chars });
  const rules: RuleDoc[] = [...loaded.rules];
  const fileOf = new Map(loaded.fileOf);
  const issues: LoadIssue[] = [...loaded.issues];
  let sigmaSkipped: SigmaSkip[] = [];
  let sigmaErrors: SigmaSkip[] = [];
  if (cfg.sigma_paths.length > 0) {
    const sigma = await loadSigmaRules(resolvePaths(cfg.sigma_paths, resolver), { placeholders: cfg.sigma_placeholders });
    sigmaSkipped = sigma.skipped.filter((s) => !isSigmaLoadError(s.reason));
    sigmaErrors = sigma.skipped.filter((s) => isSigmaLoadError(s.reason));
    for (const r of sigma.rules) rules.push(r.origin === undefined ? { ...r, origin: 'sigma' } : r);
  }
  const lists: NamedLists = loaded.lists;
  const macros: NamedMacros = loaded.macros;
  const set = compileRuleSet(rules, lists, macros, { fileOf, maxRegexInputChars: cfg.max_regex_input_chars });
  issues.push(...set.issues);
  return { set, issues, sigmaSkipped, sigmaErrors, files: loaded.files };
}
