/**
 * The pure parts of the Linux memory scanner: the /proc/<pid>/maps parser and flagging, the
 * ELF file ranges compared for patched code, the JIT allow-list and the match helper.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lineKinds, livePath, mapFilesName, parseMaps, parseMapsLine, comparable } from '../maps.js';
import { compareRanges, dynamicSegment, hasTextRel, parseElfHeader, parseLoads, programHeadersSize } from '../elf.js';
import { jitAllowed, DEFAULT_JIT_ALLOW } from '../scan.js';
import { regionMatches } from '../matches.js';
import { MemscanError } from '../errors.js';

const MAPS = [
  '55d0c8a00000-55d0c8a02000 r--p 00000000 fe:00 260689                     /usr/bin/cat',
  '55d0c8a02000-55d0c8a07000 r-xp 00002000 fe:00 260689                     /usr/bin/cat',
  '55d0c9e1b000-55d0c9e3c000 rw-p 00000000 00:00 0                          [heap]',
  '7f1a2b000000-7f1a2b004000 rwxp 00000000 00:00 0 ',
  '7f1a2b004000-7f1a2b008000 r-xp 00000000 00:00 0',
  '7f1a2c000000-7f1a2c002000 r-xp 00000000 00:01 4242                       /memfd:payload (deleted)',
  '7f1a2c100000-7f1a2c102000 r-xp 00001000 fe:00 99999                      /tmp/my dir/lib two.so (deleted)',
  '7f1a2c200000-7f1a2c202000 r-xp 00000000 fe:00 1234                       /opt/app/with  two  spaces.so',
  '7f1a2c300000-7f1a2c301000 rwxs 00000000 00:01 2048                       /dev/zero (deleted)',
  '7f1a2c400000-7f1a2c401000 r-xp 00000000 00:00 0                          [anon:jit-cache]',
  '7f1a2c500000-7f1a2c501000 r-xp 00000000 00:00 0                          [uprobes]',
  '7fff5e9d0000-7fff5e9f1000 rwxp 00000000 00:00 0                          [stack]',
  '7fff5e9f8000-7fff5e9fc000 r--p 00000000 00:00 0                          [vvar]',
  '7fff5e9fc000-7fff5e9fe000 r-xp 00000000 00:00 0                          [vdso]',
  '7f1a2c600000-7f1a2c601000 r-xp 00000000 00:0e 77                         anon_inode:[perf_event]',
  '7f1a2c700000-7f1a2c701000 r--p 00000000 103:02 55                        /data/file',
  'ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]',
  '',
].join('\n');

test('maps: every field, paths with spaces, (deleted), memfd, pseudo-paths and anonymous lines', () => {
  const rs = parseMaps(MAPS);
  assert.equal(rs.length, 17);
  const [text, heap, rwx, rx, memfd, deleted, spaces, devzero, anonName, uprobes, stack, vvar, vdso, anonInode, bigDev, vsyscall] = [rs[1], rs[2], rs[3], rs[4], rs[5], rs[6], rs[7], rs[8], rs[9], rs[10], rs[11], rs[12], rs[13], rs[14], rs[15], rs[16]];
  assert.deepEqual(text, {
    start: 0x55d0c8a02000n,
    end: 0x55d0c8a07000n,
    perms: 'r-xp',
    read: true,
    write: false,
    exec: true,
    shared: false,
    offset: 0x2000n,
    dev: 'fe:00',
    inode: 260689n,
    path: '/usr/bin/cat',
    deleted: false,
    backing: 'file',
    line: 2,
  });
  assert.equal(heap?.backing, 'anon');
  assert.equal(heap?.path, '[heap]');
  assert.equal(rwx?.path, '', 'a trailing space after the inode is no path');
  assert.equal(rwx?.backing, 'anon');
  assert.equal(rx?.path, '');
  assert.equal(memfd?.backing, 'memfd');
  assert.equal(memfd?.deleted, true);
  assert.equal(deleted?.path, '/tmp/my dir/lib two.so (deleted)');
  assert.equal(deleted?.backing, 'file');
  assert.equal(deleted?.deleted, true);
  assert.equal(livePath(deleted!.path), '/tmp/my dir/lib two.so');
  assert.equal(spaces?.path, '/opt/app/with  two  spaces.so', 'inner runs of spaces are kept');
  assert.equal(devzero?.backing, 'anon', 'a shared anonymous mapping is not a deleted program');
  assert.equal(devzero?.shared, true);
  assert.equal(anonName?.backing, 'anon');
  assert.equal(uprobes?.backing, 'kernel');
  assert.equal(stack?.backing, 'anon');
  assert.equal(vvar?.backing, 'kernel');
  assert.equal(vdso?.backing, 'kernel');
  assert.equal(anonInode?.backing, 'other');
  assert.equal(bigDev?.dev, '103:02');
  assert.equal(vsyscall?.start, 0xffffffffff600000n, 'above 2^53: exact as a bigint');
  assert.equal(vsyscall?.backing, 'kernel');
  assert.equal(mapFilesName(text!), '55d0c8a02000-55d0c8a07000');
});

test('maps: flagged kinds per region', () => {
  const kinds = parseMaps(MAPS).map((r) => [r.path || r.perms, lineKinds(r)] as const);
  assert.deepEqual(kinds, [
    ['/usr/bin/cat', []],
    ['/usr/bin/cat', []],
    ['[heap]', []],
    ['rwxp', ['anon_exec', 'wx']],
    ['r-xp', ['anon_exec']],
    ['/memfd:payload (deleted)', ['memfd_exec']],
    ['/tmp/my dir/lib two.so (deleted)', ['deleted_exec']],
    ['/opt/app/with  two  spaces.so', []],
    ['/dev/zero (deleted)', ['anon_exec', 'wx']],
    ['[anon:jit-cache]', ['anon_exec']],
    ['[uprobes]', []],
    ['[stack]', ['anon_exec', 'wx']],
    ['[vvar]', []],
    ['[vdso]', []],
    ['anon_inode:[perf_event]', []],
    ['/data/file', []],
    ['[vsyscall]', []],
  ]);
  assert.deepEqual(
    parseMaps(MAPS).filter(comparable).map((r) => r.path),
    ['/usr/bin/cat', '/tmp/my dir/lib two.so (deleted)', '/opt/app/with  two  spaces.so'],
  );
});

test('maps: a malformed line is refused with its number, not guessed at', () => {
  assert.throws(
    () => parseMaps('55d0c8a00000-55d0c8a02000 r--p 00000000 fe:00 1 /x\nnot a maps line\n'),
    (err: unknown) => err instanceof MemscanError && err.code === 'VIGIL_ERR_MEMSCAN_MAPS' && /line 2/.test(err.message),
  );
  assert.throws(() => parseMapsLine('2000-1000 r--p 00000000 fe:00 1'), /not above start/);
  assert.equal(parseMapsLine(''), undefined);
});

/** A little-endian ELF64 header with PT_LOAD program headers at offset 64. */
function elf64(loads: { type?: number; flags: number; offset: number; filesz: number }[]): Buffer {
  const b = Buffer.alloc(64 + 56 * loads.length);
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
  b.writeBigUInt64LE(64n, 32);
  b.writeUInt16LE(56, 54);
  b.writeUInt16LE(loads.length, 56);
  loads.forEach((l, i) => {
    const at = 64 + i * 56;
    b.writeUInt32LE(l.type ?? 1, at);
    b.writeUInt32LE(l.flags, at + 4);
    b.writeBigUInt64LE(BigInt(l.offset), at + 8);
    b.writeBigUInt64LE(BigInt(l.filesz), at + 32);
  });
  return b;
}

