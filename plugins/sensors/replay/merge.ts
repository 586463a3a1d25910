/**
 * k-way merge of per-file draft streams by event time. Each stream keeps its own order;
 * among heads the earliest time goes first, ties go to the earlier stream, so the result
 * is deterministic and sorted whenever every file is.
 */
import type { EventDraft } from '../../../core/index.js';

interface Head {
  draft: EventDraft;
  index: number;
  /** The rest of the stream's current batch. */
  batch: readonly EventDraft[];
  pos: number;
}

function before(a: Head, b: Head): boolean {
  return a.draft.time < b.draft.time || (a.draft.time === b.draft.time && a.index < b.index);
}

/** A binary min-heap of stream heads. */
class HeadHeap {
  private readonly items: Head[] = [];

  get size(): number {
    return this.items.length;
  }

  push(h: Head): void {
    const a = this.items;
    a.push(h);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(a[i] as Head, a[p] as Head)) break;
      [a[i], a[p]] = [a[p] as Head, a[i] as Head];
      i = p;
    }
  }

  pop(): Head | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (top === undefined || last === undefined || a.length === 0) return top;
    a[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < a.length && before(a[l] as Head, a[m] as Head)) m = l;
      if (r < a.length && before(a[r] as Head, a[m] as Head)) m = r;
      if (m === i) break;
      [a[i], a[m]] = [a[m] as Head, a[i] as Head];
      i = m;
    }
    return top;
  }
}

/**
 * Merge batched streams by time, yielding single drafts. A failing stream is reported
 * through `onStreamError` and the merge goes on with the others. All streams still open
 * are closed when the merge ends early.
 */
export async function* mergeByTime(
  streams: readonly AsyncIterator<readonly EventDraft[]>[],
  onStreamError: (index: number, err: unknown) => void,
  onStreamEnd: (index: number) => void,
): AsyncGenerator<EventDraft> {
  const heap = new HeadHeap();
  const open = new Set<number>();
  /** Push the stream's next draft, reading its next non-empty batch when needed. */
  const advance = async (index: number, batch: readonly EventDraft[], pos: number): Promise<void> => {
    if (pos < batch.length) {
      heap.push({ draft: batch[pos] as EventDraft, index, batch, pos });
      return;
    }
    const it = streams[index] as AsyncIterator<readonly EventDraft[]>;
    try {
      for (;;) {
        const r = await it.next();
        if (r.done === true) {
          open.delete(index);
          onStreamEnd(index);
          return;
        }
        if (r.value.length > 0) {
          heap.push({ draft: r.value[0] as EventDraft, index, batch: r.value, pos: 0 });
          return;
        }
      }
    } catch (err) {
      open.delete(index);
      onStreamError(index, err);
    }
  };
  try {
    for (let i = 0; i < streams.length; i++) {
      open.add(i);
      await advance(i, [], 0);
    }
    for (;;) {
      const h = heap.pop();
      if (h === undefined) return;
      yield h.draft;
      await advance(h.index, h.batch, h.pos + 1);
    }
  } finally {
    // Early exit (stop, consumer break): close what is still open.
    for (const i of open) await (streams[i] as AsyncIterator<readonly EventDraft[]>).return?.();
  }
}
