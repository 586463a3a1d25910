/**
 * The tamper check: every interval the sensor arms a canary (the driver opens a kernel handle
 * with a fresh nonce, which its handle callback must report). A canary not seen within the
 * deadline means the driver's callbacks no longer fire — attackers unlink EDR callbacks with
 * vulnerable signed drivers. Pure bookkeeping; the sensor supplies the clock.
 */
export interface CanaryMiss {
  readonly nonce: bigint;
  readonly armedAt: number;
}

export class CanaryMonitor {
  private readonly armed = new Map<bigint, number>();
  seen = 0;
  missed = 0;

  constructor(
    private readonly deadlineMs: number,
    private readonly maxArmed = 64,
  ) {}

  arm(nonce: bigint, now: number): void {
    // Bounded: a driver that never answers fills this with misses, reported by check().
    if (this.armed.size >= this.maxArmed) return;
    this.armed.set(nonce, now);
  }

  /** Nonces armed and not yet seen nor missed. */
  pending(): bigint[] {
    return [...this.armed.keys()];
  }

  /** A canary record came back; false for a nonce never armed (or already missed). */
  see(nonce: bigint): boolean {
    if (!this.armed.delete(nonce)) return false;
    this.seen++;
    return true;
  }

  /** Canaries past their deadline, each reported once. */
  check(now: number): CanaryMiss[] {
    const out: CanaryMiss[] = [];
    for (const [nonce, at] of this.armed) {
      if (now - at <= this.deadlineMs) continue;
      this.armed.delete(nonce);
      this.missed++;
      out.push({ nonce, armedAt: at });
    }
    return out;
  }
}
