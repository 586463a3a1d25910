import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

let cachedRoot: string | undefined;

/** The package root (the folder holding Vigil's package.json), from source or dist. */
export function projectRoot(): string {
  if (cachedRoot) return cachedRoot;
  const fromEnv = process.env['VIGIL_PROJECT_ROOT'];
  if (fromEnv) return (cachedRoot = resolve(fromEnv));
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'core'))) return (cachedRoot = dir);
    const up = dirname(dir);
    if (up === dir) throw new Error('Vigil package root not found above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

/** The shared datasets folder for tests and benchmarks (`../shared/datasets` beside the root). */
export function datasetsDir(): string {
  return process.env['VIGIL_DATASETS'] ? resolve(process.env['VIGIL_DATASETS']) : resolve(projectRoot(), '..', 'shared', 'datasets');
}

/** The embedded default config. */
export function defaultConfigPath(): string {
  return join(projectRoot(), 'config', 'default.yaml');
}
