/**
 * Reading the JSON that PE-sieve and HollowsHunter write by hand: strings are emitted without
 * escaping (error messages, process names, symbols) or with only the backslashes doubled
 * (paths), booleans are 0/1 integers (sometimes the string "1"), addresses are hex strings
 * without `0x`. A plain JSON.parse refuses a report as soon as one path holds a lone
 * backslash, so the text goes through a repair pass first.
 */

export type ToolJson =
  | { readonly ok: true; readonly value: unknown; readonly repaired: boolean; readonly trailing: boolean }
  | { readonly ok: false; readonly message: string; readonly position: number; readonly line: number; readonly column: number };

/** Offset of the report in the text: the first `{` that starts a line (log lines may come first). */
export function jsonStart(text: string): number {
  const re = /^[ \t\uFEFF]*\{/gm;
  const m = re.exec(text);
  return m ? m.index + m[0].length - 1 : -1;
}

/** The next offset after `i` that is not JSON whitespace. */
function skipSpace(s: string, i: number): number {
  while (i < s.length && (s[i] === ' ' || s[i] === '\t' || s[i] === '\r' || s[i] === '\n')) i++;
  return i;
}

/** Does a JSON value start at `i` (a string, object, array, number or literal)? */
function valueStarts(s: string, i: number): boolean {
  const c = s[i];
  if (c === undefined) return true; // truncated: JSON.parse names the place
  if (c === '"' || c === '{' || c === '[' || c === '-' || (c >= '0' && c <= '9')) return true;
  return /^(?:true|false|null)(?![A-Za-z0-9_])/.test(s.slice(i, i + 6));
}

/**
 * After the quote at `k`: does JSON continue as if the string ended there? A quote inside an
 * unescaped message (`say "hi", now`) is followed by text that starts no JSON value.
 */
function closesString(s: string, k: number): boolean {
  const i = skipSpace(s, k + 1);
  const c = s[i];
  if (c === undefined || c === '}' || c === ']') return true;
  if (c === ',' || c === ':') return valueStarts(s, skipSpace(s, i + 1));
  return false;
}

/**
 * The content of one string as JSON: kept when every backslash is part of a `\\` pair (the tool
 * escaped the path), else every backslash is doubled (the tool wrote it raw: `C:\new` is a path,
 * not a newline). Inner quotes and control characters are escaped either way.
 */
function repairContent(content: string): string {
  if (!content.includes('\\') && !content.includes('"') && !hasControl(content)) return content;
  const runs = content.match(/\\+/g) ?? [];
  const escaped = runs.every((r) => r.length % 2 === 0);
  let body = escaped ? content : content.replace(/\\/g, '\\\\');
  body = body.replace(/"/g, '\\"');
  if (!hasControl(body)) return body;
  let out = '';
  for (const c of body) out += c.charCodeAt(0) < 0x20 ? '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0') : c;
  return out;
}

/** Raw control characters (a line break inside a message) are not allowed in a JSON string. */
function hasControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) < 0x20) return true;
  return false;
}

interface Repaired {
  readonly text: string;
  /** (offset in the repaired text, offset in the input) at each place the offsets shift. */
  readonly anchors: ReadonlyArray<readonly [number, number]>;
}

function repair(s: string): Repaired {
  const parts: string[] = [];
  const anchors: Array<readonly [number, number]> = [[0, 0]];
  let outLen = 0;
  let i = 0;
  let copied = 0;
  const flush = (to: number) => {
    if (to > copied) {
      parts.push(s.slice(copied, to));
      outLen += to - copied;
    }
    copied = to;
  };
  while (i < s.length) {
    const q = s.indexOf('"', i);
    if (q < 0) break;
    let end = -1;
    for (let k = s.indexOf('"', q + 1); k >= 0; k = s.indexOf('"', k + 1)) {
      if (closesString(s, k)) {
        end = k;
        break;
      }
    }
    if (end < 0) break; // an unterminated string (truncated output): JSON.parse names the place
    const content = s.slice(q + 1, end);
    const fixed = repairContent(content);
    if (fixed !== content) {
      flush(q + 1);
      parts.push(fixed);
      outLen += fixed.length;
      copied = end;
      anchors.push([outLen, end]);
    }
    i = end + 1;
  }
  flush(s.length);
  return { text: parts.join(''), anchors };
}

/**
 * Where a JSON text stops being valid (its length when it is valid, or ends early): a plain
 * recursive walk of the grammar, only used to name the place of a parse failure.
 */
