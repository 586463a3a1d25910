/**
 * Property test: random byte flips and truncations of real logs never make the parser
 * throw anything but EvtxError (and that only for an unreadable header), iteration always
 * ends, and what it delivers matches its own summary.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { EvtxError, parseEvtxBuffer, readEvtxRecords } from '../index.js';
import { buildEvtx, utf16le } from '../evtx-builder.js';
import { corpusFiles } from './corpus.js';

const dir = mkdtempSync(join(tmpdir(), 'vigil-evtx-fuzz-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Seeds: a few real logs of different sizes (or a synthetic one without the corpus). */
function seeds(): Uint8Array<ArrayBufferLike>[] {
  const files = corpusFiles()
    .map((f) => ({ f, size: statSync(f).size }))
    .filter((x) => x.size <= 3 * 0x10000 + 4096)
    .sort((a, b) => a.size - b.size);
  const picked = [files[0], files[Math.floor(files.length / 2)], files[files.length - 1]].filter((x) => x !== undefined);
  const out: Uint8Array<ArrayBufferLike>[] = picked.map((x) => new Uint8Array(readFileSync(x.f)));
  out.push(
    buildEvtx(
      Array.from({ length: 80 }, (_, i) => ({
        id: i + 1,
        eventId: 1,
        values: [{ name: 'Image', type: 0x01, bytes: utf16le(`C:\\p${i}.exe`) }],
      })),
    ),
  );
  return out;
}

const SEEDS = seeds();

interface Mutation {
  seed: number;
  flips: [number, number][];
  /** Fraction of the file kept, or 1 for no truncation. */
  keep: number;
}

const mutation = fc.record({
  seed: fc.nat({ max: SEEDS.length - 1 }),
  flips: fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), fc.integer({ min: 1, max: 255 })), { minLength: 0, maxLength: 24 }),
  keep: fc.oneof(fc.constant(1), fc.double({ min: 0, max: 1, noNaN: true })),
});

function apply(m: Mutation): { bytes: Uint8Array; headerTouched: boolean } {
  const src = SEEDS[m.seed] as Uint8Array;
  const bytes = src.slice(0, Math.floor(src.length * m.keep));
  let headerTouched = bytes.length < 128;
  // Bias half the flips into chunk and record headers, where damage is most interesting.
  m.flips.forEach(([where, xor], i) => {
    if (bytes.length === 0) return;
    let pos = Math.floor(where * bytes.length);
    if (i % 2 === 1 && bytes.length > 4096 + 600) pos = 4096 + Math.floor(where * 600);
    bytes[pos] = (bytes[pos] as number) ^ xor;
    if (pos < 8) headerTouched = true;
  });
  return { bytes, headerTouched };
}

test('mutated logs: only EvtxError for unreadable headers, iteration ends, counts agree', () => {
  fc.assert(
    fc.property(mutation, (m) => {
      const { bytes, headerTouched } = apply(m);
      let n = 0;
      let issues = 0;
      try {
        const it = parseEvtxBuffer(bytes, { file: 'fuzz.evtx', onIssue: () => issues++ });
        for (const r of it) {
          n++;
          assert.equal(typeof r.recordId, 'number');
          assert.equal(typeof r.data, 'object');
        }
        assert.equal(it.summary.records, n);
        assert.ok(it.summary.chunks + it.summary.skippedChunks <= Math.ceil(bytes.length / 0x10000) + 1);
      } catch (e) {
        if (!(e instanceof EvtxError)) throw e;
        assert.ok(headerTouched, `EvtxError without header damage: ${e.message}`);
        assert.match(e.message, /fuzz\.evtx/);
      }
    }),
    { numRuns: 150, seed: 20240517 },
  );
});

test('mutated logs through the streaming reader behave the same', async () => {
  await fc.assert(
    fc.asyncProperty(mutation, async (m) => {
      const { bytes } = apply(m);
      const p = join(dir, 'm.evtx');
      writeFileSync(p, bytes);
      let syncCount = -1;
      try {
        syncCount = [...parseEvtxBuffer(bytes)].length;
      } catch (e) {
        if (!(e instanceof EvtxError)) throw e;
      }
      let n = 0;
      try {
        for await (const _r of readEvtxRecords(p)) n++;
      } catch (e) {
        if (!(e instanceof EvtxError)) throw e;
        assert.equal(syncCount, -1, 'stream failed where the buffer parse did not');
        return;
      }
      assert.equal(n, syncCount);
    }),
    { numRuns: 30, seed: 7 },
  );
});
