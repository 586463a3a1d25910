import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readLines, type Line } from '../text-reader.js';

async function* from(chunks: string[]): AsyncGenerator<string> {
  for (const c of chunks) yield c;
}

async function lines(chunks: string[], max?: number): Promise<Line[]> {
  const out: Line[] = [];
  for await (const b of readLines(from(chunks), max)) out.push(...b);
  return out;
}

test('lines are the same however the text is cut, with CRLF and a last line without newline', async () => {
  const text = ['{"a":1}', '', '{"b":"x\\ny"}', 'Ünïcode ✓', 'last'].join('\r\n');
  const expected = ['{"a":1}', '', '{"b":"x\\ny"}', 'Ünïcode ✓', 'last'];
  for (const size of [1, 2, 3, 5, 64]) {
    const chunks: string[] = [];
    for (let i = 0; i < text.length; i += size) chunks.push(text.slice(i, i + size));
    const got = await lines(chunks);
    assert.deepEqual(got.map((l) => l.text), expected, `chunk size ${size}`);
    assert.deepEqual(got.map((l) => l.no), [1, 2, 3, 4, 5]);
  }
});

test('an over-long line is reported once and skipped; numbering goes on', async () => {
  const got = await lines(['short\n', 'x'.repeat(30), 'x'.repeat(30), 'x'.repeat(30) + '\nnext\n'], 50);
  assert.deepEqual(got, [{ text: 'short', no: 1 }, { text: '', no: 2, tooLong: true }, { text: 'next', no: 3 }]);
});
