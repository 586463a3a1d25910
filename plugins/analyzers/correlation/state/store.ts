/**
 * The store interface: everything the correlation engine asks of the state, and the one door
 * through which it gets it. The engine holds rule state only as these types; how a record is
 * laid out (rows in blocks, arenas, hash shards off the JS heap) stays behind them.
 *
 * A rule's live state is a set of records, each under a slot (a sequence's step, 0 for a
 * count group) and a key, with an end time, on an expiry wheel. A sequence record carries the
 * chain of steps matched so far; a count group carries a count and the evidence kept for it.
 * Record ids are small integers, reused once a record has ended: the engine holds one only
 * while it checks `isLive`.
 */
import type { VigilEvent } from '../../../../core/index.js';
import type { DetectionLike, Evidence } from '../evidence.js';
import { PLAIN_BLOCKS, type BlockSource } from './block-pool.js';
import { CountStore } from './count-store.js';
import { SeqStore, type ChainItem } from './seq-store.js';

export type { ChainItem };

/** The live records of one rule: lookup, expiry and eviction (both rule kinds), chains (sequences). */
export interface RuleRecords {
  /** Live records. */
  readonly live: number;
  /** Bytes held outside the JS heap. */
  readonly offHeapBytes: number;
  /** The live record of `slot` under `key`, or -1. */
  find(slot: number, key: string): number;
  isLive(id: number): boolean;
  keyOf(id: number): string;
  slotOf(id: number): number;
  expiresOf(id: number): number;
  /** Time of the newest matched step. */
  timeOf(id: number): number;
  /** The matched steps of a record, step 0 first. */
  chain(id: number): ChainItem[];
  /**
   * A new record waiting for `slot` under `key`: the chain of `prev` (a live record, or -1)
   * plus this step. The caller removes any record already under the key beforehand, and
   * `prev` afterwards.
   */
  add(slot: number, key: string, expires: number, time: number, prev: number, subj: object, det: DetectionLike | null): number;
  remove(id: number): void;
  /** Queue a record again (a sweep took it off the wheel, but it is not due yet). */
  requeue(id: number): void;
  /** The record that expires first (the eviction victim), or -1. */
  oldest(): number;
  /**
   * Take records due at `now` off the wheel and visit them, at most `budget`; the visitor
   * removes the record or re-queues it. Returns the number visited.
   */
  sweep(now: number, budget: number, visit: (id: number) => void): number;
}

/** A count rule's groups: records of one slot (`keys`) with a count and kept evidence each. */
export interface CountGroups {
  /** The groups as records: lookup, the wheel and eviction go through them. */
  readonly keys: RuleRecords;
  readonly live: number;
  readonly offHeapBytes: number;
  /** The live group under `key`, or -1. */
  find(key: string): number;
  /** A new group under `key` (none is live under it), its window opening at `time`. */
  create(key: string, time: number, expires: number): number;
  isLive(id: number): boolean;
  keyOf(id: number): string;
  expiresOf(id: number): number;
  /** Move a group's end (a sliding window); the wheel finds out when it comes to the group. */
  setExpires(id: number, expires: number): void;
  /** Count one more item; returns the new count. */
  counted(id: number): number;
  count(id: number): number;
  /** Items kept (event counts). */
  kept(id: number): number;
  /** Distinct values kept, or -1 for a group of an event count. */
  distinctCount(id: number): number;
  /** Keep `ev`, counted at `time`, as the group's newest item (event counts). */
  push(id: number, time: number, ev: Evidence): void;
  /** Time of the group's oldest kept item (NaN when none). */
  oldestTime(id: number): number;
  /** Let go of the group's oldest kept item. */
  shift(id: number): void;
  /** Distinct value `v` seen at `time` with `ev`; false (nothing kept) past `max` values. */
  sight(id: number, v: string, time: number, ev: Evidence, max: number): boolean;
  /** Forget distinct values last seen before `cutoff` (sliding windows). */
  forgetBefore(id: number, cutoff: number): void;
  /** The group's evidence, oldest first, each event once. */
  evidence(id: number): VigilEvent[];
  /** End a group: its evidence and its record go. */
  remove(id: number): void;
}

/** The store interface the engine depends on: fresh, empty state for each rule it installs. */
export interface StateStore {
  /** State for a sequence rule of `steps` steps whose matches last `spanMs`. */
  sequence(steps: number, spanMs: number): RuleRecords;
  /** State for a count rule whose windows last `spanMs`. */
  count(spanMs: number): CountGroups;
}

/**
 * The store off the JS heap (seq-store.ts, count-store.ts), its memory in blocks from
 * `blocks` (by default allocated in place; the plugin gives its BlockPool).
 */
export function createStateStore(blocks: BlockSource = PLAIN_BLOCKS): StateStore {
  return {
    sequence: (steps, spanMs) => new SeqStore(steps, spanMs, blocks),
    count: (spanMs) => new CountStore(spanMs, blocks),
  };
}