test('elf: PT_LOAD file ranges, and the bytes of a mapping compared with its file', () => {
  const file = elf64([
    { flags: 4, offset: 0, filesz: 0x1000 },
    { type: 6, flags: 4, offset: 64, filesz: 0x100 },
    { flags: 5, offset: 0x1000, filesz: 0x2345 },
    { flags: 6, offset: 0x4000, filesz: 0x200 },
  ]);
  const h = parseElfHeader(file);
  assert.ok(h);
  assert.equal(programHeadersSize(h), 4 * 56);
  const loads = parseLoads(h, file.subarray(64));
  assert.deepEqual(loads, [
    { flags: 4, offset: 0n, filesz: 0x1000n },
    { flags: 5, offset: 0x1000n, filesz: 0x2345n },
    { flags: 6, offset: 0x4000n, filesz: 0x200n },
  ]);
  // The r-x mapping covers 0x1000..0x4000: the file supplies 0x1000..0x3345, the rest of the last page is not compared.
  assert.deepEqual(compareRanges(0x1000n, 0x3000n, 0x5000n, loads), [{ from: 0x1000n, to: 0x3345n }]);
  // A mapping over two adjacent segments is one range.
  assert.deepEqual(compareRanges(0n, 0x3000n, 0x5000n, loads), [{ from: 0n, to: 0x3000n }]);
  // Not an ELF file: the mapping's range, cut at the end of the file.
  assert.deepEqual(compareRanges(0x1000n, 0x2000n, 0x1800n, undefined), [{ from: 0x1000n, to: 0x1800n }]);
  assert.deepEqual(compareRanges(0x2000n, 0x1000n, 0x1800n, undefined), []);
  assert.equal(parseElfHeader(Buffer.from('#!/bin/sh\n'.padEnd(64, ' '))), undefined);
  const bad = Buffer.from(file);
  bad.writeUInt16LE(0, 56);
  assert.equal(programHeadersSize(parseElfHeader(bad)!), undefined, 'no program headers');
});

