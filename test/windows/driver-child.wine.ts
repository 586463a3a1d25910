/**
 * Child of driver.wine.ts: opens the driver, keeps reads pending, says so on stdout and then
 * exits at once without cancelling or closing anything (the driver's cleanup must do it).
 */
import { openDriver } from '../../driver/ffi/windows/driver.js';

const c = await openDriver();
if (!c.ok) {
  process.stdout.write(`FAILED ${c.message}\n`);
  process.exit(2);
}
const dev = c.device;
dev.startReader({ reads: 3, onRecords: () => undefined, onError: () => undefined });
const end = Date.now() + 20_000;
for (;;) {
  const s = dev.stats();
  if (s.ok && s.value.pending_reads === 3) break;
  if (Date.now() > end) process.exit(3);
  await new Promise((r) => setTimeout(r, 20));
}
process.stdout.write('PENDING\n');
process.exit(0);
