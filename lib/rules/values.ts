/** Value coercions shared by the compiler and the index (both sides must agree exactly). */

const NUMERIC = /^(?:[+-]?\d+(?:\.\d+)?|0x[0-9a-f]+)$/i;

/** A number, or a decimal / `0x…` hex numeric string, as a number; otherwise undefined. */
export function toNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'string' && v.length > 0 && v.length <= 40 && NUMERIC.test(v)) {
    const n = Number(v);
    return Number.isFinite(n) ? n : undefined;
  }
  if (typeof v === 'bigint') return Number(v);
  return undefined;
}

/** The string form string operators compare; undefined for objects and missing values. */
export function toStr(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return undefined;
}

/** Index keys of an equality literal on the rule side. */
export function literalEqKey(v: string | number | boolean): string {
  if (typeof v === 'boolean') return `s:${String(v)}`;
  const n = toNumber(v);
  if (n !== undefined) return `n:${String(n)}`;
  return `s:${String(v).toLowerCase()}`;
}

/** Index keys of an event value (a superset of what equals_any could match). */
export function eventEqKeys(v: unknown, out: string[]): void {
  if (typeof v === 'string') {
    out.push(`s:${v.toLowerCase()}`);
    const n = toNumber(v);
    if (n !== undefined) out.push(`n:${String(n)}`);
  } else if (typeof v === 'number') {
    if (Number.isFinite(v)) out.push(`n:${String(v)}`);
  } else if (typeof v === 'boolean') {
    out.push(`s:${String(v)}`);
  }
}

/** Truncate large values for traces and detections. */
export function preview(v: unknown, max = 256): unknown {
  if (typeof v === 'string') return v.length > max ? `${v.slice(0, max)}…` : v;
  if (Array.isArray(v)) return v.slice(0, 16).map((x) => preview(x, max));
  return v;
}

// ---------------------------------------------------------------- IP addresses

export interface IpAddr {
  v6: boolean;
  value: bigint;
}

function parseV4(s: string): bigint | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0n;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return undefined;
    const x = Number(p);
    if (x > 255) return undefined;
    n = (n << 8n) | BigInt(x);
  }
  return n;
}

function parseV6(input: string): bigint | undefined {
  let s = input;
  const pct = s.indexOf('%');
  if (pct >= 0) s = s.slice(0, pct);
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  let tail: bigint | undefined;
  const lastColon = s.lastIndexOf(':');
  if (lastColon >= 0 && s.includes('.', lastColon)) {
    tail = parseV4(s.slice(lastColon + 1));
    if (tail === undefined) return undefined;
    s = `${s.slice(0, lastColon + 1)}0:0`;
  }
  const dbl = s.indexOf('::');
  if (dbl !== s.lastIndexOf('::')) return undefined;
  let groups: string[];
  if (dbl >= 0) {
    const left = s.slice(0, dbl) === '' ? [] : s.slice(0, dbl).split(':');
    const right = s.slice(dbl + 2) === '' ? [] : s.slice(dbl + 2).split(':');
    const fill = 8 - left.length - right.length;
    if (fill < 1) return undefined;
    groups = [...left, ...new Array<string>(fill).fill('0'), ...right];
  } else {
    groups = s.split(':');
  }
  if (groups.length !== 8) return undefined;
  let n = 0n;
  for (const g of groups) {
    if (!/^[0-9a-f]{1,4}$/i.test(g)) return undefined;
    n = (n << 16n) | BigInt(parseInt(g, 16));
  }
  if (tail !== undefined) n = (n & ~0xffffffffn) | tail;
  return n;
}

const V4_MAPPED_PREFIX = 0xffffn << 32n;

/** Parse an IPv4 or IPv6 address (IPv4-mapped IPv6 is reported as IPv4). */
export function parseIp(s: string): IpAddr | undefined {
  if (s.length === 0 || s.length > 64) return undefined;
  if (!s.includes(':')) {
    const v = parseV4(s);
    return v === undefined ? undefined : { v6: false, value: v };
  }
  const v = parseV6(s);
  if (v === undefined) return undefined;
  if (v >> 32n === 0xffffn && (v & ~0xffffffffn) === V4_MAPPED_PREFIX) return { v6: false, value: v & 0xffffffffn };
  return { v6: true, value: v };
}

export interface Cidr {
  v6: boolean;
  network: bigint;
  mask: bigint;
}

/** Parse `a.b.c.d/n`, `x::/n` or a bare address (a /32 or /128). Throws on a bad value. */
export function parseCidr(s: string): Cidr {
  const slash = s.indexOf('/');
  const addr = parseIp(slash >= 0 ? s.slice(0, slash) : s);
  if (addr === undefined) throw new Error(`"${s}" is not an IPv4/IPv6 address or CIDR`);
  // A mapped address given with a v6 prefix length keeps v6 semantics for its prefix.
  const isV6Text = (slash >= 0 ? s.slice(0, slash) : s).includes(':');
  const bits = isV6Text ? 128 : 32;
  let prefix = bits;
  if (slash >= 0) {
    const p = s.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p) || Number(p) > bits) throw new Error(`"${s}" has a bad prefix length (0..${bits})`);
    prefix = Number(p);
  }
  let v6 = addr.v6;
  let value = addr.value;
  if (isV6Text && !addr.v6) {
    // ::ffff:a.b.c.d/n with n >= 96 is an IPv4 range; a shorter prefix is rare: keep it v6.
    if (prefix >= 96) prefix -= 96;
    else {
      v6 = true;
      value = addr.value | V4_MAPPED_PREFIX;
    }
  }
  const width = BigInt(v6 ? 128 : 32);
  const all = (1n << width) - 1n;
  const mask = prefix === 0 ? 0n : (all << (width - BigInt(prefix))) & all;
  return { v6, network: value & mask, mask };
}
