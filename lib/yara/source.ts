/**
 * What Vigil needs to know about a YARA source without an engine: each rule's name, tags,
 * metadata, modifiers and line. libyara-wasm reports neither tags nor namespaces, and
 * YARA-X's binding turns boolean metadata into "unknown", so both engines take tags (wasm)
 * and metadata (both) from here, and give the same YaraRuleMatch.
 *
 * This is a tokenizer plus a reader of rule headers and `meta:` sections, not a YARA parser:
 * conditions and patterns are skipped over (strings, regexes, hex patterns and comments are
 * recognised only so that braces and keywords inside them are not mistaken for structure).
 * Whether a source is valid is the engines' call.
 */

export type YaraMetaValue = string | number | boolean;

/** One rule of a source, as its header and meta section declare it. */
export interface ParsedRule {
  readonly name: string;
  readonly tags: readonly string[];
  readonly meta: Readonly<Record<string, YaraMetaValue>>;
  readonly private: boolean;
  readonly global: boolean;
  /** 1-based line of the `rule` keyword. */
  readonly line: number;
  /** Position of the rule in its source (declaration order). */
  readonly index: number;
}

type TokKind = 'ident' | 'string' | 'number' | 'punct' | 'regex' | 'hex';

interface Token {
  readonly kind: TokKind;
  readonly text: string;
  readonly line: number;
}

const IDENT_START = /[A-Za-z_]/;
const IDENT_PART = /[A-Za-z0-9_]/;

/** Tokens of a YARA source; unknown characters become one-character punctuation. */
function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  let line = 1;
  const n = src.length;
  const prevSignificant = (): Token | undefined => out[out.length - 1];
  while (i < n) {
    const c = src[i] as string;
    if (c === '\n') {
      line++;
      i++;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\v') {
      i++;
      continue;
    }
    if (c === '/' && src[i + 1] === '/') {
      while (i < n && src[i] !== '\n') i++;
      continue;
    }
    if (c === '/' && src[i + 1] === '*') {
      i += 2;
      while (i < n && !(src[i] === '*' && src[i + 1] === '/')) {
        if (src[i] === '\n') line++;
        i++;
      }
      i += 2;
      continue;
    }
    if (c === '"') {
      const start = i;
      const startLine = line;
      i++;
      while (i < n && src[i] !== '"') {
        if (src[i] === '\\') i++;
        if (src[i] === '\n') line++;
        i++;
      }
      i++;
      out.push({ kind: 'string', text: src.slice(start, i), line: startLine });
      continue;
    }
    const prev = prevSignificant();
    const afterAssign = prev !== undefined && ((prev.kind === 'punct' && prev.text === '=') || (prev.kind === 'ident' && prev.text === 'matches'));
    if (c === '/' && afterAssign) {
      // A regex pattern or the right side of `matches`: up to the next unescaped slash, then flags.
      const start = i;
      const startLine = line;
      i++;
      while (i < n && src[i] !== '/' && src[i] !== '\n') {
        if (src[i] === '\\') i++;
        i++;
      }
      i++;
      while (i < n && /[a-z]/.test(src[i] as string)) i++;
      out.push({ kind: 'regex', text: src.slice(start, i), line: startLine });
      continue;
    }
    if (c === '{' && prev?.kind === 'punct' && prev.text === '=') {
      // A hex pattern (`$h = { 4D 5A ?? [2-4] }`): no braces nest inside one.
      const start = i;
      const startLine = line;
      while (i < n && src[i] !== '}') {
        if (src[i] === '\n') line++;
        i++;
      }
      i++;
      out.push({ kind: 'hex', text: src.slice(start, i), line: startLine });
      continue;
    }
    if (IDENT_START.test(c) || ((c === '$' || c === '#' || c === '@' || c === '!') && IDENT_START.test(src[i + 1] ?? '') === true)) {
      const start = i;
      i++;
      while (i < n && (IDENT_PART.test(src[i] as string) || src[i] === '.')) i++;
      if (src[i] === '*') i++;
      out.push({ kind: 'ident', text: src.slice(start, i), line });
      continue;
    }
    if (/[0-9]/.test(c)) {
      const start = i;
      while (i < n && /[0-9A-Za-z_.]/.test(src[i] as string)) i++;
      out.push({ kind: 'number', text: src.slice(start, i), line });
      continue;
    }
    out.push({ kind: 'punct', text: c, line });
    i++;
  }
  return out;
}

