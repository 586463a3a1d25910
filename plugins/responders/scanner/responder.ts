import { existsSync } from 'node:fs';
import { platform as osPlatform } from 'node:os';
import { WORKER_POOL, isVigilError, type ActionRequest, type ActionResult, type ProcessInfo, type ResponderContext, type ResponderInstance, type ScanInfo, type WorkerPool } from '../../../core/index.js';
import { DEFAULT_CLOCK_TICKS, readClockTicks } from '../../../lib/procfs/index.js';
import { ScanCache } from './cache.js';
import type { ScannerConfig } from './config.js';
import { ScannerError, errorKind } from './errors.js';
import { ImageHashes, identityOf, liveProcess, readProcClock, sameProcess, type ProcClock } from './identity.js';
import { SCAN_TASKS } from './manifest.js';
import { REASON_EXITED, REASON_IDENTITY } from './engines.js';
import { loadRuleSet } from './ruleset.js';
import { RECYCLE_EXIT_CODE, toolTimeoutMs, type FileTask, type MemoryTask, type RuleSetRef, type TaskOutput } from './scans.js';

/** The worker task module beside this file (`.ts` when run from the sources under tsx, whose loader the pool's threads inherit). */
export const WORKER_MODULE = new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url).href;

/** How often a task that landed on a retiring worker is run again (each retirement costs one). */
const MAX_RECYCLE_RETRIES = 3;

export interface ScannerOptions {
  /** Another /proc (tests). */
  readonly procRoot?: string;
  /** Another platform's scanner (tests of the Windows path on Linux). */
  readonly platform?: NodeJS.Platform;
}

type Outcome = { status: ActionResult['status']; outcome: string; reason?: string; scan: ScanInfo };

/**
 * Performs `memscan` and `filescan` requests: checks the target's identity, answers from the
 * cache when the same (identity, image) was scanned within the TTL, else runs the scan in the
 * core worker pool with the configured timeout. Every request gets one ActionResult and one
 * `scan.result` event; a refused, timed-out or crashed task is a `failed` result and a
 * `scan.result` with verdict `error`, never an exception.
 */
export class ScannerResponder implements ResponderInstance {
  private state: 'created' | 'running' | 'stopped' = 'created';
  private pool: WorkerPool | undefined;
  private rules: RuleSetRef | undefined;
  private clock: ProcClock | undefined;
  private readonly cache: ScanCache;
  private readonly hashes = new ImageHashes();
  private readonly warned = new Set<string>();
  private readonly platform: NodeJS.Platform;
  private readonly procRoot: string;

  constructor(
    private readonly ctx: ResponderContext<ScannerConfig>,
    private readonly options: ScannerOptions = {},
  ) {
    this.cache = new ScanCache(ctx.config.cache.max_entries, ctx.config.cache.ttl_seconds * 1000);
    this.platform = options.platform ?? osPlatform();
    this.procRoot = options.procRoot ?? '/proc';
  }

  /** Reads and checks the rule set (a set an engine refuses fails start, with the reason) and registers the tasks. */
  async start(): Promise<void> {
    if (this.state !== 'created') return;
    const { ctx } = this;
    const y = ctx.config.yara;
    // The agent's config load refuses a rule path that names nothing (x-vigil-path); one that
    // vanished since is counted and said once, and the rest load: scans still judge regions.
    const paths: string[] = [];
    for (const p of y.rule_paths.map((r) => ctx.resolvePath(r))) {
      if (existsSync(p)) paths.push(p);
      else {
        ctx.counters.error('load', 'rule_path_missing');
        ctx.logger.warn({ path: p }, 'YARA rule path does not exist; scanning without its rules');
      }
    }
    this.rules = await loadRuleSet(paths, y.engine, y.check_engines);
    ctx.counters.set('yara_sources', this.rules.sources.length);
    this.pool = ctx.container.resolve<WorkerPool>(WORKER_POOL);
    this.pool.register(SCAN_TASKS.memory, WORKER_MODULE, 'memory');
    this.pool.register(SCAN_TASKS.file, WORKER_MODULE, 'file');
    if (this.platform === 'linux') {
      const ticks = await readClockTicks(ctx.signal);
      if (ticks === undefined) ctx.logger.warn({ assumed: DEFAULT_CLOCK_TICKS }, 'getconf CLK_TCK unavailable; assuming 100 clock ticks per second');
      this.clock = await readProcClock(this.procRoot, ticks ?? DEFAULT_CLOCK_TICKS);
      if (!this.clock) throw new ScannerError('VIGIL_ERR_SCANNER_TARGET', `${this.procRoot}/stat has no btime line: process identities cannot be checked`);
    }
    ctx.logger.info({ engine: this.rules.engine, sources: this.rules.sources.length }, 'scanner ready');
    this.state = 'running';
  }

