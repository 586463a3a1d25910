import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../../testing/index.js';
import { mappingRow, renderWindowsMappingDoc } from '../mapping-doc.js';
import { SYSMON_EVENTS, WINDOWS_EVENTS } from '../field-map.js';

const DOC = join(projectRoot(), 'docs', 'windows-mapping.md');
const REGEN = 'regenerate it: node --import tsx lib/windows/write-mapping-doc.ts';

/** The doc text of each `### Event <id>` section, by id, in order. */
function sections(doc: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const part of doc.split('\n### Event ').slice(1)) {
    const id = part.slice(0, part.indexOf(' '));
    out.set(id, [...(out.get(id) ?? []), part]);
  }
  return out;
}

test('every mapping of field-map.ts appears in docs/windows-mapping.md', () => {
  const doc = readFileSync(DOC, 'utf8');
  const bySection = sections(doc);
  const check = (table: string, id: string, index: number, type: string, fields: Readonly<Record<string, string>>): void => {
    const text = bySection.get(id)?.[index];
    assert.ok(text, `${table} event ${id} has a section in the doc; ${REGEN}`);
    assert.ok(text.includes(`Type: \`${type}\``), `${table} event ${id}: type ${type} documented; ${REGEN}`);
    for (const [f, spec] of Object.entries(fields)) {
      assert.ok(text.includes(mappingRow(f, spec)), `${table} event ${id}: ${f} → ${spec} documented; ${REGEN}`);
    }
  };
  for (const [id, m] of Object.entries(SYSMON_EVENTS)) check('Sysmon', id, 0, m.type, m.fields);
  for (const [id, m] of Object.entries(WINDOWS_EVENTS)) {
    // An ID present in both tables has its Windows section second.
    check('Windows', id, id in SYSMON_EVENTS ? 1 : 0, m.type, m.fields);
    for (const c of m.channels) assert.ok(doc.includes('`' + c + '`'), `channel ${c} documented`);
  }
});

test('docs/windows-mapping.md is exactly what the generator writes', () => {
  assert.equal(readFileSync(DOC, 'utf8'), renderWindowsMappingDoc(), `the doc is stale; ${REGEN}`);
});
