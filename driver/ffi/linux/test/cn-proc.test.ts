/**
 * The proc connector's wire layout in cn-proc.ts is the kernel's: sizes and offsets checked
 * against linux/netlink.h, linux/connector.h and linux/cn_proc.h by compiling offsetof() with
 * the C compiler, and the decoder checked on messages built from those offsets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CN_MSG, decodeDatagram, encodeMcastOp, EVENT_DATA, NLMSGHDR, PROC_EVENT, PROC_EVENT_WHAT, CnProcDecodeError } from '../cn-proc.js';

const HEADER = '/usr/include/linux/cn_proc.h';
const cc = ['cc', 'gcc', 'clang'].find((c) => spawnSync('sh', ['-c', `command -v ${c}`]).status === 0);
const skip = !existsSync(HEADER) ? `${HEADER} is missing (Debian: linux-libc-dev)` : cc === undefined ? 'no C compiler (cc, gcc or clang)' : undefined;

const FIELDS: [string, string, number][] = [
  ['sizeof(struct nlmsghdr)', 'nlmsghdr', NLMSGHDR.size],
  ['offsetof(struct nlmsghdr, nlmsg_len)', 'nlmsg_len', NLMSGHDR.len],
  ['offsetof(struct nlmsghdr, nlmsg_type)', 'nlmsg_type', NLMSGHDR.type],
  ['offsetof(struct nlmsghdr, nlmsg_flags)', 'nlmsg_flags', NLMSGHDR.flags],
  ['offsetof(struct nlmsghdr, nlmsg_seq)', 'nlmsg_seq', NLMSGHDR.seq],
  ['offsetof(struct nlmsghdr, nlmsg_pid)', 'nlmsg_pid', NLMSGHDR.pid],
  ['sizeof(struct cn_msg)', 'cn_msg', CN_MSG.size],
  ['offsetof(struct cn_msg, id.idx)', 'cn.idx', CN_MSG.idx],
  ['offsetof(struct cn_msg, id.val)', 'cn.val', CN_MSG.val],
  ['offsetof(struct cn_msg, seq)', 'cn.seq', CN_MSG.seq],
  ['offsetof(struct cn_msg, ack)', 'cn.ack', CN_MSG.ack],
  ['offsetof(struct cn_msg, len)', 'cn.len', CN_MSG.len],
  ['offsetof(struct cn_msg, flags)', 'cn.flags', CN_MSG.flags],
  ['offsetof(struct cn_msg, data)', 'cn.data', CN_MSG.data],
  ['sizeof(struct proc_event)', 'proc_event', PROC_EVENT.size],
  ['offsetof(struct proc_event, what)', 'what', PROC_EVENT.what],
  ['offsetof(struct proc_event, cpu)', 'cpu', PROC_EVENT.cpu],
  ['offsetof(struct proc_event, timestamp_ns)', 'timestamp_ns', PROC_EVENT.timestamp_ns],
  ['offsetof(struct proc_event, event_data)', 'event_data', PROC_EVENT.event_data],
  ['sizeof(struct fork_proc_event)', 'fork', EVENT_DATA.fork.size],
  ['offsetof(struct fork_proc_event, parent_pid)', 'fork.parent_pid', EVENT_DATA.fork.parent_pid],
  ['offsetof(struct fork_proc_event, parent_tgid)', 'fork.parent_tgid', EVENT_DATA.fork.parent_tgid],
  ['offsetof(struct fork_proc_event, child_pid)', 'fork.child_pid', EVENT_DATA.fork.child_pid],
  ['offsetof(struct fork_proc_event, child_tgid)', 'fork.child_tgid', EVENT_DATA.fork.child_tgid],
  ['sizeof(struct exec_proc_event)', 'exec', EVENT_DATA.exec.size],
  ['offsetof(struct exec_proc_event, process_tgid)', 'exec.tgid', EVENT_DATA.exec.process_tgid],
  ['sizeof(struct id_proc_event)', 'id', EVENT_DATA.id.size],
  ['offsetof(struct id_proc_event, process_tgid)', 'id.tgid', EVENT_DATA.id.process_tgid],
  ['offsetof(struct id_proc_event, r.ruid)', 'id.ruid', EVENT_DATA.id.r],
  ['offsetof(struct id_proc_event, e.euid)', 'id.euid', EVENT_DATA.id.e],
  ['sizeof(struct sid_proc_event)', 'sid', EVENT_DATA.sid.size],
  ['sizeof(struct ptrace_proc_event)', 'ptrace', EVENT_DATA.ptrace.size],
  ['offsetof(struct ptrace_proc_event, process_tgid)', 'ptrace.tgid', EVENT_DATA.ptrace.process_tgid],
  ['offsetof(struct ptrace_proc_event, tracer_pid)', 'ptrace.tracer_pid', EVENT_DATA.ptrace.tracer_pid],
  ['offsetof(struct ptrace_proc_event, tracer_tgid)', 'ptrace.tracer_tgid', EVENT_DATA.ptrace.tracer_tgid],
  ['sizeof(struct comm_proc_event)', 'comm', EVENT_DATA.comm.size],
  ['offsetof(struct comm_proc_event, comm)', 'comm.comm', EVENT_DATA.comm.comm],
  ['sizeof(struct coredump_proc_event)', 'coredump', EVENT_DATA.coredump.size],
  ['offsetof(struct coredump_proc_event, parent_tgid)', 'coredump.parent_tgid', EVENT_DATA.coredump.parent_tgid],
  ['sizeof(struct exit_proc_event)', 'exit', EVENT_DATA.exit.size],
  ['offsetof(struct exit_proc_event, exit_code)', 'exit.exit_code', EVENT_DATA.exit.exit_code],
  ['offsetof(struct exit_proc_event, exit_signal)', 'exit.exit_signal', EVENT_DATA.exit.exit_signal],
  ['offsetof(struct exit_proc_event, parent_pid)', 'exit.parent_pid', EVENT_DATA.exit.parent_pid],
  ['offsetof(struct exit_proc_event, parent_tgid)', 'exit.parent_tgid', EVENT_DATA.exit.parent_tgid],
  ['PROC_EVENT_FORK', 'FORK', PROC_EVENT_WHAT.fork],
  ['PROC_EVENT_EXEC', 'EXEC', PROC_EVENT_WHAT.exec],
  ['PROC_EVENT_UID', 'UID', PROC_EVENT_WHAT.uid],
  ['PROC_EVENT_GID', 'GID', PROC_EVENT_WHAT.gid],
  ['PROC_EVENT_SID', 'SID', PROC_EVENT_WHAT.sid],
  ['PROC_EVENT_PTRACE', 'PTRACE', PROC_EVENT_WHAT.ptrace],
  ['PROC_EVENT_COMM', 'COMM', PROC_EVENT_WHAT.comm],
  ['PROC_EVENT_COREDUMP', 'COREDUMP', PROC_EVENT_WHAT.coredump],
  ['(unsigned)PROC_EVENT_EXIT', 'EXIT', PROC_EVENT_WHAT.exit],
  ['CN_IDX_PROC', 'CN_IDX_PROC', 1],
  ['CN_VAL_PROC', 'CN_VAL_PROC', 1],
  ['PROC_CN_MCAST_LISTEN', 'LISTEN', 1],
];

test('the layouts are those of the kernel headers (offsetof compiled by the C compiler)', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-cnproc-'));
  try {
    const lines = FIELDS.map(([expr, name]) => `  printf("%s %lu\\n", "${name}", (unsigned long)(${expr}));`).join('\n');
    const src = `#include <stdio.h>\n#include <stddef.h>\n#include <linux/netlink.h>\n#include <linux/connector.h>\n#include <linux/cn_proc.h>\nint main(void) {\n${lines}\n  return 0;\n}\n`;
    writeFileSync(join(dir, 'layout.c'), src);
    execFileSync(cc as string, ['-o', join(dir, 'layout'), join(dir, 'layout.c')]);
    const out = execFileSync(join(dir, 'layout'), { encoding: 'utf8' });
    const c = new Map(out.trim().split('\n').map((l) => l.split(' ') as [string, string]));
    for (const [, name, ours] of FIELDS) assert.equal(Number(c.get(name)), ours, `${name}: the header says ${c.get(name)}, cn-proc.ts says ${ours}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A datagram as the kernel sends it: nlmsghdr + cn_msg + proc_event with `body` written into the union. */
