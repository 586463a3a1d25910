import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_MAX_LINE_BYTES, readLines, type Line } from '../text-reader.js';

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

test('the limit is in bytes of UTF-8 text: a line at the limit is kept, one byte more is skipped; a CR does not count', async () => {
  // 'é' is 2 bytes, '✓' 3: the lines are 8 and 9 characters, 14 and 15 bytes.
  const at = 'é'.repeat(2) + '✓'.repeat(2) + 'abcd';
  const over = 'é'.repeat(2) + '✓'.repeat(2) + 'abcdX';
  assert.equal(Buffer.byteLength(at), 14);
  assert.equal(Buffer.byteLength(over), 15);
  for (const size of [1, 3, 7, 1000]) {
    const text = `${at}\r\n${over}\n${at}\nok`;
    const chunks: string[] = [];
    for (let i = 0; i < text.length; i += size) chunks.push(text.slice(i, i + size));
    assert.deepEqual(
      await lines(chunks, 14),
      [{ text: at, no: 1 }, { text: '', no: 2, tooLong: true }, { text: at, no: 3 }, { text: 'ok', no: 4 }],
      `chunk size ${size}`,
    );
  }
  assert.deepEqual(await lines([`${over}`], 14), [{ text: '', no: 1, tooLong: true }], 'a last line without newline is measured too');
});

test('the default limit is 1 MiB', async () => {
  assert.equal(DEFAULT_MAX_LINE_BYTES, 1048576);
  const mib = 'y'.repeat(1048576);
  const got = await lines([mib.slice(0, 1000), mib.slice(1000) + '\n', mib + 'y\n', 'z']);
  assert.deepEqual(got.map((l) => [l.no, l.text.length, l.tooLong ?? false]), [[1, 1048576, false], [2, 0, true], [3, 1, false]]);
});

test('a line longer than any string can be is streamed past: the lines around it are read', async () => {
  // 640 Mi characters: more than V8's longest string (2^29 - 24), so a reader that kept the
  // line, or more than a bounded part of it, would throw instead of reaching the next line.
  const chunk = 'x'.repeat(1 << 20);
  async function* huge(): AsyncGenerator<string> {
    yield '{"first":1}\n{"big":"';
    for (let i = 0; i < 640; i++) yield chunk;
    yield '"}\n{"after":2}\n';
  }
  const out: Line[] = [];
  for await (const b of readLines(huge())) out.push(...b);
  assert.deepEqual(out, [{ text: '{"first":1}', no: 1 }, { text: '', no: 2, tooLong: true }, { text: '{"after":2}', no: 3 }]);
});
