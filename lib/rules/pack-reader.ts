/**
 * The reader of rule-pack files, shared by every engine whose rules live in them (the rule
 * engine's loader here, the correlation engine's): the given files and folders become the JSON
 * files under them, after the shared definitions (`lists.json`) of their pack root (pack-files.ts);
 * a file that another user could have written (lib/files fileTrustProblem) is refused with the
 * reason; each file is parsed (a UTF-8 BOM stripped, a syntax error placed by line and column) and holds one rule
 * (an object with `id`) or a pack `{ lists, macros, rules }`. Lists and macros are pooled over
 * all files; rules are handed on with their file and JSON pointer. What a valid rule is, each
 * engine decides. A bad file is an issue and is skipped; reading never aborts.
 */
import { readFile } from 'node:fs/promises';
import { fileTrustProblem, listFiles } from '../files/index.js';
import { sharedDefinitionsOf } from './pack-files.js';
import { describe } from './compile.js';
import { jsonErrorOffset } from './json-position.js';
import { validatePackEnvelope, type SchemaError } from './validate.js';
import type { Literal, LoadIssue } from './types.js';

type Rec = Record<string, unknown>;

/** One rule object as found in a file, not yet validated. */
export interface RuleEntry {
  value: Rec;
  file: string;
  /** JSON pointer of the rule inside its file: `` for a one-rule file, `/rules/<i>` in a pack. */
  pointer: string;
}

export interface RulePack {
  /** Files read: the shared definitions of the pack root above the given paths, then the JSON files under them. */
  files: string[];
  /** The shared-definitions files read from the pack roots above the given paths, not among them. */
  sharedAbove: string[];
  lists: Record<string, Literal[]>;
  macros: Record<string, unknown>;
  /** Where each list and each macro is defined. */
  listFileOf: Map<string, string>;
  macroFileOf: Map<string, string>;
  /** Every rule object, in file order. */
  entries: RuleEntry[];
  issues: LoadIssue[];
}

export interface PackReadOptions {
  /**
   * How a file that is not JSON is named at the start of its issue (default `invalid JSON`);
   * the line, column and parser message follow.
   */
  invalidJson?: string;
}

function isRec(v: unknown): v is Rec {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function issueFrom(file: string, e: SchemaError): LoadIssue {
  const i: LoadIssue = { file, path: e.path, message: e.message };
  if (e.expected !== undefined) i.expected = e.expected;
  if (e.found !== undefined) i.found = e.found;
  return i;
}

/** Line and column (1-based) of a character offset. */
function lineCol(text: string, pos: number): string {
  let line = 1;
  let col = 1;
  for (let i = 0; i < pos && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      col = 1;
    } else col++;
  }
  return `line ${line} column ${col}`;
}

/**
 * The files readRulePack reads for `paths`: the given files and the JSON files under the given
 * folders (`given`), and the shared definitions of their pack roots that are not among those
 * (`above`, pack-files.ts sharedDefinitionsOf).
 */
async function listWithShared(paths: readonly string[], issues: LoadIssue[]): Promise<{ given: string[]; above: string[] }> {
  const given = await listFiles(paths, '.json', (p, _file, err) => issues.push({ file: p, path: '', message: `cannot read: ${err.message}` }));
  const listed = new Set(given);
  return { given, above: sharedDefinitionsOf(paths).filter((f) => !listed.has(f)) };
}

/** The files readRulePack reads for `paths`, in reading order: the shared definitions above them first. */
export async function listRuleFiles(paths: readonly string[], issues: LoadIssue[]): Promise<string[]> {
  const { given, above } = await listWithShared(paths, issues);
  return [...above, ...given];
}

/** Parse one file's text: the document, or the issue message of a file that is not JSON. */
export function parseRuleFileText(text: string, invalidJson = 'invalid JSON'): { doc: unknown } | { error: string } {
  // Editors on Windows save UTF-8 with a byte-order mark, which JSON.parse refuses.
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  try {
    return { doc: JSON.parse(body) as unknown };
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    const pos = jsonErrorOffset(body);
    return { error: `${invalidJson}${pos !== undefined ? ` at ${lineCol(body, pos)}` : ''}: ${msg}` };
  }
}

/** Read rule files and folders: parse every file, pool lists and macros, collect the rule objects. */
export async function readRulePack(paths: readonly string[], opts: PackReadOptions = {}): Promise<RulePack> {
  const issues: LoadIssue[] = [];
  const { given, above } = await listWithShared(paths, issues);
  const pack: RulePack = {
    files: [...above, ...given],
    sharedAbove: above,
    lists: {},
    macros: {},
    listFileOf: new Map(),
    macroFileOf: new Map(),
    entries: [],
    issues,
  };
  for (const file of pack.files) {
    // Rule content decides what is detected: only root or the agent's user may have written it.
    const untrusted = fileTrustProblem(file);
    if (untrusted !== undefined) {
      issues.push({ file, path: '', message: `untrusted: ${untrusted}; refused` });
      continue;
    }
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      issues.push({ file, path: '', message: `cannot read: ${err instanceof Error ? err.message : String(err)}` });
      continue;
    }
    const parsed = parseRuleFileText(text, opts.invalidJson);
    if ('error' in parsed) {
      issues.push({ file, path: '', message: parsed.error });
      continue;
    }
    addFile(pack, file, parsed.doc);
  }
  return pack;
}

function addFile(pack: RulePack, file: string, doc: unknown): void {
  const issues = pack.issues;
  if (!isRec(doc)) {
    issues.push({ file, path: '', message: 'a rule file holds one rule object or a pack object', expected: 'object', found: describe(doc) });
    return;
  }
  if ('id' in doc) {
    pack.entries.push({ value: doc, file, pointer: '' });
    return;
  }
  // A rule that is not an object is that rule's issue (below), not the file's.
  const fileErrors = validatePackEnvelope(doc).filter((e) => !/^\/rules\/\d+/.test(e.path));
  if (fileErrors.length > 0) {
    for (const e of fileErrors) issues.push(issueFrom(file, e));
    return;
  }
  for (const [name, values] of Object.entries((doc['lists'] ?? {}) as Record<string, Literal[]>)) {
    if (Object.hasOwn(pack.lists, name)) {
      issues.push({ file, path: `/lists/${name}`, message: `list "${name}" is already defined in ${pack.listFileOf.get(name) ?? '?'}` });
      continue;
    }
    pack.lists[name] = values;
    pack.listFileOf.set(name, file);
  }
  for (const [name, cond] of Object.entries((doc['macros'] ?? {}) as Record<string, unknown>)) {
    if (Object.hasOwn(pack.macros, name)) {
      issues.push({ file, path: `/macros/${name}`, message: `macro "${name}" is already defined in ${pack.macroFileOf.get(name) ?? '?'}` });
      continue;
    }
    pack.macros[name] = cond;
    pack.macroFileOf.set(name, file);
  }
  ((doc['rules'] ?? []) as unknown[]).forEach((r, i) => {
    const pointer = `/rules/${i}`;
    if (!isRec(r)) {
      issues.push({ file, path: pointer, message: 'a rule must be an object', expected: 'object', found: describe(r) });
      return;
    }
    pack.entries.push({ value: r, file, pointer });
  });
}
