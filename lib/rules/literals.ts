/**
 * Required literals of regex and glob patterns, for the literal prefilter: a string that
 * every match must contain. An under-approximation by design — when in doubt there is no
 * literal (the rule is then evaluated for every event of its type), never a wrong one.
 */

const MIN_LITERAL = 3;

/** Escapes whose meaning is a class or an assertion, not the character itself. */
const CLASS_ESCAPES = new Set([...'dDwWsSbBAzZpPxuUnrtfv0123456789QEkcCGhHKNR']);

/**
 * The longest literal every match of an RE2 pattern contains, or undefined. Patterns with a
 * top-level alternation, or nothing literal of at least three characters, give undefined.
 */
export function regexRequiredLiteral(pattern: string): string | undefined {
  const runs: string[] = [];
  let cur = '';
  const cut = () => {
    if (cur.length > 0) runs.push(cur);
    cur = '';
  };
  let i = 0;
  while (i < pattern.length) {
    const ch = pattern[i]!;
    if (ch === '|') return undefined; // top-level alternation: no single required literal
    if (ch === '(') {
      // Skip the group: its content may be optional or alternated.
      let depth = 0;
      for (; i < pattern.length; i++) {
        const c = pattern[i]!;
        if (c === '\\') i++;
        else if (c === '[') i = skipClass(pattern, i);
        else if (c === '(') depth++;
        else if (c === ')' && --depth === 0) break;
      }
      if (depth !== 0) return undefined;
      i++;
      cut();
      i = skipQuantifier(pattern, i);
      continue;
    }
    if (ch === '[') {
      i = skipClass(pattern, i) + 1;
      cut();
      i = skipQuantifier(pattern, i);
      continue;
    }
    let lit: string | undefined;
    let width = 1;
    if (ch === '\\') {
      const next = pattern[i + 1];
      if (next === undefined) return undefined;
      width = 2;
      if (!CLASS_ESCAPES.has(next)) lit = next;
    } else if (ch === '.' || ch === '^' || ch === '$') {
      lit = undefined;
    } else if (ch === '*' || ch === '+' || ch === '?' || ch === '{' || ch === ')') {
      return undefined; // a quantifier without an atom: not a pattern we understand
    } else {
      lit = ch;
    }
    i += width;
    const q = pattern[i];
    if (lit === undefined) {
      cut();
      i = skipQuantifier(pattern, i);
      continue;
    }
    if (q === '*' || q === '?' || (q === '{' && /^\{0[,}]/.test(pattern.slice(i)))) {
      cut(); // the atom may be absent
      i = skipQuantifier(pattern, i);
      continue;
    }
    if (q === '+' || q === '{') {
      cur += lit; // present at least once, but what follows is not adjacent
      cut();
      i = skipQuantifier(pattern, i);
      continue;
    }
    cur += lit;
  }
  cut();
  const best = runs.reduce((a, b) => (b.length > a.length ? b : a), '');
  return best.length >= MIN_LITERAL ? best : undefined;
}

/** The longest literal piece of a glob (`*` any run, `?` one character), or undefined. */
export function globRequiredLiteral(glob: string): string | undefined {
  const best = glob.split(/[*?]/).reduce((a, b) => (b.length > a.length ? b : a), '');
  return best.length >= MIN_LITERAL ? best : undefined;
}

function skipClass(p: string, i: number): number {
  // p[i] === '['; returns the index of the closing ']'.
  let j = i + 1;
  if (p[j] === '^') j++;
  if (p[j] === ']') j++;
  for (; j < p.length; j++) {
    if (p[j] === '\\') j++;
    else if (p[j] === '[' && p[j + 1] === ':') {
      const end = p.indexOf(':]', j + 2);
      if (end > 0) j = end + 1;
    } else if (p[j] === ']') return j;
  }
  return p.length;
}

function skipQuantifier(p: string, i: number): number {
  const c = p[i];
  if (c === '*' || c === '+' || c === '?') i++;
  else if (c === '{') {
    const end = p.indexOf('}', i);
    if (end > 0) i = end + 1;
  } else return i;
  if (p[i] === '?' || p[i] === '+') i++; // lazy / possessive
  return i;
}
