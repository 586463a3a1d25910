/** A ResponderContext for output plugin tests (shared by the responder test suites). */
import 'reflect-metadata';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { container } from 'tsyringe';
import type { ActionResult } from '../../core/events/detection.js';
import type { EventDraft } from '../../core/events/event.js';
import type { Disposer, ResponderContext } from '../../core/plugin/types.js';
import { PluginCounters } from '../../core/telemetry/counters.js';
import { silentLogger } from '../../core/telemetry/logger.js';

/** A ResponderContext as the core would build it, plus handles the tests inspect. */
export interface FakeContext<C> extends ResponderContext<C> {
  readonly counters: PluginCounters;
  readonly results: ActionResult[];
  readonly emitted: EventDraft[];
  readonly disposers: Disposer[];
  readonly controller: AbortController;
  /** Errors handed to `fail` (the core would restart the plugin). */
  readonly failures: unknown[];
  /** What the core does after `stop()`: abort, then run the disposers last-in first-out. */
  dispose(): Promise<void>;
}

export function fakeContext<C>(
  config: C,
  id = 'test-responder',
  options: { resolvePath?: (path: string) => string } = {},
): FakeContext<C> {
  const controller = new AbortController();
  const disposers: Disposer[] = [];
  const results: ActionResult[] = [];
  const emitted: EventDraft[] = [];
  const failures: unknown[] = [];
  let dataDir: string | undefined;
  return {
    id,
    config: Object.freeze({ ...config }),
    logger: silentLogger(),
    counters: new PluginCounters(),
    signal: controller.signal,
    container: container.createChildContainer(),
    // Created on first use only, as the core does, so tests leave no stray folders.
    get dataDir() {
      dataDir ??= mkdtempSync(join(tmpdir(), `vigil-${id}-data-`));
      return dataDir;
    },
    hostName: 'test-host',
    controller,
    disposers,
    results,
    emitted,
    failures,
    resolvePath(path) {
      return options.resolvePath ? options.resolvePath(path) : resolve(path);
    },
    fail(err) {
      failures.push(err);
    },
    defer(dispose) {
      disposers.push(dispose);
    },
    result(r) {
      results.push(r);
    },
    emit(draft) {
      emitted.push(draft);
    },
    async dispose() {
      controller.abort();
      while (disposers.length > 0) await disposers.pop()?.();
    },
  };
}
