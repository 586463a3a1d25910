/**
 * What correlation rules consume and keep: events, and detections of other analyzers (or of
 * other correlation rules) with their evidence.
 */
import type { VigilEvent } from '../../../core/index.js';

/** What the engine needs of a detection it consumes (a Detection, or its own chained output). */
export interface DetectionLike {
  readonly rule: { readonly id: string; readonly title?: string };
  readonly evidence: readonly VigilEvent[];
  readonly time: number;
}

/** Evidence of one item: the event itself, or the evidence list of a consumed detection. */
export type Evidence = VigilEvent | readonly VigilEvent[];

/** Add `ev` (an event, or a detection's evidence list) to `out`, each event once. */
export function pushEvidence(out: VigilEvent[], seen: Set<VigilEvent>, ev: Evidence): void {
  if (Array.isArray(ev)) {
    for (const e of ev as readonly VigilEvent[]) pushEvidence(out, seen, e);
    return;
  }
  const e = ev as VigilEvent;
  if (!seen.has(e)) {
    seen.add(e);
    out.push(e);
  }
}
