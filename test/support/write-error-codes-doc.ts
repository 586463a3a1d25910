/**
 * Writes docs/error-codes.md from the rooms' error-code declarations.
 * Run from the project root: node --import tsx test/support/write-error-codes-doc.ts
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderErrorCodesDoc } from './error-code-rooms.js';

// Run from source (tsx): the docs folder is two levels above this file.
const target = fileURLToPath(new URL('../../docs/error-codes.md', import.meta.url));
writeFileSync(target, renderErrorCodesDoc());
process.stdout.write(`wrote ${target}\n`);
