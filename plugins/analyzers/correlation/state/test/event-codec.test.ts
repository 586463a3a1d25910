import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { EventDecoder, EventEncoder, StringTable } from '../event-codec.js';
import { SeqStore } from '../seq-store.js';

/** What the value looks like after a lossless round trip: `undefined` fields dropped, array holes null. */
function normalized(v: unknown): unknown {
  if (Array.isArray(v)) return v.map((e: unknown) => (e === undefined ? null : normalized(e)));
  if (v !== null && typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined) o[k] = normalized(x);
    return o;
  }
  return v;
}

/**
 * fast-check may build null-prototype objects; events are plain objects (kept `undefined`
 * fields included). Keys are defined, not assigned, so a generated "__proto__" key stays a
 * key (an assignment would change the object's prototype).
 */
function plain(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) Object.defineProperty(o, k, { value: plain(x), enumerable: true, writable: true, configurable: true });
    return o;
  }
  return v;
}

/** A "__proto__" key anywhere: the codec refuses such values by design (tested on its own below). */
function hasProtoKey(v: unknown): boolean {
  if (Array.isArray(v)) return v.some(hasProtoKey);
  if (v !== null && typeof v === 'object') return Object.hasOwn(v, '__proto__') || Object.values(v).some(hasProtoKey);
  return false;
}

function roundTrip(v: unknown): unknown {
  const enc = new EventEncoder();
  const n = enc.encode(v);
  assert.ok(n >= 0, 'encodable');
  const copy = Buffer.from(enc.bytes.subarray(0, n));
  const dec = new EventDecoder();
  const out = dec.decode(copy, 0);
  assert.equal(dec.pos, n, 'the decoder reads exactly what was written');
  return out;
}

const text = fc.oneof(fc.string(), fc.string({ unit: 'grapheme', maxLength: 40 }), fc.string({ unit: 'grapheme-ascii', minLength: 100, maxLength: 400 }), fc.constantFrom('', 'C:\\Windows\\System32\\lsass.exe', 'prozeß-ü', '日本語', '😀 emoji'));
const num = fc.oneof(fc.integer(), fc.integer({ min: 0, max: 200 }), fc.double(), fc.constantFrom(-0, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31, -(2 ** 31), 2 ** 53, 0.5));
const opt = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(a, { nil: undefined });
const proc = fc.record(
  { pid: num, guid: text, start_time: num, image: text, name: text, cmdline: text, cwd: text, ppid: num, parent_guid: text, user: text, uid: num, integrity: text, session_id: num, hashes: fc.dictionary(fc.constantFrom('md5', 'sha1', 'sha256', 'imphash'), text), original_file_name: text, product: text, company: text, description: text, file_version: text },
  { requiredKeys: [] },
);
const json: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  v: fc.oneof({ depthSize: 'small' }, text, num, fc.boolean(), fc.constant(null), fc.array(tie('v'), { maxLength: 4 }), fc.dictionary(text, tie('v'), { maxKeys: 4 })),
})).v;
const event = fc.record(
  {
    id: text,
    seq: num,
    type: text,
    time: num,
    received: num,
    source: text,
    host: fc.record({ name: text }),
    proc,
    parent: proc,
    target: proc,
    thread: fc.record({ id: num, start_address: text, start_module: text, start_function: text }, { requiredKeys: [] }),
    access: fc.record({ granted: num, call_trace: text, source_thread_id: num }, { requiredKeys: [] }),
    file: fc.record({ path: text, name: text, creation_time: num, contents: text, is_executable: fc.boolean(), flags: num, mode: num }, { requiredKeys: [] }),
    image: fc.record({ path: text, signed: fc.boolean(), signature: text, signature_status: text }, { requiredKeys: [] }),
    reg: fc.record({ key: text, value: text, data: text, operation: text, new_name: text }, { requiredKeys: [] }),
    net: fc.record({ protocol: text, initiated: fc.boolean(), src_ip: text, src_port: num, dst_ip: text, dst_port: num, dst_host: text, ipv6: fc.boolean() }, { requiredKeys: [] }),
    dns: fc.record({ query: text, status: text, answers: text }, { requiredKeys: [] }),
    user: fc.record({ name: text, domain: text, sid: text, logon_id: text, target_name: text }, { requiredKeys: [] }),
    logon: fc.record({ type: num, process: text, src_ip: text, src_port: num, status: text }, { requiredKeys: [] }),
    service: fc.record({ name: text, path: text, type: text, start_type: text, account: text }, { requiredKeys: [] }),
    task: fc.record({ name: text, content: text }, { requiredKeys: [] }),
    script: fc.record({ text, path: text, block_id: text, payload: text, context: text }, { requiredKeys: [] }),
    pipe: fc.record({ name: text }, { requiredKeys: [] }),
    wmi: fc.record({ operation: text, name: text, namespace: text, query: text }, { requiredKeys: [] }),
    scan: fc.record({ scanner: text, verdict: fc.constantFrom('clean', 'malicious'), findings: fc.array(text, { maxLength: 3 }), reason: text }, { requiredKeys: [] }),
    message: opt(text),
    raw: fc.dictionary(fc.oneof(text, fc.constantFrom('EventID', 'Image', 'GrantedAccess', 'Channel')), json, { maxKeys: 6 }),
  },
  { requiredKeys: ['id', 'seq', 'type', 'time', 'received', 'source', 'host'] },
)
  .map((v) => plain(v) as Record<string, unknown>)
  .filter((e) => !hasProtoKey(e));