/** The value of a YARA text string literal (`"a\x41\n"`), escapes resolved. */
export function unquoteYaraString(lit: string): string {
  const body = lit.slice(1, lit.endsWith('"') && lit.length > 1 ? -1 : undefined);
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as string;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = body[++i];
    if (e === 'n') out += '\n';
    else if (e === 't') out += '\t';
    else if (e === 'r') out += '\r';
    else if (e === 'x') {
      out += String.fromCharCode(parseInt(body.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (e !== undefined) out += e;
  }
  return out;
}

function numberValue(text: string): number | undefined {
  const t = text.toLowerCase();
  let v: number;
  if (t.startsWith('0x')) v = parseInt(t.slice(2), 16);
  else if (t.startsWith('0o')) v = parseInt(t.slice(2), 8);
  else if (/^[0-9]+(\.[0-9]+)?$/.test(t)) v = Number(t);
  else return undefined;
  return Number.isFinite(v) ? v : undefined;
}

/** Every rule of one source, in declaration order. */
export function parseRules(src: string): ParsedRule[] {
  const toks = tokenize(src);
  const rules: ParsedRule[] = [];
  let i = 0;
  let isPrivate = false;
  let isGlobal = false;
  while (i < toks.length) {
    const t = toks[i] as Token;
    if (t.kind === 'ident' && (t.text === 'private' || t.text === 'global')) {
      if (t.text === 'private') isPrivate = true;
      else isGlobal = true;
      i++;
      continue;
    }
    if (!(t.kind === 'ident' && t.text === 'rule')) {
      isPrivate = false;
      isGlobal = false;
      i++;
      continue;
    }
    const line = t.line;
    const nameTok = toks[i + 1];
    if (nameTok?.kind !== 'ident') {
      i++;
      continue;
    }
    i += 2;
    const tags: string[] = [];
    if (toks[i]?.kind === 'punct' && toks[i]?.text === ':') {
      i++;
      while (toks[i]?.kind === 'ident') tags.push((toks[i++] as Token).text);
    }
    // The body: from `{` to its matching `}`; the meta section is read on the way.
    if (!(toks[i]?.kind === 'punct' && toks[i]?.text === '{')) {
      isPrivate = false;
      isGlobal = false;
      continue;
    }
    let depth = 1;
    i++;
    const meta: Record<string, YaraMetaValue> = {};
    let section = '';
    while (i < toks.length && depth > 0) {
      const b = toks[i] as Token;
      const next = toks[i + 1];
      if (b.kind === 'punct' && b.text === '{') depth++;
      else if (b.kind === 'punct' && b.text === '}') depth--;
      else if (depth === 1 && b.kind === 'ident' && next?.kind === 'punct' && next.text === ':' && (b.text === 'meta' || b.text === 'strings' || b.text === 'condition')) {
        section = b.text;
        i += 2;
        continue;
      } else if (section === 'meta' && depth === 1 && b.kind === 'ident' && next?.kind === 'punct' && next.text === '=') {
        const v = toks[i + 2];
        let neg = false;
        let vi = i + 2;
        if (v?.kind === 'punct' && v.text === '-') {
          neg = true;
          vi++;
        }
        const vt = toks[vi];
        if (vt?.kind === 'string') meta[b.text] = unquoteYaraString(vt.text);
        else if (vt?.kind === 'number') {
          const num = numberValue(vt.text);
          if (num !== undefined) meta[b.text] = neg ? -num : num;
        } else if (vt?.kind === 'ident' && (vt.text === 'true' || vt.text === 'false')) meta[b.text] = vt.text === 'true';
        i = vi + 1;
        continue;
      }
      i++;
    }
    rules.push({ name: nameTok.text, tags, meta, private: isPrivate, global: isGlobal, line, index: rules.length });
    isPrivate = false;
    isGlobal = false;
  }
  return rules;
}
