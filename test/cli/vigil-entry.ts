/**
 * The `vigil` command from this (source or compiled) tree: lets the rule tooling tests run
 * the real CLI under tsx as well as from dist/.
 */
import { main } from '../../cli/main.js';

process.exitCode = await main(process.argv);
