/**
 * The driver sensor: connects to the Vigil driver (protocol negotiated), sends the protection
 * policy (lsass.exe always, the configured images, monitor or enforce), keeps reads pending on
 * a worker thread, turns records into events and runs the callback canary.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { SensorContext, SensorInstance } from '../../../core/index.js';
import * as P from '../../../driver/protocol/protocol.js';
import type { DriverRecord } from '../../../driver/protocol/records.js';
import { openDriver, type DriverDevice, type Reader } from '../../../driver/ffi/windows/driver.js';
import { CanaryMonitor } from './canary.js';
import type { DriverConfig } from './config.js';
import { DriverSensorError } from './errors.js';
import { normalizeDriverRecord, type ImageLookup } from './normalize.js';

/** The protected set the driver gets: lsass.exe first, always, then the configured names. */
export function driverPolicy(cfg: Pick<DriverConfig, 'mode' | 'protect_images' | 'allow_images'>): P.POLICY {
  const mode = cfg.mode === 'enforce' ? P.C.MODE_ENFORCE : P.C.MODE_MONITOR;
  const names = ['lsass.exe', ...cfg.protect_images.filter((n) => n.toLowerCase() !== 'lsass.exe')].slice(0, P.C.MAX_POLICY_ENTRIES);
  const allow = cfg.allow_images.slice(0, P.C.MAX_POLICY_ENTRIES);
  return {
    ...P.ZERO_POLICY(),
    default_mode: mode,
    protected_count: names.length,
    allow_count: allow.length,
    protected: names.map((name) => ({ pid: 0, mode: P.C.MODE_NONE, create_time: 0n, name })),
    allow: allow.map((name) => ({ pid: 0, mode: P.C.MODE_NONE, create_time: 0n, name })),
  };
}

/** Process canaries are armed under this bit plus the child's pid (handle canaries use random 63-bit nonces). */
export const PROCESS_CANARY = 1n << 63n;

/** pid + creation time → image, bounded (insertion order: the oldest goes first). */
class ProcessImages implements ImageLookup {
  private readonly map = new Map<string, string>();
  evicted = 0;

  constructor(private readonly max: number) {}

  set(pid: number, ct: bigint, image: string): void {
    if (this.map.size >= this.max) {
      const oldest = this.map.keys().next().value;
      if (oldest !== undefined) this.map.delete(oldest);
      this.evicted++;
    }
    this.map.set(`${pid}:${ct}`, image);
  }

  delete(pid: number, ct: bigint): void {
    this.map.delete(`${pid}:${ct}`);
  }

  image(pid: number, ct: bigint): string | undefined {
    return this.map.get(`${pid}:${ct}`);
  }
}

export class DriverSensor implements SensorInstance {
  private device: DriverDevice | undefined;
  private reader: Reader | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly images: ProcessImages;
  readonly canary: CanaryMonitor;

  constructor(
    private readonly ctx: SensorContext,
    private readonly cfg: DriverConfig,
  ) {
    this.images = new ProcessImages(cfg.max_processes);
    this.canary = new CanaryMonitor(cfg.canary_deadline_ms);
  }

  async start(): Promise<void> {
    if (process.platform !== 'win32') throw new DriverSensorError('VIGIL_ERR_DRIVER_PLATFORM', `the driver sensor runs on Windows only, not ${process.platform}`);
    const c = await openDriver(this.cfg.device);
    if (!c.ok) throw new DriverSensorError(c.reason === 'protocol' ? 'VIGIL_ERR_DRIVER_PROTOCOL' : 'VIGIL_ERR_DRIVER_OPEN', c.message);
    const dev = c.device;
    this.device = dev;
    this.ctx.defer(() => dev.close());
    const set = dev.setPolicy(driverPolicy(this.cfg));
    if (!set.ok) throw new DriverSensorError('VIGIL_ERR_DRIVER_POLICY', `${set.call} failed with error ${set.error}`);
    this.ctx.counters.set('test_build', c.hello.build_flags & P.C.BUILD_TEST ? 1 : 0);
    this.ctx.logger.info({ mode: this.cfg.mode, protocol: `${c.hello.major}.${c.hello.minor}` }, `driver: connected; protecting lsass.exe${this.cfg.protect_images.length ? ` and ${this.cfg.protect_images.join(', ')}` : ''} (${this.cfg.mode})`);
    this.reader = dev.startReader({
      reads: this.cfg.pending_reads,
      onRecords: (recs) => this.onRecords(recs),
      onError: (e) => this.ctx.fail(new DriverSensorError('VIGIL_ERR_DRIVER_READ', `${e.call} failed with error ${e.error}`)),
    });
    if (this.cfg.canary_interval_ms > 0) {
      this.timer = setInterval(() => this.tick(), Math.min(this.cfg.canary_interval_ms, 1000));
      this.armCanary();
    }
  }

