/**
 * What the scanner's tests share (here and in test/response): the plugin started over a
 * recording context, with `ask` sending one request and returning its result and the
 * scan.result it emitted, both required.
 */
import assert from 'node:assert/strict';
import type { ActionRequest, ActionResult, EventDraft, ScanInfo } from '../../../../core/index.js';
import { instantiate, recordingContext, type RecordingOptions } from '../../../../testing/index.js';
import { plugin } from '../index.js';

export async function startScanner(options: RecordingOptions) {
  const rec = recordingContext(plugin, options);
  const inst = instantiate(plugin, rec);
  await inst.start();
  const ask = async (req: ActionRequest): Promise<{ result: ActionResult; scan: ScanInfo; event: EventDraft }> => {
    await inst.onActions!([req]);
    const result = rec.results.find((r) => r.request_id === req.id);
    const event = rec.emitted.find((e) => e.scan?.request_id === req.id);
    assert.ok(result, 'answered with an ActionResult');
    assert.ok(event?.scan, 'a scan.result was emitted');
    return { result, scan: event.scan, event };
  };
  return { rec, inst, ask };
}
