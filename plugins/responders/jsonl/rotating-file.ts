import type { WriteStream } from 'node:fs';
import { rename, rm, type FileHandle } from 'node:fs/promises';
import type { PrivateFiles } from '../../../core/index.js';

/** How the file reports what happened to lines and to itself (the responder counts). */
export interface RotatingFileHooks {
  /** Lines the OS accepted. */
  written(lines: number): void;
  /** Lines that will never reach the file, with the stage that lost them. */
  lost(lines: number, stage: string, err: unknown): void;
  /** A failure that lost no line by itself (fsync, close, rename …). */
  error(stage: string, err: unknown): void;
  rotated(): void;
}

interface OpenFile {
  readonly handle: FileHandle;
  readonly stream: WriteStream;
  /** Bytes in the file, counting what is queued in the stream. */
  size: number;
  /** Only regular files rotate: renaming a device or a FIFO is never what the operator meant. */
  readonly regular: boolean;
  failed: boolean;
  closed: boolean;
}

/**
 * An append-only line file rotated by size (`path` → `path.1` → `path.2` …). Lines are
 * never split across files. All operations run one after another on an internal chain,
 * so callers may call `append` without awaiting and still get file order. The file and its
 * rotations are 0600 (a missing folder 0700); wider ones left by an older version are
 * tightened at open and reported to `logger`.
 */
export class RotatingFile {
  private cur: OpenFile | undefined;
  private chain: Promise<void> = Promise.resolve();
  private readonly pending = new Set<Promise<void>>();
  private closed = false;

  constructor(
    readonly path: string,
    private readonly maxBytes: number,
    private readonly maxFiles: number,
    private readonly hooks: RotatingFileHooks,
    private readonly files: PrivateFiles,
  ) {}

  /** Opens (creating folders and the file as needed). Throws when the file cannot be opened. */
  async open(): Promise<void> {
    // Rotations keep the mode they had as the current file; older ones may predate 0600.
    for (let i = 1; i <= this.maxFiles; i++) this.files.tighten(`${this.path}.${i}`);
    this.cur = await this.openFile();
  }

  /**
   * Appends complete lines (each ending in `\n`). Resolves when the stream can take more,
   * which is how back-pressure reaches the caller. Never rejects: failures go to the hooks.
   */
  append(lines: readonly string[]): Promise<void> {
    return this.enqueue(() => this.appendNow(lines));
  }

  /** Resolves once every line appended so far is written and synced to disk. */
  flush(): Promise<void> {
    return this.enqueue(async () => {
      await this.settled();
      const f = this.cur;
      if (f && !f.failed && !f.closed) {
        try {
          await f.handle.sync();
        } catch (err) {
          this.hooks.error('sync', err);
        }
      }
    });
  }

  /** Writes out everything queued, syncs and closes. Idempotent. */
  close(): Promise<void> {
    return this.enqueue(async () => {
      this.closed = true;
      const f = this.cur;
      this.cur = undefined;
      if (f) await this.closeFile(f);
    });
  }

  private enqueue(step: () => Promise<void>): Promise<void> {
    const next = this.chain.then(step).catch((err: unknown) => {
      this.hooks.error('internal', err);
    });
    this.chain = next;
    return next;
  }

