/**
 * A minimal SensorContext for tests: collects emitted drafts, refuses undeclared types as the
 * core does, and runs deferred disposers last-in first-out on dispose().
 */
import { validateWithSchema, type EventDraft, type Disposer, type SensorContext, PluginCounters, silentLogger } from '../../../../core/index.js';
import { procfsConfigSchema } from '../config.js';
import 'reflect-metadata';
import { container } from 'tsyringe';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export interface FakeSensorContext {
  readonly ctx: SensorContext;
  readonly drafts: EventDraft[];
  readonly counters: PluginCounters;
  readonly controller: AbortController;
  /** Errors the plugin reported through ctx.fail. */
  readonly failures: unknown[];
  /** Disposers registered so far (not yet run). */
  readonly disposers: Disposer[];
  /** Abort, then run the disposers LIFO (what the core does after stop). */
  dispose(): Promise<void>;
  /** Resolve with the first draft matching `pred`, polling the collected list. */
  waitFor(pred: (d: EventDraft) => boolean, timeoutMs?: number): Promise<EventDraft>;
}

export function createFakeSensorContext(
  config: Readonly<Record<string, unknown>>,
  produces: readonly string[] = ['process.start', 'process.stop'],
): FakeSensorContext {
  const drafts: EventDraft[] = [];
  const counters = new PluginCounters();
  const controller = new AbortController();
  const disposers: Disposer[] = [];
  const failures: unknown[] = [];
  const allowed = new Set(produces);
  // Created on first use, as the core does; this sensor keeps no state on disk.
  let dataDir: string | undefined;
  const ctx: SensorContext = {
    id: 'procfs',
    config: Object.freeze(coreValidated(config)),
    logger: silentLogger(),
    counters,
    signal: controller.signal,
    container: container.createChildContainer(),
    defer: (d) => {
      disposers.push(d);
    },
    get dataDir(): string {
      dataDir ??= mkdtempSync(join(tmpdir(), 'vigil-procfs-data-'));
      return dataDir;
    },
    hostName: 'test-host',
    resolvePath: (path) => resolve(path),
    fail: (err) => {
      failures.push(err);
    },
    emit: (draft) => {
      if (!allowed.has(draft.type)) throw new Error(`VIGIL_ERR_PLUGIN_UNDECLARED_TYPE: ${draft.type}`);
      drafts.push(draft);
      counters.emitted++;
      return undefined;
    },
    finished: () => {
      throw new Error('a live sensor must not call finished()');
    },
  };
  return {
    ctx,
    drafts,
    counters,
    controller,
    failures,
    disposers,
    async dispose() {
      controller.abort();
      while (disposers.length > 0) await disposers.pop()?.();
      if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
    },
    waitFor(pred, timeoutMs = 10000) {
      return new Promise((resolve, reject) => {
        const deadline = Date.now() + timeoutMs;
        const check = (): void => {
          const hit = drafts.find(pred);
          if (hit) resolve(hit);
          else if (Date.now() > deadline) reject(new Error(`no matching event within ${timeoutMs} ms`));
          else setTimeout(check, 10);
        };
        check();
      });
    },
  };
}

/** The config as the core hands it over: validated against the schema, defaults applied. */
function coreValidated(config: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...config };
  const findings = validateWithSchema(procfsConfigSchema, copy);
  if (findings.length > 0) throw new Error(`invalid procfs config: ${findings.map((f) => `${f.path}: expected ${f.expected}, found ${f.found}`).join('; ')}`);
  return copy;
}
