/**
 * The agent process the watchdog starts (`vigil run` forks it with an IPC channel): the
 * agent run in place, with the arguments the watchdog forwards.
 */
import { main } from './main.js';

const code = await main([process.argv[0]!, 'vigil', 'run', '--no-watchdog', ...process.argv.slice(2)]);
process.exitCode = code;
// Nothing should keep the agent process alive once the agent stopped.
setTimeout(() => process.exit(code), 3000).unref();
