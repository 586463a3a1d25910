import { Piscina } from 'piscina';
import type { Transferable } from 'node:worker_threads';
import { VigilError } from '../errors/index.js';
import { PluginCounters } from '../telemetry/counters.js';

export interface WorkerPoolOptions {
  maxThreads: number;
  maxQueue: number;
  taskTimeoutMs: number;
}

export interface RunOptions {
  /** Buffers moved (not copied) to the worker. */
  transfer?: readonly Transferable[];
  /** Overrides the pool's default task timeout. */
  timeoutMs?: number;
  /** Cancels the task (queued or running; a running worker is terminated and replaced). */
  signal?: AbortSignal;
}

/**
 * The one worker pool owned by the core (piscina). Plugins register named tasks (a module
 * file exporting a default function) and run them with timeouts and cancellation. The queue
 * is bounded: a task refused for a full queue is counted and rejected with
 * VIGIL_ERR_WORKER_QUEUE_FULL. Batch work: a round trip costs about 50 µs.
 */
export class WorkerPool {
  readonly counters = new PluginCounters();
  private readonly tasks = new Map<string, { filename: string; exportName: string }>();
  private readonly piscina: Piscina;

  constructor(private readonly options: WorkerPoolOptions) {
    this.piscina = new Piscina({
      maxThreads: options.maxThreads,
      minThreads: 0,
      idleTimeout: 30_000,
      maxQueue: options.maxQueue,
    });
  }

  /** Register a named task: `filename` is a file URL or absolute path of a module. */
  register(name: string, filename: string, exportName = 'default'): void {
    const existing = this.tasks.get(name);
    if (existing && existing.filename !== filename) {
      throw new Error(`worker task "${name}" is already registered from ${existing.filename}`);
    }
    this.tasks.set(name, { filename, exportName });
  }

  get queueSize(): number {
    return this.piscina.queueSize;
  }

  get threads(): number {
    return this.piscina.threads.length;
  }

  async run<R>(name: string, payload: unknown, opts: RunOptions = {}): Promise<R> {
    const task = this.tasks.get(name);
    if (!task) throw new Error(`no worker task registered as "${name}"`);
    if (this.piscina.queueSize >= this.options.maxQueue) {
      this.counters.discard(`queue_full:${name}`);
      throw new VigilError('VIGIL_ERR_WORKER_QUEUE_FULL', `worker queue full (${this.options.maxQueue}); task ${name} refused`);
    }
    const timeoutMs = opts.timeoutMs ?? this.options.taskTimeoutMs;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    this.counters.received++;
    try {
      const result = (await this.piscina.run(payload, {
        filename: task.filename,
        name: task.exportName,
        signal,
        ...(opts.transfer ? { transferList: opts.transfer as Transferable[] as never } : {}),
      })) as R;
      this.counters.emitted++;
      return result;
    } catch (err) {
      if (timeout.aborted) {
        this.counters.error('process', `timeout:${name}`);
        throw new VigilError('VIGIL_ERR_WORKER_TIMEOUT', `worker task ${name} exceeded ${timeoutMs} ms and was cancelled`, {
          cause: err,
        });
      }
      if (opts.signal?.aborted) {
        this.counters.discard(`cancelled:${name}`, 1, true);
        throw err;
      }
      if (err instanceof Error && /queue is at limit/i.test(err.message)) {
        this.counters.discard(`queue_full:${name}`);
        throw new VigilError('VIGIL_ERR_WORKER_QUEUE_FULL', `worker queue full; task ${name} refused`, { cause: err });
      }
      this.counters.error('process', `failed:${name}`);
      throw new VigilError('VIGIL_ERR_WORKER_FAILED', `worker task ${name} failed: ${err instanceof Error ? err.message : String(err)}`, {
        cause: err,
      });
    }
  }

  async close(): Promise<void> {
    await this.piscina.destroy();
  }
}
