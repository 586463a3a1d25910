/**
 * The replay sensor: recorded telemetry (.evtx, JSONL, rendered event XML) through the same
 * normalizer and pipeline as live sensors, with back-pressure so that no event is lost.
 */
import { EVENT_TYPES, PLUGIN_API_VERSION, type SensorContext, type SensorPlugin } from '../../../core/index.js';
import { windowsEventTypes } from '../../../lib/windows/index.js';
import { replayConfigSchema, type ReplayConfig } from './config.js';
import { ReplaySensor } from './replay-sensor.js';

export { REPLAY_FORMATS, formatOfFile, replayConfigSchema, type ReplayConfig, type ReplayFormat } from './config.js';
export { ReplaySensor } from './replay-sensor.js';

/** Every type the Windows normalizer can emit plus every Vigil type (JSONL replays exports). */
const produces: readonly string[] = [...new Set<string>([...windowsEventTypes(), ...EVENT_TYPES])].sort();

export const plugin: SensorPlugin<ReplayConfig> = {
  manifest: {
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
  },
  create(ctx: SensorContext<ReplayConfig>): ReplaySensor {
    return new ReplaySensor(ctx);
  },
};