  async onActions(batch: readonly ActionRequest[]): Promise<void> {
    if (this.state !== 'running') {
      this.ctx.counters.discard('plugin_not_running', batch.length);
      return;
    }
    // Scans of one batch run side by side; the pool's queue bounds them.
    await Promise.all(batch.map((req) => this.handle(req)));
  }

  private async handle(req: ActionRequest): Promise<void> {
    const { ctx } = this;
    ctx.counters.received++;
    let out: Outcome;
    try {
      out = req.action === 'filescan' ? await this.fileScan(req) : await this.memScan(req);
    } catch (err) {
      // Reading /proc or hashing failed in a way no outcome covers: counted, still answered.
      ctx.counters.error('process', errorKind(err));
      const reason = `${req.action} failed: ${err instanceof Error ? err.message : String(err)}`;
      out = { status: 'failed', outcome: 'failed', reason, scan: { verdict: 'error', reason } };
    }
    const scan: ScanInfo = { ...out.scan, request_id: req.id };
    // Time spent scanning (not cached answers): how busy the scans keep the pool.
    if (!scan.cached && scan.duration_ms !== undefined) ctx.counters.add('scan_ms_total', scan.duration_ms);
    this.emitScan(req.action === 'memscan' && req.params['of'] === 'target' ? evidenceTarget(req) : req.target, scan);
    ctx.counters.add(`${req.action}_${out.outcome}`);
    if (out.status === 'failed') this.warnOnce(req, out.reason ?? '');
    const result: ActionResult = {
      request_id: req.id,
      detection_id: req.detection.id,
      action: req.action,
      responder: ctx.id,
      status: out.status,
      outcome: out.outcome,
      ...(out.reason !== undefined ? { reason: out.reason } : {}),
      details: {
        verdict: scan.verdict ?? 'error',
        findings: scan.findings ?? [],
        rules: scan.rules ?? [],
        ...(scan.scanner !== undefined ? { scanner: scan.scanner } : {}),
        ...(scan.cached ? { cached: true } : {}),
        ...(scan.regions ? { regions: scan.regions.length } : {}),
      },
      time: Date.now(),
    };
    ctx.counters.emitted++;
    ctx.result(result);
  }

  /** A failed scan is counted every time (`<action>_failed`, the error stage) and said once per kind of reason. */
  private warnOnce(req: ActionRequest, reason: string): void {
    const kind = `${req.action}:${/VIGIL_ERR_[A-Z_]+/.exec(reason)?.[0] ?? reason.split(':')[0]}`;
    if (this.warned.has(kind) || this.warned.size >= 64) return;
    this.warned.add(kind);
    this.ctx.logger.warn({ action: req.action, pid: req.target?.pid, reason }, 'scan failed (said once per kind; counted in the scanner counters)');
  }

  private emitScan(target: ProcessInfo | undefined, scan: ScanInfo): void {
    // The scanned process is both `target` (what was scanned) and `proc` (what a rule on the
    // result is about: its actor, so a response to a finding acts on the scanned process).
    const who = target ? scannedProcess(target) : undefined;
    this.ctx.emit({ type: 'scan.result', time: Date.now(), ...(who ? { proc: who, target: who } : {}), scan });
  }

