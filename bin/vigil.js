#!/usr/bin/env node
// The `vigil` command. The TypeScript sources are compiled to dist/ by `npm ci` (prepare).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('vigil: not built yet: run `npm run build` (npm ci does it for you)\n');
  process.exit(1);
}
// `vigil run` ends with 0 on SIGINT/SIGTERM at any point, also while its modules load.
let early;
const hold = (signal) => (early ??= signal);
if (process.argv[2] === 'run') {
  process.on('SIGTERM', hold);
  process.on('SIGINT', hold);
}
const { main } = await import('../dist/cli/main.js');
process.off('SIGTERM', hold);
process.off('SIGINT', hold);
if (early) process.exit(0);
const code = await main(process.argv);
process.exitCode = code;
// Nothing should keep the process alive after a command finished; if something does
// (a plugin leaking a handle), do not hang the operator's shell.
setTimeout(() => process.exit(code), 3000).unref();
