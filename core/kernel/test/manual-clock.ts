import type { SupervisorClock } from '../plugin-host.js';

interface Timer {
  at: number;
  fn: () => void;
}

/**
 * A supervisor clock that only moves when the test says so: timers fire, in order, while
 * `advance()` passes their time. Every delay asked for is kept in `delays`.
 */
export class ManualClock implements SupervisorClock {
  private time = 1_700_000_000_000;
  private timers: Timer[] = [];
  readonly delays: number[] = [];

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const t: Timer = { at: this.time + ms, fn };
    this.timers.push(t);
    this.delays.push(ms);
    return t;
  }

  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((t) => t !== handle);
  }

  /** Timers not yet fired. */
  get pending(): number {
    return this.timers.length;
  }

  /** Move time forward by `ms`, firing each timer that falls due on the way. */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      const due = this.timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.time = due.at;
      due.fn();
    }
    this.time = end;
  }
}
