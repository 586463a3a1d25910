/**
 * Writes docs/windows-mapping.md from the field table.
 * Run from the project root: node --import tsx lib/windows/write-mapping-doc.ts
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../core/index.js';
import { renderWindowsMappingDoc } from './mapping-doc.js';

const target = join(projectRoot(), 'docs', 'windows-mapping.md');
writeFileSync(target, renderWindowsMappingDoc());
process.stdout.write(`wrote ${target}\n`);
