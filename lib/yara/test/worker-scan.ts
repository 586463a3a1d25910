/** Worker side of worker.test.ts: compile with the engine named in workerData, scan, post the matches. */
import { parentPort, workerData } from 'node:worker_threads';
import { compileRules, type YaraEngineName } from '../index.js';

const { engine, text, data } = workerData as { engine: YaraEngineName; text: string; data: Uint8Array };
const rules = await compileRules(engine, [{ namespace: 'w', text }]);
parentPort?.postMessage({ matches: rules.scan(data), listeners: process.listenerCount('uncaughtException') + process.listenerCount('unhandledRejection') });
