/**
 * The ETW sensor, main-thread side: stops a leftover session of its name, starts the
 * real-time session, enables the configured providers, starts the trace thread
 * (trace-worker.ts: OpenTraceW + ProcessTrace) and maps what it posts to events. Lost-event
 * counters (ControlTraceW QUERY) are reported as drops. The session is stopped on every exit
 * path: stop(), the disposer registered when the session was acquired (run by the core after
 * stop, a failed start, or a crash attributed to the plugin), and a process 'exit' hook for
 * an agent that exits without stopping its plugins.
 */
import { Worker } from 'node:worker_threads';
import type { EventDraft, SensorContext, SensorInstance } from '../../../core/index.js';
import {
  bindEtw,
  ERROR_ACCESS_DENIED,
  ERROR_ALREADY_EXISTS,
  ERROR_CTX_CLOSE_PENDING,
  ERROR_NO_SYSTEM_RESOURCES,
  ERROR_SUCCESS,
  ERROR_WMI_INSTANCE_NOT_FOUND,
  guidBytes,
  type EtwApi,
  type EtwDlls,
  type SessionStats,
} from '../../../driver/ffi/windows/etw.js';
import type { EtwConfig } from './config.js';
import { EtwError } from './errors.js';
import type { DecodedEvent } from './decode.js';
import { EtwMapper } from './map.js';
import type { TraceMessage, TraceTallies, TraceWorkerData } from './trace-worker.js';

export interface EtwSensorOptions {
  /** DLLs to bind instead of the system's (tests: a double exporting both sets of calls). */
  readonly dlls?: EtwDlls;
}

interface Provider {
  readonly name: string;
  readonly guid: string;
  readonly level: number;
  readonly keywords: bigint;
}

export class EtwSensor implements SensorInstance {
  private etw: EtwApi | undefined;
  private session: bigint | undefined;
  private consumer: bigint | undefined;
  private worker: Worker | undefined;
  private workerExited: Promise<void> | undefined;
  private readonly stopFlag = new Int32Array(new SharedArrayBuffer(4));
  private statsTimer: NodeJS.Timeout | undefined;
  private started = false;
  private stopped = false;
  private readonly mapper: EtwMapper;
  private readonly reported = new Map<string, number>();
  private readonly warned = new Set<string>();
  private readonly exitHook = (): void => this.stopSession('exit');
  /** Providers enabled, by name. */
  providers: string[] = [];

  constructor(
    private readonly ctx: SensorContext,
    private readonly config: EtwConfig,
    private readonly options: EtwSensorOptions = {},
  ) {
    this.mapper = new EtwMapper(config.max_processes);
  }

  async start(): Promise<void> {
    if (this.started || this.stopped) return;
    this.started = true;
    if (process.platform !== 'win32') throw new EtwError('VIGIL_ERR_ETW_PLATFORM', `etw: runs on Windows only (this is ${process.platform})`);
    const providers = this.parseProviders();
    try {
      this.etw = await bindEtw(this.options.dlls);
    } catch (err) {
      throw new EtwError('VIGIL_ERR_ETW_BIND', `etw: cannot bind advapi32 / tdh: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    const name = this.config.session_name;
    this.stopLeftover('a leftover session');
    this.session = this.startSession();
    // Acquired: from here every exit path stops it.
    this.ctx.defer(() => this.stopSession('dispose'));
    process.on('exit', this.exitHook);
    try {
      for (const p of providers) {
        const rc = this.etw.enableProvider(this.session, p.guid, { level: p.level, keywords: p.keywords });
        if (rc !== ERROR_SUCCESS) {
          throw new EtwError(
            rc === ERROR_ACCESS_DENIED ? 'VIGIL_ERR_ETW_ACCESS_DENIED' : 'VIGIL_ERR_ETW_ENABLE',
            `etw: EnableTraceEx2 of ${p.name || p.guid} {${p.guid}} failed with Win32 error ${rc}`,
            { details: { provider: p.guid, error: rc } },
          );
        }
        this.providers.push(p.name || p.guid);
      }
      await this.startWorker();
    } catch (err) {
      await this.stop();
      throw err;
    }
    this.ctx.counters.set('providers_enabled', providers.length);
    this.statsTimer = setInterval(() => this.queryStats(), this.config.stats_interval_ms);
    // The trace thread keeps the process alive; the timer need not.
    this.statsTimer.unref();
    this.ctx.logger.info({ session: name, providers: this.providers }, `etw: real-time session ${name} with ${providers.length} providers`);
  }

  private parseProviders(): Provider[] {
    return this.config.providers.map((p) => {
      try {
        guidBytes(p.guid);
        return { name: p.name, guid: p.guid.replace(/[{}]/g, '').toUpperCase(), level: p.level, keywords: BigInt(p.keywords) };
      } catch (err) {
        throw new EtwError('VIGIL_ERR_ETW_CONFIG', `etw: provider ${JSON.stringify(p)}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
    });
  }