function datagram(what: number, body: (v: DataView, at: number) => void, bodyBytes = 24): DataView {
  const evLen = PROC_EVENT.event_data + bodyBytes;
  const total = NLMSGHDR.size + CN_MSG.size + evLen;
  const v = new DataView(new ArrayBuffer(total));
  v.setUint32(NLMSGHDR.len, total, true);
  v.setUint16(NLMSGHDR.type, 3, true);
  const cn = NLMSGHDR.size;
  v.setUint32(cn + CN_MSG.idx, 1, true);
  v.setUint32(cn + CN_MSG.val, 1, true);
  v.setUint16(cn + CN_MSG.len, evLen, true);
  const ev = cn + CN_MSG.data;
  v.setUint32(ev + PROC_EVENT.what, what, true);
  v.setUint32(ev + PROC_EVENT.cpu, 1, true);
  v.setBigUint64(ev + PROC_EVENT.timestamp_ns, 123456789n, true);
  body(v, ev + PROC_EVENT.event_data);
  return v;
}

test('decoding: fork, exec, exit (wait status, parent), uid, ptrace, comm', () => {
  const one = (v: DataView) => {
    const d = decodeDatagram(v, v.byteLength);
    assert.equal(d.events.length, 1);
    return d.events[0]!;
  };
  const fork = one(datagram(PROC_EVENT_WHAT.fork, (v, at) => {
    v.setInt32(at + EVENT_DATA.fork.parent_pid, 10, true);
    v.setInt32(at + EVENT_DATA.fork.parent_tgid, 10, true);
    v.setInt32(at + EVENT_DATA.fork.child_pid, 11, true);
    v.setInt32(at + EVENT_DATA.fork.child_tgid, 11, true);
  }));
  assert.deepEqual(fork, { kind: 'fork', cpu: 1, timestampNs: 123456789n, pid: 11, tgid: 11, parentPid: 10, parentTgid: 10 });
  const exit = one(datagram(PROC_EVENT_WHAT.exit, (v, at) => {
    v.setInt32(at + EVENT_DATA.exit.process_pid, 11, true);
    v.setInt32(at + EVENT_DATA.exit.process_tgid, 11, true);
    v.setUint32(at + EVENT_DATA.exit.exit_code, 3 << 8, true);
    v.setUint32(at + EVENT_DATA.exit.exit_signal, 17, true);
    v.setInt32(at + EVENT_DATA.exit.parent_tgid, 10, true);
  }));
  assert.equal(exit.kind, 'exit');
  assert.equal(exit.kind === 'exit' && exit.exitCode, 3 << 8);
  assert.equal(exit.kind === 'exit' && exit.parentTgid, 10);
  const uid = one(datagram(PROC_EVENT_WHAT.uid, (v, at) => {
    v.setInt32(at + EVENT_DATA.id.process_tgid, 12, true);
    v.setUint32(at + EVENT_DATA.id.r, 1000, true);
    v.setUint32(at + EVENT_DATA.id.e, 0, true);
  }));
  assert.deepEqual(uid.kind === 'uid' && [uid.tgid, uid.real, uid.effective], [12, 1000, 0]);
  const ptrace = one(datagram(PROC_EVENT_WHAT.ptrace, (v, at) => {
    v.setInt32(at + EVENT_DATA.ptrace.process_tgid, 20, true);
    v.setInt32(at + EVENT_DATA.ptrace.tracer_tgid, 21, true);
  }));
  assert.deepEqual(ptrace.kind === 'ptrace' && [ptrace.tgid, ptrace.tracerTgid], [20, 21]);
  const comm = one(datagram(PROC_EVENT_WHAT.comm, (v, at) => {
    new Uint8Array(v.buffer, at + EVENT_DATA.comm.comm, 16).set(new TextEncoder().encode('renamed'));
  }));
  assert.equal(comm.kind === 'comm' && comm.comm, 'renamed');
  assert.equal(one(datagram(PROC_EVENT_WHAT.exec, () => undefined)).kind, 'exec');
});

