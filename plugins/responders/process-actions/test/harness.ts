/**
 * What the process-actions tests share, on Linux, on Windows under Wine and against a scripted
 * Windows process table: a request as the response policy sends it, and a started responder
 * whose `run` gives the one result a request yields.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { ActionRequest, ActionResult, ProcessInfo, ResponderPlugin } from '../../../../core/index.js';
import { instantiate, recordingContext, sampleDetection } from '../../../../testing/index.js';
import type { ProcessActionsConfig } from '../index.js';

/** A request for `action` on `target` (none: no identity); the detection names `image` when the target does not. */
export function actionRequest(action: string, target: ProcessInfo | undefined, dryRun: boolean, image: string): ActionRequest {
  const detection = sampleDetection({ pid: target?.pid ?? 0, image: target?.image ?? image, time: Date.now() });
  return { id: randomUUID(), action, params: {}, detection, ...(target ? { target } : {}), dry_run: dryRun };
}

/** `plugin` started with `config`; `run` sends one request and returns its one result. */
export async function startResponder(plugin: ResponderPlugin<ProcessActionsConfig>, config: object = {}) {
  const rec = recordingContext(plugin, { config });
  const inst = instantiate(plugin, rec);
  await inst.start();
  const run = async (req: ActionRequest): Promise<ActionResult> => {
    const n = rec.results.length;
    await inst.onActions!([req]);
    assert.equal(rec.results.length, n + 1, 'one result per request');
    return rec.results[n]!;
  };
  return { rec, inst, run, close: async () => (await inst.stop(), await rec.dispose()) };
}
