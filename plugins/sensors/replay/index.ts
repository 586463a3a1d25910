/**
 * The replay sensor: recorded telemetry (.evtx, JSONL, rendered event XML) through the same
 * normalizer and pipeline as live sensors, with back-pressure so that no event is lost.
 */
import type { SensorContext, SensorPlugin } from '../../../core/index.js';
import type { ReplayConfig } from './config.js';
import { manifest } from './manifest.js';
import { ReplaySensor } from './replay-sensor.js';

export { REPLAY_CAPABILITY, REPLAY_FORMATS, formatOfFile, replayConfigSchema, type ReplayConfig, type ReplayFormat } from './config.js';
export { ReplaySensor } from './replay-sensor.js';
export { manifest } from './manifest.js';

export const plugin: SensorPlugin<ReplayConfig> = {
  manifest,
  create(ctx: SensorContext<ReplayConfig>): ReplaySensor {
    return new ReplaySensor(ctx);
  },
};