  private async appendNow(lines: readonly string[]): Promise<void> {
    if (lines.length === 0) return;
    if (this.closed) {
      this.hooks.lost(lines.length, 'closed', new Error('output closed'));
      return;
    }
    let f = await this.usable();
    if (!f) {
      this.hooks.lost(lines.length, 'open', new Error(`cannot open ${this.path}`));
      return;
    }
    let chunk = '';
    let inChunk = 0;
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i] as string;
      const bytes = Buffer.byteLength(line);
      if (f.regular && f.size > 0 && f.size + bytes > this.maxBytes) {
        if (inChunk > 0) await this.write(f, chunk, inChunk);
        chunk = '';
        inChunk = 0;
        f = await this.rotate(f);
        if (!f) {
          this.hooks.lost(lines.length - i, 'rotate', new Error(`cannot reopen ${this.path} after rotation`));
          return;
        }
      }
      chunk += line;
      inChunk += 1;
      f.size += bytes;
    }
    await this.write(f, chunk, inChunk);
  }

  /** The current file, reopened when a previous write failed (e.g. the disk was full). */
  private async usable(): Promise<OpenFile | undefined> {
    const f = this.cur;
    if (f && !f.failed) return f;
    if (f) await this.closeFile(f);
    this.cur = undefined;
    try {
      this.cur = await this.openFile();
    } catch (err) {
      this.hooks.error('open', err);
    }
    return this.cur;
  }

  private async write(f: OpenFile, text: string, count: number): Promise<void> {
    let ok = true;
    const done = new Promise<void>((resolve) => {
      const callback = (err?: Error | null): void => {
        if (err) {
          f.failed = true;
          this.hooks.lost(count, 'write', err);
        } else {
          this.hooks.written(count);
        }
        resolve();
      };
      try {
        ok = f.stream.write(text, callback);
      } catch (err) {
        callback(err instanceof Error ? err : new Error(String(err)));
      }
    });
    this.pending.add(done);
    void done.then(() => this.pending.delete(done));
    if (!ok) await drained(f.stream);
  }

  private async rotate(f: OpenFile): Promise<OpenFile | undefined> {
    this.cur = undefined;
    await this.closeFile(f);
    let rotated = false;
    try {
      if (this.maxFiles === 0) {
        await rm(this.path, { force: true });
      } else {
        await rm(`${this.path}.${this.maxFiles}`, { force: true });
        for (let i = this.maxFiles - 1; i >= 1; i--) await renameIfExists(`${this.path}.${i}`, `${this.path}.${i + 1}`);
        await rename(this.path, `${this.path}.1`);
      }
      rotated = true;
      this.hooks.rotated();
    } catch (err) {
      this.hooks.error('rotate', err);
    }
    try {
      this.cur = await this.openFile();
    } catch (err) {
      this.hooks.error('open', err);
      return undefined;
    }
    // After a failed rename, the file keeps growing for another max_file_bytes before the
    // next attempt, instead of retrying (and logging) on every single line.
    if (!rotated) this.cur.size = 0;
    return this.cur;
  }

  private async openFile(): Promise<OpenFile> {
    const handle = await this.files.open(this.path, 'a');
    try {
      const st = await handle.stat();
      const stream = handle.createWriteStream({ autoClose: false, encoding: 'utf8' });
      const f: OpenFile = { handle, stream, size: st.size, regular: st.isFile(), failed: false, closed: false };
      // Lost lines are counted by the write callbacks; this listener marks the file for
      // reopening and keeps the 'error' event from crashing the agent.
      stream.on('error', () => {
        f.failed = true;
      });
      return f;
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  private async closeFile(f: OpenFile): Promise<void> {
    if (f.closed) return;
    f.closed = true;
    const s = f.stream;
    if (!s.destroyed && !s.writableEnded && !s.errored) {
      await new Promise<void>((resolve) => s.end(() => resolve()));
    }
    await this.settled();
    if (!f.failed) {
      try {
        await f.handle.sync();
      } catch (err) {
        this.hooks.error('sync', err);
      }
    }
    // The stream holds a reference on the FileHandle until it is destroyed; without this,
    // handle.close() waits forever (autoClose is off so that the fsync above comes first).
    if (!s.closed) {
      await new Promise<void>((resolve) => {
        s.once('close', () => resolve());
        s.destroy();
      });
    }
    try {
      await f.handle.close();
    } catch (err) {
      this.hooks.error('close', err);
    }
  }

  private async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }
}

async function renameIfExists(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

function drained(stream: WriteStream): Promise<void> {
  // A destroyed stream never drains; its write callbacks already carry the error.
  if (stream.destroyed || !stream.writableNeedDrain) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = (): void => {
      stream.off('drain', done);
      stream.off('close', done);
      stream.off('error', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
    stream.on('error', done);
  });
}