test('property: events with any groups, unicode text, odd numbers and missing fields come back equal', () => {
  fc.assert(
    fc.property(event, (e) => {
      assert.deepStrictEqual(roundTrip(e), normalized(e));
    }),
    { numRuns: 400 },
  );
});

test('property: with a string table (strings written as indexes), every event still comes back equal', () => {
  let interned = 0;
  fc.assert(
    fc.property(fc.array(event, { minLength: 1, maxLength: 6 }), (events) => {
      const table = new StringTable(64);
      const enc = new EventEncoder(table);
      const dec = new EventDecoder(table);
      const written: Array<[Buffer, unknown]> = [];
      // Each event twice in a row: the second time, its fields hold the strings they held before.
      for (const e of events.flatMap((x) => [x, x])) {
        const n = enc.encode(e);
        assert.ok(n >= 0);
        written.push([Buffer.from(enc.bytes.subarray(0, n)), e]);
      }
      // Decoded after everything was written (the table only grows), in any order.
      for (const [bytes, e] of [...written].reverse()) assert.deepStrictEqual(dec.decode(bytes, 0), normalized(e));
      if (table.size > 0) interned++;
    }),
    { numRuns: 200 },
  );
  assert.ok(interned > 50, `the table was used in ${interned} of 200 runs`);
});

test('strings are interned when a field repeats its value; unique values stay out; the table is bounded', () => {
  const table = new StringTable(2);
  const enc = new EventEncoder(table);
  const ev = (i: number, user: string): object => ({ type: 'process.access', proc: { guid: `{guid-${i}}` }, target: { image: 'C:\\Windows\\System32\\lsass.exe' }, user: { name: user } });
  const first = enc.encode(ev(0, 'alice'));
  const second = enc.encode(ev(1, 'bob'));
  assert.ok(second < first - 30, `type and image are written once, then as an index (${first} → ${second} bytes)`);
  assert.deepEqual(table.strings, ['process.access', 'C:\\Windows\\System32\\lsass.exe']);
  for (let i = 2; i < 50; i++) enc.encode(ev(i, 'carol'));
  assert.equal(table.size, 2, 'full: carol is written out, GUIDs never entered');
  const dec = new EventDecoder(table);
  const n = enc.encode(ev(99, 'carol'));
  assert.deepStrictEqual(dec.decode(Buffer.from(enc.bytes.subarray(0, n)), 0), ev(99, 'carol'));
});

