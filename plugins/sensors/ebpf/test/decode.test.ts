import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ABI_VERSION, decodeRecord, EXT_BYTES, HEADER_BYTES, RecordDecodeError } from '../index.js';

/** A record as driver/linux/vigil.bpf.c lays it out. */
function record(kind: number, strings: { image?: string; args?: string; cwd?: string } = {}, abi = ABI_VERSION): DataView {
  const enc = new TextEncoder();
  const image = enc.encode(strings.image ?? '');
  const args = enc.encode(strings.args ?? '');
  const cwd = enc.encode(strings.cwd ?? '');
  const buf = new ArrayBuffer(HEADER_BYTES + image.length + args.length + cwd.length);
  const v = new DataView(buf);
  v.setUint32(0, kind, true);
  v.setUint32(4, abi, true);
  v.setUint32(8, 4242, true);
  v.setUint32(12, 4243, true);
  v.setUint32(16, 1, true);
  v.setBigUint64(24, 123_456_789_000n, true);
  v.setBigUint64(32, 5_000_000n, true);
  v.setBigUint64(40, 123_456_999_000n, true);
  v.setUint32(48, 1000, true);
  v.setUint32(52, 1001, true);
  v.setUint32(56, 0, true);
  v.setUint32(60, 1003, true);
  v.setUint32(64, 7 << 8, true);
  v.setUint32(68, image.length, true);
  v.setUint32(72, args.length, true);
  v.setUint32(76, cwd.length, true);
  new Uint8Array(buf, 80, 16).set(enc.encode('sh\0'));
  const bytes = new Uint8Array(buf);
  bytes.set(image, HEADER_BYTES);
  bytes.set(args, HEADER_BYTES + image.length);
  bytes.set(cwd, HEADER_BYTES + image.length + args.length);
  return v;
}

test('an exec record decodes to its identity, image, argv and cwd', () => {
  const r = decodeRecord(record(1, { image: '/usr/bin/dash', args: 'sh\0-c\0: MARKER; exec sleep 1\0', cwd: '/tmp/x y' }));
  assert.equal(r.kind, 'exec');
  assert.equal(r.pid, 4242);
  assert.equal(r.tid, 4243);
  assert.equal(r.ppid, 1);
  assert.equal(r.startNs, 123_456_789_000n);
  assert.equal(r.parentStartNs, 5_000_000n);
  assert.equal(r.uid, 1000);
  assert.equal(r.gid, 1001);
  assert.equal(r.euid, 0);
  assert.equal(r.egid, 1003);
  assert.equal(r.comm, 'sh');
  assert.equal(r.image, '/usr/bin/dash');
  assert.deepEqual(r.argv, ['sh', '-c', ': MARKER; exec sleep 1']);
  assert.equal(r.cwd, '/tmp/x y');
});

test('an exit record carries the wait status; fork and exit records have no strings', () => {
  const exit = decodeRecord(record(3));
  assert.equal(exit.kind, 'exit');
  assert.equal(exit.exitStatus >> 8, 7);
  assert.equal(exit.image, undefined);
  assert.equal(decodeRecord(record(2)).kind, 'fork');
});

test('a short record, an unknown kind, another ABI or overlong strings are refused', () => {
  assert.throws(() => decodeRecord(new DataView(new ArrayBuffer(HEADER_BYTES - 1))), RecordDecodeError);
  assert.throws(() => decodeRecord(record(99)), /unknown record kind 99/);
  assert.throws(() => decodeRecord(record(1, {}, 1)), /record ABI 1, expected 2/);
  const v = record(1, { image: '/bin/sh' });
  v.setUint32(72, 5000, true);
  assert.throws(() => decodeRecord(v), /declares/);
});

