/**
 * Recursive-descent parser for the Sigma `condition` expression.
 *
 *   expr     := orExpr
 *   orExpr   := andExpr ('or' andExpr)*
 *   andExpr  := notExpr ('and' notExpr)*
 *   notExpr  := 'not' notExpr | primary
 *   primary  := '(' expr ')' | quant 'of' (pattern | 'them') | identifier
 *   quant    := '1' | 'any' | 'all'
 *
 * Precedence is not > and > or, as in the Sigma specification. Keywords are matched
 * case-insensitively; identifiers are case-sensitive like the YAML keys they name.
 */
import { SigmaConversionError } from './types.js';

export type ConditionNode =
  | { kind: 'id'; name: string }
  | { kind: 'and'; items: ConditionNode[] }
  | { kind: 'or'; items: ConditionNode[] }
  | { kind: 'not'; item: ConditionNode }
  | { kind: 'of'; quantifier: 'one' | 'all'; pattern: string };

interface Token {
  text: string;
  pos: number;
}

const IDENT = /^[A-Za-z0-9_*.-]+$/;

function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  const re = /\s*([()]|[^\s()]+)/y;
  let at = 0;
  for (;;) {
    re.lastIndex = at;
    const m = re.exec(src);
    const text = m?.[1];
    if (!m || text === undefined) break;
    tokens.push({ text, pos: m.index + m[0].length - text.length + 1 });
    at = re.lastIndex;
  }
  if (src.slice(at).trim() !== '') {
    throw new SigmaConversionError('bad-condition', `cannot read condition at column ${at + 1}`);
  }
  return tokens;
}

function aggregationError(): SigmaConversionError {
  return new SigmaConversionError(
    'unsupported-aggregation',
    'aggregation expressions after "|" (Sigma 1 syntax) are not supported; write a Sigma correlation rule instead',
  );
}

class Parser {
  private i = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly src: string,
  ) {}

  parse(): ConditionNode {
    if (this.tokens.length === 0) throw this.error('the condition is empty');
    const node = this.orExpr();
    const rest = this.peek();
    if (rest?.text.startsWith('|')) throw aggregationError();
    if (rest) throw this.error(`unexpected '${rest.text}' at column ${rest.pos}`);
    return node;
  }

  private peek(): Token | undefined {
    return this.tokens[this.i];
  }

  private isWord(word: string): boolean {
    return this.peek()?.text.toLowerCase() === word;
  }

  private error(message: string): SigmaConversionError {
    return new SigmaConversionError('bad-condition', `${message} in "${this.src}"`);
  }

  private orExpr(): ConditionNode {
    const items = [this.andExpr()];
    while (this.isWord('or')) {
      this.i++;
      items.push(this.andExpr());
    }
    return items.length === 1 ? items[0]! : { kind: 'or', items };
  }

  private andExpr(): ConditionNode {
    const items = [this.notExpr()];
    while (this.isWord('and')) {
      this.i++;
      items.push(this.notExpr());
    }
    return items.length === 1 ? items[0]! : { kind: 'and', items };
  }

  private notExpr(): ConditionNode {
    if (this.isWord('not')) {
      this.i++;
      return { kind: 'not', item: this.notExpr() };
    }
    return this.primary();
  }

  private primary(): ConditionNode {
    const tok = this.peek();
    if (!tok) throw this.error('the condition ends too early');
    const word = tok.text.toLowerCase();
    if (tok.text === '(') {
      this.i++;
      const inner = this.orExpr();
      const close = this.peek();
      if (close?.text !== ')') {
        throw this.error(close ? `expected ')' at column ${close.pos}, found '${close.text}'` : `missing ')' for '(' at column ${tok.pos}`);
      }
      this.i++;
      return inner;
    }
    if (tok.text === ')') throw this.error(`unexpected ')' at column ${tok.pos}`);
    if (tok.text.startsWith('|')) throw aggregationError();
    if (word === 'near') {
      throw new SigmaConversionError('unsupported-aggregation', 'the "near" operator is not supported; write a temporal correlation rule instead');
    }
    const next = this.tokens[this.i + 1];
    if (next?.text.toLowerCase() === 'of') {
      let quantifier: 'one' | 'all';
      if (word === '1' || word === 'any') quantifier = 'one';
      else if (word === 'all') quantifier = 'all';
      else throw this.error(`unsupported quantifier '${tok.text}' at column ${tok.pos} (use 1, any or all)`);
      this.i += 2;
      const target = this.peek();
      if (!target || !IDENT.test(target.text)) {
        throw this.error(`expected an identifier pattern or 'them' after 'of' at column ${next.pos}`);
      }
      this.i++;
      return { kind: 'of', quantifier, pattern: target.text.toLowerCase() === 'them' ? 'them' : target.text };
    }
    if (word === 'and' || word === 'or' || word === 'of') throw this.error(`unexpected '${tok.text}' at column ${tok.pos}`);
    if (!IDENT.test(tok.text)) throw this.error(`invalid identifier '${tok.text}' at column ${tok.pos}`);
    if (tok.text.includes('*')) throw this.error(`wildcard identifier '${tok.text}' needs '1 of' or 'all of' at column ${tok.pos}`);
    this.i++;
    return { kind: 'id', name: tok.text };
  }
}

/** Parse a Sigma condition string; throws SigmaConversionError with the column on bad input. */
export function parseCondition(src: string): ConditionNode {
  return new Parser(tokenize(src), src).parse();
}

/** Search identifiers selected by an `x of <pattern>` (full match, `*` any run; `them` = all not starting with `_`). */
export function selectIdentifiers(pattern: string, names: readonly string[]): string[] {
  if (pattern === 'them') return names.filter((n) => !n.startsWith('_'));
  const parts = pattern.split('*');
  return names.filter((n) => !n.startsWith('_') && globMatches(parts, n));
}

/**
 * Whole-name match of a `*`-only glob, already split on `*`. The pattern comes from the rule,
 * so it must not reach a backtracking engine (`a*a*a*…b` is exponential there): the first part
 * is a prefix, the last a suffix, and each middle part is searched once, left to right, after
 * the previous one. Taking the leftmost occurrence is always right when the only wildcard is
 * `*`, because it leaves the most room for the parts that follow.
 */
function globMatches(parts: readonly string[], name: string): boolean {
  const first = parts[0] ?? '';
  if (parts.length === 1) return name === first;
  const last = parts[parts.length - 1] ?? '';
  if (first.length + last.length > name.length || !name.startsWith(first) || !name.endsWith(last)) return false;
  let at = first.length;
  const end = name.length - last.length;
  for (let i = 1; i < parts.length - 1; i++) {
    const part = parts[i] ?? '';
    if (part === '') continue;
    const found = name.indexOf(part, at);
    if (found < 0 || found + part.length > end) return false;
    at = found + part.length;
  }
  return true;
}

export function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
