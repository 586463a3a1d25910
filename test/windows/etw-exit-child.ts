/**
 * Child of etw.wine.ts (under Wine's node.exe): starts the etw sensor against the test double,
 * waits for the recorded events, then calls process.exit without stopping the sensor. An
 * 'exit' listener added after the sensor's own writes what the double saw by then to the file
 * named by argv[2]: the sensor's exit hook must have stopped the session.
 */
import { writeFileSync } from 'node:fs';
import { windowsKoffi } from '../../driver/ffi/windows/koffi.js';
import { recordingContext } from '../../testing/index.js';
import { createEtwSensor, plugin } from '../../plugins/sensors/etw/index.js';

const [out, records] = process.argv.slice(2);
const dll = process.env['VIGIL_WINE_ADVAPI32_ETW_DLL'];
if (!out || !records || !dll) throw new Error('usage: etw-exit-child.js OUT RECORDS (under the Wine harness)');
const koffi = await windowsKoffi();
const lib = koffi.load(dll);
const Reset = lib.func('uint32_t __stdcall VigilEtwDoubleReset(const char16_t *path, uint32_t flags)');
const Count = lib.func('uint32_t __stdcall VigilEtwDoubleCount(const char *name)');
if (Reset(records, 0) !== 0) throw new Error(`cannot load ${records} into the double`);
const rec = recordingContext(plugin, { config: { session_name: 'Vigil-ETW-Exit' } });
const s = createEtwSensor(rec.ctx, { dlls: { advapi32: dll, tdh: dll } });
await s.start();
await rec.waitFor((d) => d.type === 'process.stop', 20_000);
const before = { stop: Count('stop') as number, running: Count('running') as number };
process.on('exit', () => {
  writeFileSync(out, JSON.stringify({ before, after: { stop: Count('stop') as number, close: Count('close') as number, running: Count('running') as number } }));
});
process.exit(0);
