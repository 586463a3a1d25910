// The plugin's own tests, as its author would write them: the kit comes from the `vigil`
// package (`vigil/testing`), resolved through that package's exports like any dependency.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkConformance, instantiate, recordingContext, sampleEvents } from 'vigil/testing';
import { plugin } from '../index.js';

test('long-cmdline passes the Vigil conformance suite', async () => {
  await checkConformance(plugin);
  await checkConformance(plugin, { max_cmdline_chars: 16, severity: 'high' });
});

test('a command line longer than the threshold is flagged, an ignored image is counted as filtered', async () => {
  const rec = recordingContext(plugin, { config: { max_cmdline_chars: 16, ignore_images: ['C:\\Tools\\Allowed.exe'] } });
  const analyzer = instantiate(plugin, rec);
  await analyzer.start();
  const [start] = sampleEvents(); // cmd.exe /c whoami: 17 characters
  const ignored = { ...start, proc: { ...start.proc, image: 'c:\\tools\\allowed.exe' } };
  await analyzer.onEvents([start, ignored]);
  await analyzer.stop();
  await rec.dispose();

  assert.equal(rec.detections.length, 1);
  const [det] = rec.detections;
  assert.equal(det.rule.id, 'example.long_cmdline');
  assert.equal(det.severity, 'low', 'the schema default');
  assert.deepEqual(det.matched, [{ path: '/max_cmdline_chars', field: 'proc.cmdline', op: 'gt', value: 17 }]);
  assert.equal(rec.counters.emitted, 1);
  assert.deepEqual(rec.counters.snapshot().discarded['ignored_image'], { count: 1, intended: true });
});

test('a config the schema refuses is refused as the agent refuses it', () => {
  assert.throws(() => recordingContext(plugin, { config: { max_cmdline_chars: 3 } }), (err) => {
    assert.equal(err.code, 'VIGIL_ERR_PLUGIN_CONFIG');
    assert.match(err.message, /\/plugins\/long-cmdline\/config\/max_cmdline_chars/);
    return true;
  });
});