test('decoding refuses a truncated message and skips what is not a proc event', () => {
  const v = datagram(PROC_EVENT_WHAT.exit, () => undefined);
  assert.throws(() => decodeDatagram(v, v.byteLength - 4), CnProcDecodeError);
  const other = datagram(PROC_EVENT_WHAT.exec, () => undefined);
  other.setUint32(NLMSGHDR.size + CN_MSG.idx, 7, true);
  assert.deepEqual(decodeDatagram(other, other.byteLength), { events: [], skipped: 1 });
  const unknown = datagram(0x1000, () => undefined);
  assert.deepEqual(decodeDatagram(unknown, unknown.byteLength), { events: [], skipped: 1 });
});

test('the subscribe message is nlmsghdr + cn_msg{1, 1, len 4} + the op', () => {
  const m = new DataView(encodeMcastOp(1, 4242).buffer);
  assert.equal(m.byteLength, 40);
  assert.equal(m.getUint32(NLMSGHDR.len, true), 40);
  assert.equal(m.getUint16(NLMSGHDR.type, true), 3);
  assert.equal(m.getUint32(NLMSGHDR.pid, true), 4242);
  assert.equal(m.getUint32(NLMSGHDR.size + CN_MSG.idx, true), 1);
  assert.equal(m.getUint32(NLMSGHDR.size + CN_MSG.val, true), 1);
  assert.equal(m.getUint16(NLMSGHDR.size + CN_MSG.len, true), 4);
  assert.equal(m.getUint32(NLMSGHDR.size + CN_MSG.data, true), 1);
});