  /** ControlTraceW STOP by name; true when a session was there. Access denied is the clear error. */
  private stopLeftover(what: string): boolean {
    const name = this.config.session_name;
    const r = this.etw!.stopTrace(name);
    if (r.ok) {
      this.ctx.counters.add('sessions_stopped_by_name');
      this.reportLost(r.value);
      this.ctx.logger.warn({ session: name }, `etw: stopped ${what} named ${name}`);
      return true;
    }
    if (r.error === ERROR_WMI_INSTANCE_NOT_FOUND) return false;
    if (r.error === ERROR_ACCESS_DENIED) throw this.accessDenied('ControlTraceW(STOP)');
    this.ctx.counters.error('start', `stop_by_name:${r.error}`);
    this.ctx.logger.warn({ session: name, error: r.error }, `etw: stopping ${what} named ${name} failed with Win32 error ${r.error}`);
    return false;
  }

  private accessDenied(call: string): EtwError {
    return new EtwError(
      'VIGIL_ERR_ETW_ACCESS_DENIED',
      `etw: ${call} of session ${this.config.session_name} was refused (access denied): the agent is not elevated. Run \`vigil run\` from an elevated prompt (Run as administrator) or as a service under LocalSystem.`,
    );
  }

  private startSession(): bigint {
    const name = this.config.session_name;
    const options = { bufferKb: this.config.buffer_kb, minBuffers: this.config.min_buffers, maxBuffers: this.config.max_buffers, flushSeconds: this.config.flush_seconds };
    let r = this.etw!.startTrace(name, options);
    if (!r.ok && r.error === ERROR_ALREADY_EXISTS) {
      // Another session took the name meanwhile: stop it and try once more.
      this.stopLeftover('a session in the way');
      r = this.etw!.startTrace(name, options);
      if (!r.ok && r.error === ERROR_ALREADY_EXISTS) {
        throw new EtwError(
          'VIGIL_ERR_ETW_SESSION_IN_USE',
          `etw: session name ${name} is in use: StartTraceW returned ERROR_ALREADY_EXISTS (183) again after stopping the session of that name once. Another agent or tool holds it; stop it (\`logman stop ${name} -ets\`) or set plugins.etw.config.session_name to another name.`,
          { details: { session: name, error: ERROR_ALREADY_EXISTS } },
        );
      }
    }
    if (r.ok) return r.value;
    if (r.error === ERROR_ACCESS_DENIED) throw this.accessDenied('StartTraceW');
    const hint = r.error === ERROR_NO_SYSTEM_RESOURCES ? ' (all 64 system-wide trace sessions are in use: `logman query -ets` lists them)' : '';
    throw new EtwError('VIGIL_ERR_ETW_START', `etw: StartTraceW(${name}) failed with Win32 error ${r.error}${hint}`, { details: { error: r.error } });
  }

