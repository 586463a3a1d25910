import { EVENT_TYPES, PLUGIN_API_VERSION, type PluginManifest } from '../../../core/index.js';
import { windowsEventTypes } from '../../../lib/windows/index.js';
import { REPLAY_CAPABILITY, replayConfigSchema } from './config.js';

/** Every type the Windows normalizer can emit plus every Vigil type (JSONL replays exports). */
const produces: readonly string[] = [...new Set<string>([...windowsEventTypes(), ...EVENT_TYPES])].sort();

/** Read by the CLI without importing the sensor; `vigil replay` fills in the keys of `replay`. */
export const manifest: PluginManifest & { readonly kind: 'sensor' } = {
  id: 'replay',
  kind: 'sensor',
  apiVersion: PLUGIN_API_VERSION,
  version: '0.1.0',
  description: 'Replays recorded telemetry: .evtx files, JSONL (Vigil events or evtx_dump JSON) and rendered event XML.',
  platforms: ['any'],
  produces,
  consumes: [],
  delivery: 'replay',
  configSchema: replayConfigSchema,
  replay: REPLAY_CAPABILITY,
};