  private lastArm = 0;

  private armCanary(): void {
    const nonce = randomBytes(8).readBigUInt64LE() & ~PROCESS_CANARY;
    this.lastArm = Date.now();
    this.canary.arm(nonce, this.lastArm);
    const r = this.device?.armCanary(nonce & ~PROCESS_CANARY, process.pid);
    if (r && !r.ok) this.ctx.counters.error('process', `canary_arm:${r.error}`);
    if (this.cfg.canary_process) this.spawnCanary();
  }

  /** The process canary: a short-lived child whose start the process callback must report. */
  private spawnCanary(): void {
    const child = spawn(process.env.ComSpec ?? 'cmd.exe', ['/d', '/c', 'exit 0'], { stdio: 'ignore', windowsHide: true });
    child.once('spawn', () => {
      if (child.pid !== undefined) this.canary.arm(PROCESS_CANARY | BigInt(child.pid), Date.now());
    });
    child.once('error', (err) => {
      this.ctx.counters.error('process', 'canary_spawn');
      this.ctx.logger.warn({ err }, 'driver: the canary process could not be started');
    });
  }

  private tick(): void {
    const now = Date.now();
    for (const miss of this.canary.check(now)) {
      this.ctx.counters.add('canary_missed');
      const kind = miss.nonce & PROCESS_CANARY ? 'process' : 'handle';
      this.ctx.logger.warn({ nonce: miss.nonce.toString(16), kind }, `driver: the ${kind} callback canary was not seen: the driver callbacks may have been removed`);
      this.ctx.emit({
        type: 'sensor.error',
        time: now,
        message: `driver callbacks silent: ${kind} canary ${miss.nonce.toString(16)} armed at ${new Date(miss.armedAt).toISOString()} was not seen within ${this.cfg.canary_deadline_ms} ms`,
        raw: { reason: 'driver_canary_missed', sensor: 'driver', kind, nonce: miss.nonce.toString(16) },
      });
    }
    if (now - this.lastArm >= this.cfg.canary_interval_ms) this.armCanary();
  }

  /** Records in the driver's order: canaries and losses are bookkeeping, the rest events. */
  onRecords(recs: readonly DriverRecord[]): void {
    for (const r of recs) {
      if (r.kind === 'canary') {
        if (!this.canary.see(r.rec.nonce)) this.ctx.counters.add('canary_unknown');
        continue;
      }
      if (r.kind === 'loss') {
        this.ctx.counters.discard('driver_queue_full', Number(r.rec.dropped_since));
        this.ctx.logger.warn({ dropped: Number(r.rec.dropped_since), total: Number(r.rec.dropped_total) }, 'driver: its queue was full; records were dropped');
        continue;
      }
      if (r.kind === 'process_start') {
        this.images.set(r.rec.pid, r.rec.create_time, r.image);
        // Our own canary child (the agent is its creator) proves the process callback fires.
        if (r.rec.creator_pid === process.pid) this.canary.see(PROCESS_CANARY | BigInt(r.rec.pid));
      }
      const ev = normalizeDriverRecord(r, this.images);
      if (r.kind === 'process_stop') this.images.delete(r.rec.pid, r.rec.create_time);
      if (ev) this.ctx.emit(ev);
    }
  }

  /** The open device (tests: the test build's injection goes through the sensor's own handle, the only one the driver allows). */
  get connection(): DriverDevice | undefined {
    return this.device;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const reader = this.reader;
    this.reader = undefined;
    if (reader) await reader.stop();
    this.device?.close();
    this.device = undefined;
  }
}