  private startWorker(): Promise<void> {
    const dlls = this.options.dlls ?? {};
    const data: TraceWorkerData = {
      ...(dlls.advapi32 !== undefined ? { advapi32: dlls.advapi32 } : {}),
      ...(dlls.tdh !== undefined ? { tdh: dlls.tdh } : {}),
      sessionName: this.config.session_name,
      maxBatch: this.config.max_batch_events,
      maxSchemas: this.config.max_schemas,
      stop: this.stopFlag.buffer as SharedArrayBuffer,
    };
    const worker = new Worker(new URL('./trace-worker.js', import.meta.url), { workerData: data });
    this.worker = worker;
    return new Promise((resolve, reject) => {
      let opened = false;
      this.workerExited = new Promise<void>((done) => {
        worker.once('exit', (code) => {
          this.worker = undefined;
          if (!opened) reject(new EtwError('VIGIL_ERR_ETW_OPEN', `etw: the trace thread ended (exit code ${code}) before the session was opened`));
          else if (!this.stopped) this.ctx.fail(new EtwError('VIGIL_ERR_ETW_PROCESS', `etw: the trace thread ended unasked (exit code ${code})`));
          done();
        });
      });
      worker.on('error', (err) => {
        this.ctx.counters.error(opened ? 'receive' : 'start', err.name);
        if (!opened) reject(new EtwError('VIGIL_ERR_ETW_OPEN', `etw: the trace thread failed: ${err.message}`, { cause: err }));
        else if (!this.stopped) this.ctx.fail(new EtwError('VIGIL_ERR_ETW_PROCESS', `etw: the trace thread failed: ${err.message}`, { cause: err }));
      });
      worker.on('message', (msg: TraceMessage) => {
        switch (msg.t) {
          case 'opened':
            opened = true;
            this.consumer = msg.handle;
            resolve();
            break;
          case 'error': {
            const err = new EtwError(msg.code, `etw: ${msg.message}`, { details: { error: msg.error } });
            this.ctx.counters.error(opened ? 'receive' : 'start', msg.code);
            if (!opened) reject(err);
            else if (!this.stopped) this.ctx.fail(err);
            break;
          }
          case 'events':
            this.deliver(msg.events);
            this.onTallies(msg.tallies);
            break;
          case 'ended':
            this.onTallies(msg.tallies);
            this.consumer = undefined;
            if (!this.stopped) this.ctx.fail(new EtwError('VIGIL_ERR_ETW_PROCESS', `etw: ProcessTrace returned ${msg.status} while the sensor ran`));
            break;
        }
      });
    });
  }

  private deliver(events: readonly DecodedEvent[]): void {
    const { counters } = this.ctx;
    counters.received += events.length;
    for (const ev of events) {
      const out = this.mapper.map(ev);
      if ('skipped' in out) {
        counters.add(`skipped:${out.skipped}`);
        continue;
      }
      this.emit(out.draft);
    }
    counters.set('processes', this.mapper.processes);
    if (this.mapper.tableFull > 0) {
      counters.set('process_table_full', this.mapper.tableFull);
      this.warnOnce('table', { max_processes: this.config.max_processes }, 'etw: the process table is full; new processes are not remembered (parents and stop images stay unknown)');
    }
  }

  private onTallies(t: TraceTallies): void {
    const { counters } = this.ctx;
    counters.set('records', t.records);
    for (const [err, n] of Object.entries(t.noSchema)) {
      if (this.delta(`tdh_no_schema:${err}`, n) > 0) this.warnOnce(`tdh:${err}`, { error: Number(err) }, 'etw: TdhGetEventInformation has no schema for some events; they are dropped');
    }
    if (this.delta('schema_cache_full', t.cacheFull) > 0) this.warnOnce('cache', { max_schemas: this.config.max_schemas }, 'etw: the schema cache is full; events of new kinds are dropped');
    const failed = this.deltaOf('parse_error', t.failed);
    if (failed > 0) {
      counters.error('receive', 'decode', failed);
      counters.discard('parse_error', failed);
      this.warnOnce('decode', { reason: t.lastFailure }, 'etw: undecodable event records');
    }
    counters.set('records_partly_decoded', t.partial);
    if (t.partial > 0) this.warnOnce('partial', { reason: t.lastPartial }, 'etw: some events were decoded only in part');
  }

  private queryStats(): void {
    if (this.stopped || !this.etw) return;
    const r = this.etw.queryTrace(this.config.session_name);
    if (r.ok) this.reportLost(r.value);
    else {
      this.ctx.counters.error('receive', `query:${r.error}`);
      this.warnOnce(`query:${r.error}`, { error: r.error }, 'etw: ControlTraceW(QUERY) failed; lost-event counts are not updated');
    }
  }

