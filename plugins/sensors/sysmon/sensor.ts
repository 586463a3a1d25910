/**
 * The Sysmon sensor, main-thread side: starts the reader thread (read-worker.ts), normalizes
 * each delivered batch with lib/windows (the normalizer replay uses, so a live event and the
 * same event replayed from an .evtx give identical drafts), emits it, saves the bookmark and
 * only then lets the reader go on: a restart resumes after the last delivered event.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { EventDraft, SensorContext, SensorInstance } from '../../../core/index.js';
import type { WevtapiDlls } from '../../../driver/ffi/windows/wevtapi.js';
import { normalizeWindowsEvent, type WindowsRecord } from '../../../lib/windows/index.js';
import type { SysmonConfig } from './config.js';
import { SysmonError, type SysmonErrorCode } from './errors.js';
import type { ReadFailure, ReadMessage, ReadWorkerData } from './read-worker.js';

/** The bookmark file in the plugin's data folder. */
export const BOOKMARK_FILE = 'bookmark.xml';
const WAIT_MS = 200;

const CODES: Readonly<Record<ReadFailure, SysmonErrorCode>> = {
  access_denied: 'VIGIL_ERR_SYSMON_ACCESS_DENIED',
  channel_not_found: 'VIGIL_ERR_SYSMON_CHANNEL_NOT_FOUND',
  bind: 'VIGIL_ERR_SYSMON_WEVTAPI',
  subscribe: 'VIGIL_ERR_SYSMON_SUBSCRIBE',
  read: 'VIGIL_ERR_SYSMON_READ',
};

/** What to do, per failure, in the operator's words. */
function advice(failure: ReadFailure, channel: string): string {
  switch (failure) {
    case 'access_denied':
      return `access to ${channel} is denied: run the agent elevated (an Administrator prompt, or the SYSTEM service)`;
    case 'channel_not_found':
      return `channel ${channel} does not exist: install Sysmon (sysmon64 -accepteula -i <config.xml>) or correct plugins.sysmon.config.channel`;
    case 'bind':
      return 'wevtapi.dll cannot be bound';
    case 'subscribe':
      return `cannot open ${channel}`;
    case 'read':
      return 'reading the event log failed';
  }
}

export interface SysmonSensorOptions {
  /** Test doubles of the DLLs (production: the system's). */
  readonly dlls?: WevtapiDlls;
  /** The render buffer's first size (tests: exercise the two-call sizing). */
  readonly initialRenderBytes?: number;
}

export class SysmonSensor implements SensorInstance {
  private worker: Worker | undefined;
  private readonly control = new Int32Array(new SharedArrayBuffer(8));
  private closed: Promise<void> | undefined;
  private started = false;
  private stopped = false;
  private delivered = 0;
  private readonly problemsLogged = new Set<string>();
  private emitRefused = false;
  /** Batch size in use (after halvings). */
  batchSize: number;
  /** Where the reader started: future, oldest, after_bookmark or file. */
  startedFrom = '';

  constructor(
    private readonly ctx: SensorContext,
    private readonly config: SysmonConfig,
    private readonly options: SysmonSensorOptions = {},
  ) {
    this.batchSize = config.batch_size;
  }

  private get bookmarkPath(): string {
    return join(this.ctx.dataDir, BOOKMARK_FILE);
  }

  private readBookmark(): string | undefined {
    if (this.config.from !== '') return undefined;
    const p = this.bookmarkPath;
    if (!existsSync(p)) return undefined;
    try {
      const xml = readFileSync(p, 'utf8');
      return xml.trim() === '' ? undefined : xml;
    } catch (err) {
      this.ctx.counters.error('start', 'bookmark_read');
      this.ctx.logger.warn({ err, file: p }, 'sysmon: the bookmark file is unreadable; starting without it');
      return undefined;
    }
  }