/** A connect / ptrace record: the header, then the target and address block. */
function extRecord(kind: number, family: number, saddr: number[], daddr: number[]): DataView {
  const head = record(kind);
  const buf = new ArrayBuffer(HEADER_BYTES + EXT_BYTES);
  new Uint8Array(buf).set(new Uint8Array(head.buffer, 0, HEADER_BYTES));
  const v = new DataView(buf);
  v.setUint32(HEADER_BYTES, 777, true);
  v.setBigInt64(HEADER_BYTES + 8, 0x4206n, true);
  v.setUint32(HEADER_BYTES + 20, family, true);
  v.setUint16(HEADER_BYTES + 32, 40000, true);
  v.setUint16(HEADER_BYTES + 34, 443, true);
  new Uint8Array(buf, HEADER_BYTES + 40, saddr.length).set(saddr);
  new Uint8Array(buf, HEADER_BYTES + 56, daddr.length).set(daddr);
  return v;
}

test('connect records decode their addresses (v4 dotted, v6 in RFC 5952 form) and ports; ptrace records their target', () => {
  const v4 = decodeRecord(extRecord(6, 2, [127, 0, 0, 1], [10, 1, 2, 3]));
  assert.equal(v4.kind, 'connect');
  assert.deepEqual([v4.ext?.saddr, v4.ext?.daddr, v4.ext?.sport, v4.ext?.dport], ['127.0.0.1', '10.1.2.3', 40000, 443]);
  const loop6 = [...Array(15).fill(0), 1];
  const doc6 = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x2a];
  const v6 = decodeRecord(extRecord(6, 10, loop6, doc6));
  assert.equal(v6.ext?.saddr, '::1');
  assert.equal(v6.ext?.daddr, '2001:db8::2a');
  const pt = decodeRecord(extRecord(4, 0, [], []));
  assert.equal(pt.kind, 'ptrace');
  assert.equal(pt.ext?.targetPid, 777);
  assert.equal(pt.ext?.request, 0x4206);
  assert.throws(() => decodeRecord(record(6)), /shorter than/);
});

/** A file-layout record (file, mem_open, memfd, module): the header, op, flags, mode, path. */
function pathRecord(kind: number, op: number, flags: number, mode: number, path: string): DataView {
  const head = record(kind);
  const bytes = new TextEncoder().encode(path);
  const buf = new ArrayBuffer(HEADER_BYTES + 16 + bytes.length);
  new Uint8Array(buf).set(new Uint8Array(head.buffer, 0, HEADER_BYTES));
  const v = new DataView(buf);
  v.setUint32(HEADER_BYTES, op, true);
  v.setUint32(HEADER_BYTES + 4, flags, true);
  v.setUint32(HEADER_BYTES + 8, mode, true);
  v.setUint32(HEADER_BYTES + 12, bytes.length, true);
  new Uint8Array(buf, HEADER_BYTES + 16).set(bytes);
  return v;
}

test('/proc/<pid>/mem opens, memfd_create and module loads decode from the file layout', () => {
  const mem = decodeRecord(pathRecord(8, 0, 2, 1187, '/proc/1187/mem'));
  assert.equal(mem.kind, 'mem_open');
  assert.deepEqual(mem.memOpen, { targetPid: 1187, nsLevel: 0, flags: 2, path: '/proc/1187/mem' });
  const memfd = decodeRecord(pathRecord(9, 0, 3, 0, 'payload'));
  assert.deepEqual(memfd.memfd, { name: 'payload', flags: 3 });
  const finit = decodeRecord(pathRecord(10, 2, 4, 0, '/tmp/x/evil.ko'));
  assert.deepEqual(finit.module, { syscall: 'finit_module', path: '/tmp/x/evil.ko', flags: 4, size: 0 });
  const init = decodeRecord(pathRecord(10, 1, 0, 65536, ''));
  assert.deepEqual(init.module, { syscall: 'init_module', path: '', flags: 0, size: 65536 });
  const bad = pathRecord(9, 0, 0, 0, 'x');
  bad.setUint32(HEADER_BYTES + 12, 300, true);
  assert.throws(() => decodeRecord(bad), /declares a path of 300/);
});
