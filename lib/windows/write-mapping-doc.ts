/**
 * Writes docs/windows-mapping.md from the field table.
 * Run from the project root: node --import tsx lib/windows/write-mapping-doc.ts
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderWindowsMappingDoc } from './mapping-doc.js';

// Run from source (tsx): the docs folder is two levels above this file.
const target = fileURLToPath(new URL('../../docs/windows-mapping.md', import.meta.url));
writeFileSync(target, renderWindowsMappingDoc());
process.stdout.write(`wrote ${target}\n`);
