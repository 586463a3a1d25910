import type { ScanInfo } from '../../../core/index.js';

/**
 * Scan results by (process identity, image sha256), so that the same process running the
 * same image is not scanned twice within the TTL. Bounded: past `maxEntries` the least
 * recently used entry is evicted (LRU — a new scan is always worth keeping more than the
 * oldest one), and evictions and expirations are counted.
 */
export class ScanCache {
  private readonly entries = new Map<string, { info: ScanInfo; at: number }>();
  evictions = 0;
  expirations = 0;
  hits = 0;
  misses = 0;

  constructor(
    private readonly maxEntries: number,
    private readonly ttlMs: number,
  ) {}

  static key(identity: string, imageSha256: string): string {
    return `${identity}|${imageSha256}`;
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: string, now: number): ScanInfo | undefined {
    const e = this.entries.get(key);
    if (!e) {
      this.misses++;
      return undefined;
    }
    if (now - e.at >= this.ttlMs) {
      this.entries.delete(key);
      this.expirations++;
      this.misses++;
      return undefined;
    }
    // Map order is the LRU order: a hit moves the entry to the young end.
    this.entries.delete(key);
    this.entries.set(key, e);
    this.hits++;
    return e.info;
  }

  set(key: string, info: ScanInfo, now: number): void {
    if (this.maxEntries === 0 || this.ttlMs === 0) return;
    this.entries.delete(key);
    this.entries.set(key, { info, at: now });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
      this.evictions++;
    }
  }
}
