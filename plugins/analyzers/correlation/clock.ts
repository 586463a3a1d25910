/**
 * One notion of "now" for the whole engine. Replay runs on event time (the newest event time
 * seen, so a recording of an hour replays in seconds and spans still mean what they say);
 * live runs on wall time; tests drive a virtual clock by hand.
 */
export interface Clock {
  readonly kind: 'event' | 'wall' | 'virtual';
  /** Current time, ms since the epoch. */
  now(): number;
  /** Tell the clock an event of this time was seen (only the event clock cares). */
  observe(time: number): void;
}

/** Event time: the newest event time observed; never goes backwards. */
export class EventClock implements Clock {
  readonly kind = 'event' as const;
  private t = Number.NEGATIVE_INFINITY;
  now(): number {
    return this.t;
  }
  observe(time: number): void {
    if (time > this.t) this.t = time;
  }
}

/** Wall time. */
export class WallClock implements Clock {
  readonly kind = 'wall' as const;
  now(): number {
    return Date.now();
  }
  observe(): void {
    // Wall time does not follow the data.
  }
}

/** A clock moved only by the caller: lets a test cover a ten-minute span in microseconds. */
export class VirtualClock implements Clock {
  readonly kind = 'virtual' as const;
  constructor(private t = 0) {}
  now(): number {
    return this.t;
  }
  observe(): void {
    // Moved only by set/advance.
  }
  set(time: number): void {
    this.t = time;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

export type ClockKind = 'event' | 'wall';

export function createClock(kind: ClockKind): Clock {
  return kind === 'wall' ? new WallClock() : new EventClock();
}
