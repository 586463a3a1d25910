/**
 * Adding a flagged process to the driver's protected set: pure, so it is tested on Linux.
 * lsass.exe stays the first entry whatever happens; the entries added from detections are
 * bounded (the oldest added goes first, counted by the caller).
 */
import { C, ZERO_POLICY, type POLICY, type POLICY_ENTRY } from '../../../driver/protocol/protocol.js';

/** FILETIME ticks (100 ns since 1601) at the Unix epoch. */
const EPOCH_FILETIME = 116444736000000000n;

export function msToFiletime(ms: number): bigint {
  return BigInt(Math.round(ms * 10_000)) + EPOCH_FILETIME;
}

export interface MergeResult {
  readonly policy: POLICY;
  /** An entry added earlier had to go to make room. */
  readonly evicted?: POLICY_ENTRY;
  /** The process was already protected in this mode or stronger. */
  readonly already: boolean;
}

/** The policy with `entry` (a pid + creation time) protected; room made by evicting the oldest pid entry. */
export function protectProcess(current: POLICY, entry: POLICY_ENTRY): MergeResult {
  const used = current.protected.slice(0, current.protected_count);
  const list = used.some((e) => e.pid === 0 && e.name.toLowerCase() === 'lsass.exe') ? [...used] : [{ pid: 0, mode: C.MODE_NONE, create_time: 0n, name: 'lsass.exe' }, ...used];
  const same = list.findIndex((e) => e.pid === entry.pid && e.create_time === entry.create_time && e.pid !== 0);
  if (same >= 0) {
    const had = list[same] as POLICY_ENTRY;
    if (had.mode >= entry.mode) return { policy: current, already: true };
    list[same] = { ...had, mode: entry.mode };
    return { policy: { ...current, protected: list, protected_count: list.length }, already: false };
  }
  let evicted: POLICY_ENTRY | undefined;
  if (list.length >= C.MAX_POLICY_ENTRIES) {
    const oldest = list.findIndex((e) => e.pid !== 0);
    if (oldest < 0) throw new RangeError('the protected set is full of image names; no process entry can be added');
    evicted = list.splice(oldest, 1)[0];
  }
  list.push(entry);
  return { policy: { ...ZERO_POLICY(), ...current, protected: list, protected_count: list.length }, already: false, ...(evicted ? { evicted } : {}) };
}