  /** The session's counters are totals; drops get what is new since last time. */
  private reportLost(s: SessionStats): void {
    this.ctx.counters.set('etw_events_lost', s.eventsLost);
    this.ctx.counters.set('etw_realtime_buffers_lost', s.realTimeBuffersLost);
    this.delta('etw_events_lost', s.eventsLost);
    this.delta('etw_realtime_buffers_lost', s.realTimeBuffersLost);
  }

  /** Discard what a total grew by since it was last reported; returns the growth. */
  private delta(reason: string, total: number): number {
    const n = this.deltaOf(reason, total);
    if (n > 0) this.ctx.counters.discard(reason, n);
    return n;
  }

  private deltaOf(reason: string, total: number): number {
    const prev = this.reported.get(reason) ?? 0;
    this.reported.set(reason, Math.max(prev, total));
    return total > prev ? total - prev : 0;
  }

  private warnOnce(key: string, obj: Record<string, unknown>, msg: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.ctx.logger.warn(obj, msg);
  }

  /**
   * Stop the session (its final counters are reported) and close the consumer, so that
   * ProcessTrace returns. Synchronous: it also runs from the process 'exit' hook.
   */
  private stopSession(why: string): void {
    const etw = this.etw;
    Atomics.store(this.stopFlag, 0, 1);
    if (!etw) return;
    if (this.session !== undefined) {
      const r = etw.stopTrace(this.config.session_name, this.session);
      this.session = undefined;
      if (r.ok) this.reportLost(r.value);
      else if (r.error !== ERROR_WMI_INSTANCE_NOT_FOUND) {
        this.ctx.counters.error('stop', `stop_trace:${r.error}`);
        this.ctx.logger.warn({ error: r.error, why }, `etw: ControlTraceW(STOP) of ${this.config.session_name} failed with Win32 error ${r.error}`);
      }
    }
    if (this.consumer !== undefined) {
      const rc = etw.closeTrace(this.consumer);
      this.consumer = undefined;
      // ERROR_CTX_CLOSE_PENDING: closed; ProcessTrace returns once the buffered events are delivered.
      if (rc !== ERROR_SUCCESS && rc !== ERROR_CTX_CLOSE_PENDING) {
        this.ctx.counters.error('stop', `close_trace:${rc}`);
        this.ctx.logger.warn({ error: rc, why }, `etw: CloseTrace failed with Win32 error ${rc}`);
      }
    }
    process.off('exit', this.exitHook);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.statsTimer) clearInterval(this.statsTimer);
    this.statsTimer = undefined;
    this.stopSession('stop');
    const worker = this.worker;
    if (worker && this.workerExited) {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        this.workerExited.then(() => false),
        new Promise<boolean>((r) => (timer = setTimeout(() => r(true), this.config.stop_timeout_ms))),
      ]);
      clearTimeout(timer);
      if (timedOut) {
        this.ctx.counters.error('stop', 'trace_thread_timeout');
        this.ctx.logger.warn({ timeout_ms: this.config.stop_timeout_ms }, 'etw: the trace thread did not end after the session was closed; terminating it');
        // A thread blocked inside ProcessTrace cannot be interrupted until the call returns:
        // terminate without waiting, and let the process exit without it.
        worker.unref();
        worker.terminate().catch((err: unknown) => {
          this.ctx.counters.error('stop', 'trace_thread_terminate');
          this.ctx.logger.warn({ err }, 'etw: terminating the trace thread failed');
        });
      }
    }
  }

  private emit(draft: EventDraft): void {
    try {
      void this.ctx.emit(draft);
      this.ctx.counters.add(`events:${draft.type}`);
    } catch (err) {
      this.ctx.counters.error('send', err instanceof Error ? err.name : 'unknown');
      this.ctx.counters.discard('emit_rejected');
      this.warnOnce(`emit:${draft.type}`, { err, type: draft.type }, 'etw: emit refused');
    }
  }
}