test('property: evidence chains in the sequence store come back equal, step by step', () => {
  fc.assert(
    fc.property(fc.array(event, { minLength: 1, maxLength: 4 }), fc.array(text, { minLength: 4, maxLength: 4 }), (events, keys) => {
      const st = new SeqStore(events.length + 1, 60_000);
      let prev = -1;
      events.forEach((e, i) => {
        const id = st.add(i + 1, keys[i] as string, 60_000, i, prev, e, null);
        if (prev >= 0) st.remove(prev);
        prev = id;
      });
      const chain = st.chain(prev);
      assert.deepStrictEqual(
        chain.map((c) => c.key),
        keys.slice(0, events.length),
      );
      chain.forEach((c, i) => assert.deepStrictEqual(c.subj, normalized(events[i])));
    }),
    { numRuns: 150 },
  );
});

test('exact values: -0, NaN, infinities, int32 edges, long and non-ASCII strings, nested arrays', () => {
  const e = { n: [-0, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 127, 128, -1, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, 1e300, 0.1], s: ['x'.repeat(127), 'y'.repeat(128), 'é'.repeat(5000), ''], deep: [[[{ a: [null, true, false] }]]], skip: undefined, holes: [1, undefined, 3] };
  const out = roundTrip(e) as Record<string, unknown>;
  const n = out['n'] as number[];
  const holes = out['holes'];
  const skipKept = Object.hasOwn(out, 'skip');
  assert.ok(Object.is(n[0], -0), '-0 kept');
  assert.ok(Number.isNaN(n[1]));
  assert.deepStrictEqual(out, { ...normalized(e) as object, n: e.n });
  assert.deepStrictEqual(holes, [1, null, 3]);
  assert.equal(skipKept, false, 'undefined fields are left out');
});

test('values the codec does not take are refused, so the store keeps the object itself', () => {
  const enc = new EventEncoder();
  const cyclic: Record<string, unknown> = { type: 'x' };
  cyclic['self'] = cyclic;
  const refused: unknown[] = [{ size: 10n }, { when: new Date(0) }, { f: (): number => 1 }, Object.create(null), { s: 'lone \ud800 surrogate' }, cyclic, JSON.parse('{"__proto__": {"polluted": true}}')];
  for (const v of refused) assert.equal(enc.encode(v), -1);
  assert.ok(enc.encode({ type: 'fine' }) > 0, 'the encoder is usable after a refusal');
  const st = new SeqStore(2, 60_000);
  const d = { type: 'c', when: new Date(5) };
  const id = st.add(1, 'k', 60_000, 1, -1, d, null);
  assert.equal(st.chain(id)[0]?.subj, d, 'held as the same object');
});

test('decoded objects keep their field order across many shapes, wide objects and names outside the table', () => {
  const enc = new EventEncoder();
  const dec = new EventDecoder();
  const names = ['pid', 'guid', 'image', 'cmdline', 'user', 'name', 'path', 'key', 'value', 'data', 'status'];
  const values: object[] = [];
  // More distinct shapes than the decoder makes constructors for: the rest are built field by field.
  for (let i = 0; i < 3000; i++) {
    const o: Record<string, unknown> = {};
    for (let b = 0; b < names.length; b++) if ((i >> b) & 1) o[names[b] as string] = b % 2 === 0 ? i : `v${i}`;
    values.push({ type: 'x', time: i, proc: o });
  }
  const wide: Record<string, unknown> = {};
  for (let i = 0; i < 40; i++) wide[i % 2 === 0 ? `Field${i}` : (names[i % names.length] as string) + (i > 10 ? `_${i}` : '')] = i;
  values.push({ type: 'wide', raw: wide }, { type: 'mixed', proc: { pid: 1, Custom: 'a', guid: '{G}' } });
  for (const v of values) {
    const n = enc.encode(v);
    const back = dec.decode(Buffer.from(enc.bytes.subarray(0, n)), 0);
    assert.deepEqual(back, v);
    assert.deepEqual(Object.keys((back as { proc?: object; raw?: object }).proc ?? (back as { raw: object }).raw), Object.keys((v as { proc?: object; raw?: object }).proc ?? (v as { raw: object }).raw));
  }
});