  private async memScan(req: ActionRequest): Promise<Outcome> {
    const of = req.params['of'] ?? 'actor';
    if (of !== 'actor' && of !== 'target') {
      const reason = `memscan params.of must be "actor" or "target", not ${JSON.stringify(of)}`;
      return { status: 'failed', outcome: 'failed', reason, scan: { verdict: 'error', reason } };
    }
    // `of: target`: the process the evidence acted on (the tracee of a ptrace, the process a
    // remote thread went into), whose identity this scan checks itself like the actor's.
    const t = of === 'target' ? evidenceTarget(req) : req.target;
    const identity = t ? identityOf(t) : undefined;
    if (!t || t.pid === undefined || identity === undefined) {
      const reason = 'no target identity: a memory scan needs a pid with its start time, or a guid';
      return { status: 'skipped', outcome: 'no_identity', reason, scan: { verdict: 'skipped', reason } };
    }
    const pid = t.pid;
    let image: string | undefined = t.image;
    if (this.platform === 'linux' && this.clock) {
      const live = await liveProcess(pid, this.clock, this.procRoot);
      if (!live) {
        const reason = `pid ${pid} does not exist (it exited before the scan)`;
        return { status: 'skipped', outcome: 'not_found', reason, scan: { scanner: 'linux-memory', verdict: 'skipped', reason } };
      }
      if (!sameProcess(t, live, this.clock)) {
        const reason = `pid ${pid} names another process now (started ${new Date(live.startTime).toISOString()}): not scanned`;
        return { status: 'skipped', outcome: 'identity_mismatch', reason, scan: { scanner: 'linux-memory', verdict: 'skipped', reason } };
      }
      image = `${this.procRoot}/${pid}/exe`;
    }
    const key = await this.cacheKey(identity, image);
    const cached = key === undefined ? undefined : this.cache.get(key, Date.now());
    this.countCache();
    if (cached) return this.done({ ...cached, cached: true });
    const c = this.ctx.config;
    const task: MemoryTask = {
      pid,
      identity,
      ...(t.start_time !== undefined ? { expectStartTime: t.start_time } : {}),
      rules: this.rules!,
      platform: this.platform,
      linux: {
        maxRegionBytes: c.linux.max_region_bytes,
        maxTotalBytes: c.linux.max_total_bytes,
        jitAllow: c.linux.jit_allow,
        compareElf: c.linux.compare_elf,
        ...(this.options.procRoot !== undefined ? { procRoot: this.options.procRoot } : {}),
      },
      windows: {
        scanner: c.windows.scanner,
        binary: this.ctx.resolvePath(c.windows.scanner === 'hollows-hunter' ? c.windows.hollows_hunter_binary : c.windows.pe_sieve_binary),
        extraArgs: c.windows.extra_args,
        // Made (0700) only where the Windows tools write into it.
        reportDir: this.platform === 'win32' ? this.ctx.files.dir(this.ctx.resolvePath(c.windows.report_dir)) : this.ctx.resolvePath(c.windows.report_dir),
        timeoutMs: toolTimeoutMs(c.timeout_seconds),
      },
      recycleWasmAfter: c.recycle_wasm_after,
    };
    const scan = await this.runTask(SCAN_TASKS.memory, task);
    // The Linux scanner re-checks the identity itself, before and after reading.
    if (scan.verdict === 'error' && scan.reason === REASON_IDENTITY) return { status: 'skipped', outcome: 'identity_mismatch', reason: `pid ${pid}: ${scan.reason}`, scan: { ...scan, verdict: 'skipped' } };
    if (scan.verdict === 'error' && scan.reason === REASON_EXITED) return { status: 'skipped', outcome: 'not_found', reason: `pid ${pid}: ${scan.reason}`, scan: { ...scan, verdict: 'skipped' } };
    if (scan.verdict === 'error') return { status: 'failed', outcome: 'failed', reason: scan.reason ?? 'the scan failed', scan };
    // A pid reused during the scan: the bytes read may be another process's. Fail closed.
    if (this.platform === 'linux' && this.clock) {
      const after = await liveProcess(pid, this.clock, this.procRoot);
      if (after && !sameProcess(t, after, this.clock)) {
        const reason = `pid ${pid} was reused during the scan: result discarded`;
        return { status: 'skipped', outcome: 'identity_mismatch', reason, scan: { scanner: scan.scanner ?? 'linux-memory', verdict: 'skipped', reason } };
      }
    }
    if (key !== undefined) this.cache.set(key, scan, Date.now());
    this.countCache();
    return this.done(scan);
  }

  private async fileScan(req: ActionRequest): Promise<Outcome> {
    const given = req.params['path'];
    const path = typeof given === 'string' && given !== '' ? given : req.target?.image;
    if (path === undefined) {
      const reason = 'filescan needs params.path or a target with an image';
      return { status: 'failed', outcome: 'failed', reason, scan: { scanner: 'yara-file', verdict: 'error', reason } };
    }
    const key = await this.cacheKey(`file:${path}`, path);
    const cached = key === undefined ? undefined : this.cache.get(key, Date.now());
    this.countCache();
    if (cached) return this.done({ ...cached, cached: true });
    const f = this.ctx.config.file;
    const task: FileTask = {
      path,
      rules: this.rules!,
      maxBytes: f.max_bytes,
      chunkBytes: f.chunk_bytes,
      overlapBytes: f.overlap_bytes,
      recycleWasmAfter: this.ctx.config.recycle_wasm_after,
    };
    const scan = await this.runTask(SCAN_TASKS.file, task);
    if (scan.verdict === 'error') return { status: 'failed', outcome: 'failed', reason: scan.reason ?? 'the scan failed', scan };
    if (key !== undefined) this.cache.set(key, scan, Date.now());
    this.countCache();
    return this.done(scan);
  }

