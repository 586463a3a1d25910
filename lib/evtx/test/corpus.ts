/** Test support: locating the shared EVTX corpus and running work two at a time. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { datasetsDir } from '../../../testing/index.js';
import { listFiles } from '../../files/index.js';

export const EVTX_CORPUS = join(datasetsDir(), 'evtx-attack-samples');

const CORPUS_FILES: readonly string[] = existsSync(EVTX_CORPUS) ? (await listFiles([EVTX_CORPUS], '.evtx')).sort() : [];

/** Every .evtx file under the corpus, sorted; empty when the dataset is absent. */
export function corpusFiles(): string[] {
  return [...CORPUS_FILES];
}

export const CORPUS_SKIP = `EVTX corpus not found at ${EVTX_CORPUS} (set VIGIL_DATASETS)`;

/** Map items through an async function with at most `limit` in flight, order kept. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  async function worker(): Promise<void> {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T, i);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
