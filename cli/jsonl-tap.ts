import { createWriteStream, type WriteStream } from 'node:fs';
import type { Kernel } from '../core/kernel/kernel.js';
import { openPrivateFileSync, type PrivateFileLog } from '../core/private-files.js';
import { PluginCounters } from '../core/telemetry/counters.js';

/**
 * `--out` / `--events-out`: every detection / every normalized event as one JSON line.
 * Core taps for labs and debugging, independent of the configured output plugins. The file
 * is 0600 like every data file (an existing wider one is tightened and reported).
 */
export class JsonlTap {
  private readonly stream: WriteStream;
  private failed: Error | undefined;
  readonly counters = new PluginCounters();

  constructor(
    readonly path: string,
    logger: PrivateFileLog,
  ) {
    this.stream = createWriteStream(path, { fd: openPrivateFileSync(path, 'w', logger) });
    this.stream.on('error', (err) => {
      this.failed = err;
      this.counters.error('send', `write:${err.name}`);
    });
  }

  write(item: unknown): boolean {
    if (this.failed) {
      this.counters.discard('write_error');
      return true;
    }
    this.counters.emitted++;
    return this.stream.write(JSON.stringify(item) + '\n');
  }

  /** Resolves once the stream has drained (back-pressure for the events tap). */
  drained(): Promise<void> {
    return this.stream.writableNeedDrain ? new Promise((r) => this.stream.once('drain', () => r())) : Promise.resolve();
  }

  async close(): Promise<void> {
    await new Promise<void>((r) => this.stream.end(() => r()));
    if (this.failed) throw this.failed;
  }

  /** Attach as a detection listener. */
  static detections(kernel: Kernel, path: string): JsonlTap {
    const tap = new JsonlTap(path, kernel.logger);
    kernel.detectionListeners.push((d) => tap.write(d));
    return tap;
  }

  /** Subscribe to every event on the bus. */
  static events(kernel: Kernel, path: string): JsonlTap {
    const tap = new JsonlTap(path, kernel.logger);
    kernel.bus.subscribe({
      name: 'events-out',
      counters: tap.counters,
      onFailure: (err) => tap.counters.error('send', `write:${err instanceof Error ? err.name : 'unknown'}`),
      eventTypes: ['*'],
      onEvents: (batch) => {
        let ok = true;
        for (const e of batch) ok = tap.write(e) && ok;
        return ok ? undefined : tap.drained();
      },
    });
    return tap;
  }
}
