/** Rule files named in config, read into YaraSources. */
import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { listFiles } from '../files/index.js';
import { YaraError } from './errors.js';
import type { YaraSource } from './types.js';

export const YARA_EXTENSIONS: readonly string[] = ['.yar', '.yara'];

/**
 * The `.yar` / `.yara` files of `paths` (a file as given, folders walked with lib/files), one
 * source each, namespace = file stem. Two files with the same stem get `stem`, `stem_2`, …
 * (a namespace is one compile unit; merging them would mix their global rules). A path that
 * cannot be read is VIGIL_ERR_YARA_READ naming it.
 */
export async function readYaraSources(paths: readonly string[]): Promise<YaraSource[]> {
  const files = await listFiles(paths, YARA_EXTENSIONS, (given, path, err) => {
    throw new YaraError('VIGIL_ERR_YARA_READ', `YARA rules ${path}${given === path ? '' : ` (from ${given})`}: ${err.code ?? err.message}`, { cause: err, details: { path } });
  });
  const used = new Map<string, number>();
  const out: YaraSource[] = [];
  for (const path of files) {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      throw new YaraError('VIGIL_ERR_YARA_READ', `YARA rules ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err, details: { path } });
    }
    const stem = basename(path, extname(path));
    const n = (used.get(stem) ?? 0) + 1;
    used.set(stem, n);
    out.push({ namespace: n === 1 ? stem : `${stem}_${n}`, text, path });
  }
  return out;
}
