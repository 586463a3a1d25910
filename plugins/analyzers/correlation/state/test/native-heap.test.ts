import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixMmapThreshold, nativeHeapStatus, DEFAULT_MMAP_THRESHOLD } from '../native-heap.js';
import { runChildScript } from '../../../../../test/support/child-script.js';

/** The module a child script imports (compiled or from the sources, as this test runs). */
const HEAP = new URL('../native-heap.js', import.meta.url);

const glibc = process.platform === 'linux' && (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header?.glibcVersionRuntime !== undefined;

/**
 * A child with --expose-gc frees one 1 MiB block (glibc raises its mmap threshold to that
 * size), then makes 300 blocks of 1 MiB and writes them, with a small buffer kept beside each,
 * drops the blocks and collects. Prints its resident size before, at the peak and after.
 */
function freeAfterBurst(fix: boolean): { base: number; peak: number; after: number; status: unknown } {
  const r = runChildScript(
    `import { fixMmapThreshold } from {{heap}};
const status = ${fix ? 'await fixMmapThreshold()' : 'null'};
const rss = () => Math.round(process.memoryUsage().rss / 1e6);
const settle = async () => { for (let i = 0; i < 5; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 30)); } };
{ let b = Buffer.allocUnsafeSlow(1 << 20).fill(1); b = null; await settle(); }
const base = rss();
let blocks = [];
const keep = [];
for (let i = 0; i < 300; i++) { blocks.push(Buffer.allocUnsafeSlow(1 << 20).fill(1)); keep.push(Buffer.allocUnsafeSlow(64 << 10).fill(2)); }
const peak = rss();
blocks = null;
await settle();
console.log(JSON.stringify({ base, peak, after: rss(), kept: keep.length, status }));
`,
    { exposeGc: true, timeoutMs: 60_000, modules: { heap: HEAP } },
  );
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim()) as { base: number; peak: number; after: number; status: unknown };
}

test('with the mmap threshold fixed, blocks freed after a burst leave the resident size; with glibc\'s default they stay', { skip: glibc ? false : 'needs Linux with glibc' }, () => {
  const fixed = freeAfterBurst(true);
  assert.deepEqual(fixed.status, { mmap_threshold_bytes: DEFAULT_MMAP_THRESHOLD, reason: null });
  assert.ok(fixed.peak - fixed.base >= 280, `the burst was resident (${fixed.base} → ${fixed.peak} MB)`);
  assert.ok(fixed.after - fixed.base < 60, `resident size after the burst was freed: ${fixed.after} MB (${fixed.base} before, ${fixed.peak} at the peak)`);
  // The case the setting is for: the same burst with glibc's dynamic threshold keeps its memory.
  const dflt = freeAfterBurst(false);
  assert.ok(dflt.after - dflt.base >= 250, `glibc's default kept ${dflt.after - dflt.base} MB after the burst was freed`);
});

test('the threshold is set once per process; elsewhere the reason is reported, nothing changes', async () => {
  const first = await fixMmapThreshold();
  const again = await fixMmapThreshold(1 << 20);
  assert.equal(again, first, 'later calls return the first outcome');
  assert.equal(await nativeHeapStatus(), first);
  if (glibc) assert.deepEqual(first, { mmap_threshold_bytes: DEFAULT_MMAP_THRESHOLD, reason: null });
  else {
    assert.equal(first.mmap_threshold_bytes, null);
    assert.match(first.reason ?? '', /not Linux|no glibc|koffi/);
  }
});