test('elf: the dynamic segment and text relocations (DT_TEXTREL, DF_TEXTREL)', () => {
  const file = elf64([
    { flags: 5, offset: 0, filesz: 0x1000 },
    { type: 2, flags: 6, offset: 0x2000, filesz: 0x40 },
  ]);
  const h = parseElfHeader(file)!;
  assert.deepEqual(dynamicSegment(h, file.subarray(64)), { from: 0x2000n, to: 0x2040n });
  assert.equal(dynamicSegment(h, elf64([{ flags: 5, offset: 0, filesz: 1 }]).subarray(64)), undefined);
  const dyn = (entries: [bigint, bigint][]) => {
    const b = Buffer.alloc(16 * entries.length);
    entries.forEach(([tag, val], i) => {
      b.writeBigInt64LE(tag, i * 16);
      b.writeBigUInt64LE(val, i * 16 + 8);
    });
    return b;
  };
  assert.equal(hasTextRel(h, dyn([[1n, 5n], [22n, 0n], [0n, 0n]])), true, 'DT_TEXTREL');
  assert.equal(hasTextRel(h, dyn([[30n, 4n], [0n, 0n]])), true, 'DF_TEXTREL in DT_FLAGS');
  assert.equal(hasTextRel(h, dyn([[30n, 8n], [0n, 0n]])), false, 'DF_BIND_NOW only');
  assert.equal(hasTextRel(h, dyn([[0n, 0n], [22n, 0n]])), false, 'nothing after DT_NULL counts');
});

test('jit allow-list: exact names and prefix* entries', () => {
  assert.equal(jitAllowed('node', DEFAULT_JIT_ALLOW), true);
  assert.equal(jitAllowed('java', DEFAULT_JIT_ALLOW), true);
  assert.equal(jitAllowed('qemu-system-x86_64', DEFAULT_JIT_ALLOW), true);
  assert.equal(jitAllowed('nodey', DEFAULT_JIT_ALLOW), false);
  assert.equal(jitAllowed('sleep', DEFAULT_JIT_ALLOW), false);
  assert.equal(jitAllowed(undefined, DEFAULT_JIT_ALLOW), false);
  assert.equal(jitAllowed('node', []), false);
});

test('matches: absolute addresses and bytes sliced from the buffer, at most 64 of them', () => {
  const data = Buffer.alloc(300);
  data.write('MARK', 10);
  const { matches, stringsDropped } = regionMatches(
    [
      {
        rule: 'r',
        namespace: 'ns',
        tags: ['t'],
        meta: { a: 1 },
        strings: [
          { identifier: '$m', offset: 10, length: 4 },
          { identifier: '$long', offset: 100, length: 150 },
          { identifier: '$x', offset: 0, length: 1 },
        ],
      },
    ],
    data,
    0x7f0000001000n,
    'yara-x',
    2,
  );
  assert.equal(stringsDropped, 1);
  assert.deepEqual(matches, [
    {
      rule: 'r',
      namespace: 'ns',
      tags: ['t'],
      meta: { a: 1 },
      region: '0x7f0000001000',
      engine: 'yara-x',
      strings: [
        { identifier: '$m', offset: 0x7f000000100a, length: 4, data_hex: Buffer.from('MARK').toString('hex') },
        { identifier: '$long', offset: 0x7f0000001064, length: 150, data_hex: '00'.repeat(64) },
      ],
    },
  ]);
});