export function errorOffset(t: string): number {
  let i = 0;
  const ws = () => {
    i = skipSpace(t, i);
  };
  const fail = (): never => {
    throw i;
  };
  const str = () => {
    i++; // the opening quote
    for (;;) {
      const c = t[i];
      if (c === undefined || c.charCodeAt(0) < 0x20) fail();
      if (c === '"') return void i++;
      if (c === '\\') {
        const e = t[i + 1];
        if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(t.slice(i + 2, i + 6))) i += 6;
        else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else fail();
      } else i++;
    }
  };
  const value = (): void => {
    ws();
    const c = t[i];
    if (c === '"') return str();
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      i++;
      ws();
      if (t[i] === close) return void i++;
      for (;;) {
        if (c === '{') {
          ws();
          if (t[i] !== '"') fail();
          str();
          ws();
          if (t[i] !== ':') fail();
          i++;
        }
        value();
        ws();
        if (t[i] === ',') i++;
        else if (t[i] === close) return void i++;
        else fail();
      }
    }
    const m = /^(?:-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(t.slice(i, i + 64));
    if (!m) fail();
    i += m![0].length;
  };
  try {
    value();
    return i;
  } catch (at) {
    return typeof at === 'number' ? at : t.length;
  }
}

/** An offset in the repaired text back to the input. */
function inputOffset(anchors: Repaired['anchors'], out: number): number {
  let best: readonly [number, number] = [0, 0];
  for (const a of anchors) if (a[0] <= out) best = a;
  return best[1] + (out - best[0]);
}

function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - (before.lastIndexOf('\n') + 1) + 1 };
}

function parseFailure(message: string, text: string, offset: number): ToolJson {
  const position = Math.max(0, Math.min(offset, text.length));
  return { ok: false, message, position, ...lineColumn(text, position) };
}

/**
 * Parse the first JSON object of a tool's stdout, repairing the tool's unescaped strings.
 * `position`, `line` and `column` of a failure are in the original text.
 */
export function parseToolJson(text: string): ToolJson {
  const start = jsonStart(text);
  if (start < 0) return parseFailure('no JSON object in the output', text, 0);
  const body = text.slice(start);
  const fixed = repair(body);
  const attempt = (t: string): { value: unknown } | { error: string; at: number } => {
    try {
      return { value: JSON.parse(t) as unknown };
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const m = /position (\d+)/.exec(message);
      // Not every V8 message carries a position: find it by walking the grammar.
      return { error: message.replace(/, "[\s\S]*" is not valid JSON$/, ''), at: m ? Number(m[1]) : errorOffset(t) };
    }
  };
  const first = attempt(fixed.text);
  if ('value' in first) return { ok: true, value: first.value, repaired: fixed.text !== body, trailing: false };
  // Text after a complete object (an appended report): keep the first object.
  if (/after JSON/.test(first.error) && first.at > 0) {
    const again = attempt(fixed.text.slice(0, first.at));
    if ('value' in again) return { ok: true, value: again.value, repaired: fixed.text !== body, trailing: true };
  }
  return parseFailure(first.error, text, start + inputOffset(fixed.anchors, first.at));
}

/** An object's field, or undefined when the value is not an object. */
export function field(obj: unknown, key: string): unknown {
  return obj !== null && typeof obj === 'object' && !Array.isArray(obj) ? (obj as Record<string, unknown>)[key] : undefined;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** The tool's booleans: 1, "1", true. */
export function flag(v: unknown): boolean {
  return v === 1 || v === true || v === '1' || v === 'true';
}

/** A count: a non-negative integer, or a decimal string of one; anything else is undefined. */
export function count(v: unknown): number | undefined {
  const n = typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : v;
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/** A hex address or size as the tool writes it (`7ff6a1b20000`, with or without `0x`). */
export function hex(v: unknown): bigint | undefined {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  if (typeof v !== 'string') return undefined;
  const m = /^\s*(?:0x)?([0-9a-f]{1,16})\s*$/i.exec(v);
  return m ? BigInt('0x' + m[1]!) : undefined;
}

export function address(v: bigint): string {
  return '0x' + v.toString(16);
}

const PAGE_BASE: Readonly<Record<number, string>> = {
  0x01: 'PAGE_NOACCESS',
  0x02: 'PAGE_READONLY',
  0x04: 'PAGE_READWRITE',
  0x08: 'PAGE_WRITECOPY',
  0x10: 'PAGE_EXECUTE',
  0x20: 'PAGE_EXECUTE_READ',
  0x40: 'PAGE_EXECUTE_READWRITE',
  0x80: 'PAGE_EXECUTE_WRITECOPY',
};
const PAGE_MODIFIERS: ReadonlyArray<readonly [number, string]> = [
  [0x100, 'PAGE_GUARD'],
  [0x200, 'PAGE_NOCACHE'],
  [0x400, 'PAGE_WRITECOMBINE'],
];

/**
 * A Windows page protection (hex, as the tool writes it) by name: `40` → `PAGE_EXECUTE_READWRITE`,
 * `104` → `PAGE_READWRITE|PAGE_GUARD`. Undefined for 0 (not known); `0x…` for bits without a name.
 */
export function protectionName(v: unknown): string | undefined {
  const p = hex(v);
  if (p === undefined || p === 0n || p > 0xffffffffn) return undefined;
  const bits = Number(p);
  const base = PAGE_BASE[bits & 0xff];
  const mods = PAGE_MODIFIERS.filter(([b]) => (bits & b) !== 0).map(([, n]) => n);
  if (((bits & 0xff) !== 0 && base === undefined) || (bits & ~0x7ff) !== 0) return address(p);
  return [...(base ? [base] : []), ...mods].join('|');
}
