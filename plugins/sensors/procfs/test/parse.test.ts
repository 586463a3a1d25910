import type { VigilPlugin } from '../../../../core/index.js';
import { validateWithSchema } from '../../../../testing/index.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exitStatusRaw, parseBootTime, parseCmdline, parsePasswd, parseStat, parseStatusUids, PF_KTHREAD, ticksToEpochMs } from '../../../../lib/procfs/index.js';
import { manifest, plugin, PROCFS_DEFAULTS, procfsConfigSchema } from '../index.js';

/** A real stat line with its comm replaced. */
function statLine(pid: number, comm: string, state: string, ppid: number, start: number, flags = 4194304): string {
  return `${pid} (${comm}) ${state} ${ppid} ${pid} 12087 0 -1 ${flags} 127 0 1 0 0 0 0 0 20 0 1 0 ${start} 2990080 424 18446744073709551615 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n`;
}

test('exitStatusRaw splits a wait status into exit code, signal and core dump', () => {
  assert.deepEqual(exitStatusRaw(0), { exit_code: 0, exit_status: 0 });
  assert.deepEqual(exitStatusRaw(3 << 8), { exit_code: 3, exit_status: 768 });
  assert.deepEqual(exitStatusRaw(15), { exit_code: 0, exit_status: 15, signal: 15 });
  assert.deepEqual(exitStatusRaw(0x80 | 11), { exit_code: 0, exit_status: 139, signal: 11, core_dumped: true });
});

test('parseStat reads ppid, state, flags and start ticks after the last ")"', () => {
  const s = parseStat(statLine(4242, 'evil) (S 1 2 3', 'R', 77, 123456));
  assert.equal(s.pid, 4242);
  assert.equal(s.comm, 'evil) (S 1 2 3');
  assert.equal(s.state, 'R');
  assert.equal(s.ppid, 77);
  assert.equal(s.startTicks, 123456);
  assert.equal(s.flags & PF_KTHREAD, 0);
});

test('parseStat keeps spaces, parentheses and an empty comm', () => {
  assert.equal(parseStat(statLine(5, 'a b (c)', 'S', 1, 9)).comm, 'a b (c)');
  assert.equal(parseStat(statLine(6, '', 'S', 1, 9)).comm, '');
  assert.equal(parseStat(statLine(7, ')', 'S', 1, 9)).ppid, 1);
});

test('parseStat flags kernel threads', () => {
  const s = parseStat(statLine(2, 'kthreadd', 'S', 0, 20, 2129984));
  assert.notEqual(s.flags & PF_KTHREAD, 0);
});

test('parseStat refuses truncated or malformed lines with the file named', () => {
  assert.throws(() => parseStat('garbage', '/x/1/stat'), /\/x\/1\/stat: no "\(comm\)"/);
  assert.throws(() => parseStat('12 (sh) S 1 2 3 4 5 6 7', '/x/12/stat'), /\/x\/12\/stat: bad starttime field \(22\)/);
  assert.throws(() => parseStat('12 (sh) S x 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20', 'f'), /ppid/);
});

test('parseBootTime, parseStatusUids, parseCmdline, parsePasswd', () => {
  assert.equal(parseBootTime('cpu  1 2 3\nintr 5\nbtime 1795864901\nprocesses 9\n'), 1795864901);
  assert.equal(parseBootTime('cpu 1 2 3\n'), undefined);
  assert.deepEqual(parseStatusUids('Name:\tsh\nUid:\t1000\t0\t0\t0\nGid:\t1\t1\t1\t1\n'), { ruid: 1000, euid: 0 });
  assert.equal(parseStatusUids('Name:\tsh\n'), undefined);
  assert.equal(parseCmdline(Buffer.from('sleep\x005\x00')), 'sleep 5');
  assert.equal(parseCmdline(Buffer.from('')), '');
  assert.equal(parseCmdline(Buffer.from('nginx: worker process')), 'nginx: worker process');
  const users = parsePasswd('root:x:0:0:root:/root:/bin/bash\n# c\nbad line\nalice:x:1000:1000::/home/a:/bin/sh\ndup:x:0:0::/:/bin/sh\n');
  assert.equal(users.get(0), 'root');
  assert.equal(users.get(1000), 'alice');
  assert.equal(users.size, 2);
});

test('ticksToEpochMs uses boot time and the clock tick rate', () => {
  assert.equal(ticksToEpochMs(250, 1700000000, 100), 1700000002500);
  assert.equal(ticksToEpochMs(250, 1700000000, 1000), 1700000000250);
});

test('the config schema (what the core validates with) applies defaults and names a bad key', () => {
  const check = (c: Record<string, unknown>) => validateWithSchema(procfsConfigSchema, c).map((f) => `${f.path} ${f.found}`);
  const empty: Record<string, unknown> = {};
  assert.deepEqual(check(empty), []);
  assert.deepEqual(empty, { ...PROCFS_DEFAULTS });
  assert.deepEqual(check({ poll_interval_ms: 20 }), []);
  assert.match(check({ poll_interval_ms: 5 }).join(), /\/poll_interval_ms/);
  assert.match(check({ proc_root: '' }).join(), /\/proc_root/);
  assert.match(check({ emit_existing: 'yes' }).join(), /\/emit_existing/);
  assert.match(check({ pollInterval: 1 }).join(), /\/pollInterval unknown key "pollInterval"/);
});

test('manifest declares a live linux sensor with a closed, defaulted schema', () => {
  const p: VigilPlugin = plugin;
  assert.equal(p.manifest.kind, 'sensor');
  assert.equal(manifest.id, 'procfs');
  assert.equal(manifest.apiVersion, '2.0.0');
  assert.deepEqual([...manifest.platforms], ['linux']);
  assert.equal(manifest.delivery, 'live');
  assert.deepEqual([...manifest.produces], ['process.start', 'process.stop']);
  assert.deepEqual([...manifest.consumes], []);
  const schema = manifest.configSchema as { additionalProperties: boolean; properties: Record<string, { default: unknown }> };
  assert.equal(schema.additionalProperties, false);
  assert.equal(schema.properties['poll_interval_ms']?.default, 250);
  assert.equal(schema.properties['proc_root']?.default, '/proc');
  assert.equal(schema.properties['emit_existing']?.default, true);
  assert.equal(schema.properties['max_processes_per_poll']?.default, 100000);
});
