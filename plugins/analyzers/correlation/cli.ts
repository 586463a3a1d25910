import type { Command } from 'commander';
import { resolve } from 'node:path';
import { lintCorrelationRules, testCorrelationRules } from './fixtures.js';
import { loadSharedCompiler } from './index.js';

const out = (s: string) => void process.stdout.write(`${s}\n`);

/** `vigil correlation lint|test [paths...]`: the rule tooling for sequence and count rules. */
export function registerCorrelationCommands(program: Command): void {
  const cmd = program.command('correlation').description('correlation rule tooling (sequence and count rules)');
  cmd
    .command('lint')
    .description('check correlation rule files: schema, steps, join keys, references; exit 2 on errors')
    .argument('[paths...]', 'files or folders', ['rules/correlation'])
    .option('--json', 'JSON output')
    .action(async (paths: string[], opts: { json?: boolean }) => {
      const shared = await loadSharedCompiler();
      const rep = lintCorrelationRules(paths.map((p) => resolve(p)), shared.compiler ? { delegate: shared.compiler } : {});
      if (opts.json) out(JSON.stringify(rep, null, 2));
      else {
        for (const f of rep.findings) out(`${f.severity}: ${f.file}${f.ruleId ? `: rule ${f.ruleId}` : ''}: ${f.path || '/'}: [${f.code}] ${f.message}`);
        out(`${rep.files} file(s), ${rep.rules} rule(s): ${rep.errors} error(s), ${rep.warnings} warning(s)`);
      }
      if (rep.errors > 0) process.exitCode = 2;
    });
  cmd
    .command('test')
    .description("replay each correlation rule's fixtures (ordered event lists); exit 2 when one fails")
    .argument('[paths...]', 'files or folders', ['rules/correlation'])
    .option('--json', 'JSON output')
    .action(async (paths: string[], opts: { json?: boolean }) => {
      const shared = await loadSharedCompiler();
      const rep = testCorrelationRules(paths.map((p) => resolve(p)), shared.compiler ? { delegate: shared.compiler } : {});
      if (opts.json) out(JSON.stringify(rep, null, 2));
      else {
        for (const i of rep.issues) out(`not loaded: ${i.file}${i.ruleId ? `: rule ${i.ruleId}` : ''}: ${i.path || '/'}: ${i.message}`);
        for (const f of rep.failures) out(`FAIL ${JSON.stringify(f)}`);
        out(`${rep.rules} rule(s), ${rep.fixtures} fixture(s): ${rep.passed} passed, ${rep.failed} failed, ${rep.issues.length} not loaded`);
      }
      if (rep.failed > 0 || rep.issues.length > 0 || rep.rules === 0) process.exitCode = 2;
    });
}
