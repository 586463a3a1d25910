import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { parseConfig, type LoadedConfig } from '../../core/config/index.js';

/** A temp folder for one test. */
export function tempDir(prefix = 'vigil-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Write a config object as YAML into a temp folder and load it (defaults applied). */
export function tempConfig(doc: Record<string, unknown>, dir = tempDir()): LoadedConfig & { dir: string } {
  const withDefaults = { ...doc, agent: { data_dir: join(dir, 'var'), ...(doc['agent'] as object) } };
  const file = join(dir, 'vigil.yaml');
  const text = stringify(withDefaults);
  writeFileSync(file, text);
  return { ...parseConfig(text, file), dir };
}