  async start(): Promise<void> {
    if (this.started || this.stopped) return;
    this.started = true;
    const data: ReadWorkerData = {
      dlls: this.options.dlls ?? {},
      initialRenderBytes: this.options.initialRenderBytes,
      channel: this.config.channel,
      query: this.config.query,
      from: this.config.from === '' ? undefined : this.ctx.resolvePath(this.config.from),
      readExisting: this.config.read_existing,
      bookmarkXml: this.readBookmark(),
      batchSize: this.config.batch_size,
      maxSchemas: this.config.max_schemas,
      waitMs: WAIT_MS,
      control: this.control.buffer as SharedArrayBuffer,
    };
    const worker = new Worker(new URL('./read-worker.js', import.meta.url), { workerData: data });
    this.worker = worker;
    await new Promise<void>((resolve, reject) => {
      let ready = false;
      const failed = (err: SysmonError): void => {
        if (!ready) reject(err);
        else {
          this.ctx.counters.error('receive', err.code);
          if (!this.stopped) this.ctx.fail(err);
        }
      };
      this.closed = new Promise<void>((done) => {
        worker.once('exit', (code) => {
          this.worker = undefined;
          if (!ready) reject(new SysmonError('VIGIL_ERR_SYSMON_READ', `sysmon: the reader thread ended (exit code ${code}) before it subscribed`));
          else if (!this.stopped && this.config.from === '') failed(new SysmonError('VIGIL_ERR_SYSMON_READ', `sysmon: the reader thread ended unasked (exit code ${code})`));
          done();
        });
      });
      worker.on('error', (err) => failed(new SysmonError('VIGIL_ERR_SYSMON_READ', `sysmon: the reader thread failed: ${err.message}`, { cause: err })));
      worker.on('message', (msg: ReadMessage) => {
        switch (msg.t) {
          case 'ready':
            ready = true;
            this.startedFrom = msg.start;
            this.ctx.counters.set('batch_size', this.batchSize);
            this.ctx.logger.info({ channel: this.config.channel, from: data.from, start: msg.start }, `sysmon: reading ${data.from ?? this.config.channel} (${msg.start})`);
            resolve();
            break;
          case 'batch':
            if (msg.internRefused > 0) {
              // The reader's string table is full: new strings are decoded each time (slower, nothing lost).
              this.ctx.counters.set('strings_not_interned', msg.internRefused);
              this.problem('intern_full', 'sysmon: the reader\'s string table is full; new strings are decoded for every event');
            }
            this.onBatch(msg.records, msg.bookmark, msg.xmlRendered);
            break;
          case 'halved':
            this.batchSize = msg.size;
            this.ctx.counters.add('batch_halved');
            this.ctx.counters.set('batch_size', msg.size);
            this.problem('batch_halved', `sysmon: the event log refused the batch size (error ${msg.error}); now ${msg.size}, resubscribed from the bookmark`);
            break;
          case 'problem':
            this.ctx.counters.error('receive', msg.kind);
            this.problem(msg.kind, `sysmon: ${msg.message}`);
            break;
          case 'error':
            failed(new SysmonError(CODES[msg.failure], `sysmon: ${advice(msg.failure, this.config.channel)} — ${msg.message}`, { details: { win32: msg.error, call: msg.call } }));
            break;
          case 'done':
            this.ctx.logger.info({ file: data.from, events: this.delivered }, `sysmon: read ${this.delivered} events of ${data.from}`);
            break;
        }
      });
    });
  }

  /** Log a kind of problem once; every occurrence is counted by the caller. */
  private problem(kind: string, message: string): void {
    if (this.problemsLogged.has(kind)) return;
    this.problemsLogged.add(kind);
    this.ctx.logger.warn({ kind }, message);
  }

  private onBatch(records: readonly WindowsRecord[], bookmark: string | undefined, xmlRendered: number): void {
    const { counters } = this.ctx;
    counters.received += records.length;
    if (xmlRendered > 0) counters.add('rendered_as_xml', xmlRendered);
    for (const rec of records) {
      const d = normalizeWindowsEvent(rec);
      if (d.time === 0) counters.add('records_without_time');
      this.emit(d);
    }
    this.delivered += records.length;
    if (bookmark !== undefined) {
      try {
        // Written beside and renamed over: a crash mid-write never leaves half a bookmark.
        const p = this.bookmarkPath;
        const tmp = `${p}.tmp`;
        writeFileSync(tmp, bookmark, { mode: 0o600 });
        renameSync(tmp, p);
      } catch (err) {
        counters.error('receive', 'bookmark_write');
        if (!this.stopped) this.ctx.fail(new SysmonError('VIGIL_ERR_SYSMON_BOOKMARK', `sysmon: cannot save the bookmark in ${this.ctx.dataDir}`, { cause: err }));
        return;
      }
    }
    Atomics.add(this.control, 1, 1);
    Atomics.notify(this.control, 1);
  }

  private emit(draft: EventDraft): void {
    try {
      void this.ctx.emit(draft);
    } catch (err) {
      this.ctx.counters.error('send', err instanceof Error ? err.name : 'unknown');
      this.ctx.counters.discard('emit_rejected');
      if (!this.emitRefused) {
        this.emitRefused = true;
        this.ctx.logger.warn({ err, type: draft.type }, 'sysmon: emit refused');
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    Atomics.store(this.control, 0, 1);
    Atomics.notify(this.control, 1);
    if (this.closed) await this.closed;
  }
}