  private done(scan: ScanInfo): Outcome {
    const n = scan.regions?.length ?? 0;
    const hits = scan.rules?.length ?? 0;
    const reason = `${scan.scanner ?? 'scan'}: ${scan.verdict ?? 'unknown'}${n > 0 ? `, ${n} flagged region${n === 1 ? '' : 's'}` : ''}${hits > 0 ? `, YARA ${scan.rules!.join(', ')}` : ''}${scan.cached ? ' (cached)' : ''}`;
    return { status: 'done', outcome: 'done', reason, scan };
  }

  /** The cache key, or none when the image cannot be hashed (then the scan is not cached). */
  private async cacheKey(identity: string, image: string | undefined): Promise<string | undefined> {
    if (this.ctx.config.cache.max_entries === 0 || image === undefined) return undefined;
    try {
      return ScanCache.key(identity, await this.hashes.sha256(image, this.ctx.signal));
    } catch (err) {
      // Unreadable image (a process exiting, a file we may not read): scanned, not cached.
      this.ctx.counters.error('process', `image_hash:${errorKind(err)}`);
      if (!this.warned.has('image_hash')) {
        this.warned.add('image_hash');
        this.ctx.logger.warn({ image, err: err instanceof Error ? err.message : String(err) }, 'cannot hash a scanned image: its scans are not cached (said once; counted)');
      }
      return undefined;
    }
  }

  private countCache(): void {
    const { counters } = this.ctx;
    counters.set('cache_entries', this.cache.size);
    counters.set('cache_hits', this.cache.hits);
    counters.set('cache_misses', this.cache.misses);
    counters.set('cache_evictions', this.cache.evictions);
    counters.set('cache_expirations', this.cache.expirations);
    counters.set('image_hash_evictions', this.hashes.evicted);
  }

  /** A pool task as a ScanInfo: a full queue, a timeout or a crash is a verdict `error` with the reason. */
  private async runTask(name: string, payload: MemoryTask | FileTask): Promise<ScanInfo> {
    const pool = this.pool!;
    const timeoutMs = this.ctx.config.timeout_seconds * 1000;
    for (let attempt = 0; ; attempt++) {
      try {
        const out = await pool.run<TaskOutput>(name, payload, { timeoutMs, signal: this.ctx.signal });
        return out.scan;
      } catch (err) {
        if (attempt < MAX_RECYCLE_RETRIES && isRecycled(err)) {
          this.ctx.counters.add('workers_recycled');
          continue;
        }
        const code = isVigilError(err) ? err.code : errorKind(err);
        this.ctx.counters.error('process', `${name}:${code}`);
        const why = err instanceof Error ? err.message : String(err);
        return { ...(name === SCAN_TASKS.file ? { scanner: 'yara-file' } : {}), verdict: 'error', reason: `${code}: ${why}` };
      }
    }
  }

  stop(): Promise<void> {
    this.state = 'stopped';
    return Promise.resolve();
  }
}

/** The `target` of the newest evidence event that names one with a pid. */
function evidenceTarget(req: ActionRequest): ProcessInfo | undefined {
  const ev = req.detection.evidence;
  for (let i = ev.length - 1; i >= 0; i--) {
    const t = ev[i]?.target;
    if (t?.pid !== undefined) return t;
  }
  return undefined;
}

/** Whether a task failed because its worker retired (libyara-wasm recycling), not because of the scan. */
function isRecycled(err: unknown): boolean {
  const re = new RegExp(`worker exited with code:? ${RECYCLE_EXIT_CODE}\\b`);
  for (let e: unknown = err; e instanceof Error; e = e.cause) if (re.test(e.message)) return true;
  return false;
}

/** The identity fields of the scanned process, for the scan.result event. */
function scannedProcess(t: ProcessInfo): ProcessInfo {
  const p: ProcessInfo = {};
  for (const k of ['pid', 'guid', 'start_time', 'image', 'name', 'cmdline', 'ppid', 'parent_guid', 'user', 'uid'] as const) {
    if (t[k] !== undefined) (p as Record<string, unknown>)[k] = t[k];
  }
  return p;
}
