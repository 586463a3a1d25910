/** Rule loading for the analyzer and the tools: native rule files and Sigma correlations, compiled. */
import { isAbsolute, resolve } from 'node:path';
import { compileCorrelationDocs, loadCorrelationFiles, type CorrelationIssue } from './loader.js';
import type { CompiledCorrelation } from './model.js';
import { loadSigmaCorrelations, type SigmaLoadStats } from './sigma.js';

/** Base for relative paths outside a plugin context (tools): VIGIL_PROJECT_ROOT, else the working directory. */
function projectRoot(): string {
  return process.env['VIGIL_PROJECT_ROOT'] ?? process.cwd();
}

function rooted(p: string): string {
  return isAbsolute(p) ? p : resolve(projectRoot(), p);
}

export interface CorrelationLoad {
  compiled: CompiledCorrelation[];
  issues: CorrelationIssue[];
  native: number;
  sigma: SigmaLoadStats | null;
}

/** Load native rule files and Sigma correlations (paths relative to the project root). */
export async function loadCorrelations(rulePaths: readonly string[], sigmaPaths: readonly string[]): Promise<CorrelationLoad> {
  const native = await loadCorrelationFiles(rulePaths.map(rooted));
  const issues = [...native.issues];
  let sigma: SigmaLoadStats | null = null;
  const compiled = [...native.compiled];
  if (sigmaPaths.length > 0) {
    const s = await loadSigmaCorrelations(sigmaPaths.map(rooted));
    sigma = s.stats;
    issues.push(...s.issues);
    for (const sk of s.skipped) issues.push({ file: sk.file, ...(sk.id !== undefined ? { ruleId: sk.id } : {}), path: '', message: `Sigma correlation skipped: ${sk.reason}` });
    const conv = compileCorrelationDocs(s.docs, native.defs);
    issues.push(...conv.issues);
    const ids = new Set(compiled.map((c) => c.doc.id));
    for (const c of conv.compiled) {
      if (ids.has(c.doc.id)) issues.push({ file: '', ruleId: c.doc.id, path: '', message: `duplicate rule id "${c.doc.id}" (Sigma correlation skipped)` });
      else compiled.push(c);
    }
  }
  return { compiled, issues, native: native.compiled.length, sigma };
}
