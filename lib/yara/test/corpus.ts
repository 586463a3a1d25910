/**
 * The shared parity corpus: rules that exercise every kind of pattern and condition the
 * engines must agree on, and inputs that make each of them match (and not match) somewhere.
 */
import { readFileSync } from 'node:fs';
import type { YaraSource } from '../types.js';

export const MAIN_RULES = String.raw`
rule plain_ascii : marker text {
  meta:
    author = "vigil"
    score = 70
    enabled = true
    negative = -3
    quoted = "say \"hi\"\tthere"
  strings:
    $a = "VIGIL-MARKER-1"
  condition:
    $a
}

rule hex_jump_wildcard : hex {
  strings:
    $h = { 4D 41 52 ?? 4B [2-6] 45 52 }
  condition:
    $h
}

rule hex_alternation : hex {
  strings:
    $h = { DE AD ( BE EF | CA FE ) 0? }
  condition:
    $h
}

rule regex_basic {
  strings:
    $r = /evil[0-9]{2,4}\.exe/
  condition:
    $r
}

rule regex_nocase {
  strings:
    $r = /powershell\s+-enc\s+[A-Za-z0-9+\/=]{8}/ nocase
  condition:
    $r
}

rule nocase_plain {
  strings:
    $a = "MiXeDcAsE" nocase
  condition:
    $a
}

rule wide_string {
  strings:
    $w = "WideMarker" wide
    $aw = "AsciiOrWide" wide ascii
  condition:
    any of them
}

rule count_and_offset {
  strings:
    $a = "REPEAT"
  condition:
    #a >= 3 and @a[1] < 100000 and @a[2] > @a[1]
}

rule elf_header : file {
  strings:
    $m = { 7F 45 4C 46 }
  condition:
    $m at 0 and uint32(0) == 0x464c457f and (uint8(4) == 1 or uint8(4) == 2)
}

rule filesize_band {
  condition:
    filesize > 1KB and filesize < 200KB
}

rule uint32_magic {
  condition:
    uint32(0) == 0x44434241
}

private rule priv_marker {
  strings:
    $p = "PRIVATE-PART"
  condition:
    $p
}

rule uses_private : composite {
  meta:
    description = "matches through a private rule"
  condition:
    priv_marker and filesize > 10
}

rule non_utf8_bytes {
  strings:
    $b = { FF FE 00 C3 28 A0 A1 }
    $t = "caf\xe9\xff"
  condition:
    $b or $t
}

rule in_range_and_fullword {
  strings:
    $r = "RANGE"
    $f = "word" fullword
  condition:
    $r in (0..4096) or #f > 1
}

rule xor_string {
  strings:
    $x = "xorme!" xor(1-3)
  condition:
    $x
}

rule many_hits {
  strings:
    $z = "ZZZZ"
  condition:
    $z
}
`;

/** A second namespace with a global rule: it gates only the rules of its own namespace. */
export const SECOND_RULES = String.raw`
global rule big_enough {
  condition:
    filesize > 4KB
}

rule second_marker : second {
  meta:
    weight = 0x10
  strings:
    $a = "VIGIL-MARKER-1"
    $b = { 56 49 47 49 4C }
  condition:
    $a and #b >= 1
}
`;

export const CORPUS_SOURCES: readonly YaraSource[] = [
  { namespace: 'main', text: MAIN_RULES, path: 'main.yar' },
  { namespace: 'second', text: SECOND_RULES, path: 'second.yar' },
];

/** A deterministic PRNG (xorshift32), so inputs are the same on every run. */
function random(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

function plant(b: Buffer, at: number, bytes: Buffer | string): void {
  (typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes).copy(b, at);
}

export interface CorpusInput {
  readonly name: string;
  readonly data: Buffer;
}

/** `/bin/true` or another small ELF executable of this machine, or undefined where there is none. */
function elfFile(): Buffer | undefined {
  for (const p of ['/bin/true', '/usr/bin/true', '/bin/ls']) {
    try {
      const b = readFileSync(p);
      if (b.readUInt32LE(0) === 0x464c457f) return b;
    } catch {
      // Not on this machine: try the next one; none at all is reported by the caller.
    }
  }
  return undefined;
}

export function corpusInputs(): CorpusInput[] {
  const inputs: CorpusInput[] = [];

  const r = random(64 * 1024, 0x5eed);
  plant(r, 100, 'VIGIL-MARKER-1');
  plant(r, 5000, Buffer.from([0x4d, 0x41, 0x52, 0x00, 0x4b, 1, 2, 3, 0x45, 0x52]));
  plant(r, 9000, Buffer.from([0xde, 0xad, 0xca, 0xfe, 0x07]));
  plant(r, 12000, 'drop evil123.exe now');
  plant(r, 20000, Buffer.from('WideMarker', 'utf16le'));
  plant(r, 30000, 'REPEAT..REPEAT..REPEAT');
  plant(r, 40000, Buffer.from([0xff, 0xfe, 0x00, 0xc3, 0x28, 0xa0, 0xa1]));
  plant(r, 41000, 'PRIVATE-PART');
  for (let i = 0; i < 300; i++) plant(r, 50000 + i * 8, 'ZZZZ');
  inputs.push({ name: 'random-64k-markers', data: r });

  const elf = elfFile();
  if (elf) inputs.push({ name: 'elf', data: elf });

  const words = ['alpha', 'bravo', 'charlie', 'word', 'delta', 'echo', 'foxtrot'];
  let text = 'ABCD header line\n';
  for (let i = 0; text.length < 6 * 1024; i++) text += `${words[i % words.length] ?? ''} ${i} lorem ipsum dolor sit amet\n`;
  text += 'POWERSHELL   -EnC SQBFAFgAKABOAGUA\nmixedCASE here: mIxEdCaSe\nRANGE\ncaf\xe9\xff\n';
  inputs.push({ name: 'text-6k', data: Buffer.from(text, 'latin1') });

  // xor(2) of "xorme!", AsciiOrWide in both forms, a second DE AD BE EF.
  const x = random(3000, 77);
  plant(x, 0, 'ABCD');
  plant(x, 200, Buffer.from([...'xorme!'].map((c) => c.charCodeAt(0) ^ 2)));
  plant(x, 400, 'AsciiOrWide');
  plant(x, 600, Buffer.from('AsciiOrWide', 'utf16le'));
  plant(x, 900, Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x0a]));
  plant(x, 1200, 'VIGIL-MARKER-1');
  inputs.push({ name: 'random-3k-xor-wide', data: x });

  // Markers at the very start and end, and a marker straddling nothing: edge offsets.
  const e = random(8192, 4242);
  plant(e, 0, 'VIGIL-MARKER-1');
  plant(e, 8192 - 14, 'VIGIL-MARKER-1');
  plant(e, 4000, 'REPEATREPEAT');
  inputs.push({ name: 'random-8k-edges', data: e });

  inputs.push({ name: 'tiny', data: Buffer.from('PRIVATE-PART word word') });
  return inputs;
}
