import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseDocument, isMap, isSeq, type Document, type Node as YamlNode } from 'yaml';
import { VigilError } from '../errors/index.js';
import { fileTrustProblem, STRICT_FILE_MODES_ENV } from '../file-trust.js';
import { defaultConfigPath, projectRoot } from '../paths.js';
import { CONFIG_SCHEMA } from './schema.js';
import { playbookFindings } from './playbooks.js';
import { validateWithSchema, type ConfigFinding } from './validate.js';
import type { VigilConfig } from './types.js';

/** A loaded, validated config with where it came from. */
export interface LoadedConfig {
  config: VigilConfig;
  /** The file it was read from. */
  file: string;
  /** Relative paths in the config resolve against this folder. */
  baseDir: string;
  /** Line lookup for findings produced later (plugin blocks). */
  lineOf(pointer: string): number | undefined;
}

/** Where the config comes from: the flag, then VIGIL_CONFIG, then the embedded default. */
export function resolveConfigPath(flag?: string): string {
  if (flag) return resolve(flag);
  const env = process.env['VIGIL_CONFIG'];
  if (env) return resolve(env);
  return defaultConfigPath();
}

/**
 * Read, parse and validate a config file. Throws VigilError with every finding. The config
 * names the code the agent runs and the rules it trusts, so a file that another user could
 * have written (core/file-trust.ts) is refused before it is parsed.
 */
export function loadConfig(file: string): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new VigilError('VIGIL_ERR_CONFIG_READ', `cannot read config file ${file}`, { cause, details: { file } });
  }
  const untrusted = fileTrustProblem(file);
  if (untrusted !== undefined) {
    throw new VigilError(
      'VIGIL_ERR_CONFIG_UNTRUSTED',
      `${file}: ${untrusted}; refused: only root or the agent's user may be able to change the config (chmod go-w, chown; or ${STRICT_FILE_MODES_ENV}=0 on a lab machine)`,
      { details: { file, reason: untrusted } },
    );
  }
  return parseConfig(text, file);
}

/** Parse and validate config text (file is used for messages and relative paths). */
export function parseConfig(text: string, file: string): LoadedConfig {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const first = doc.errors[0];
    const line = first?.linePos?.[0]?.line;
    throw new VigilError('VIGIL_ERR_CONFIG_PARSE', `${file}${line ? `:${line}` : ''}: ${first?.message ?? 'invalid YAML'}`, {
      details: { file, line, findings: doc.errors.map((e) => e.message) },
    });
  }
  const data: unknown = configData(doc, file) ?? {};
  const lineOf = (pointer: string) => lineInDoc(doc, text, pointer);
  const findings = validateWithSchema(CONFIG_SCHEMA, data).map((f) => withLine(f, lineOf));
  if (findings.length > 0) throw configInvalid(file, findings);
  const planFindings = playbookFindings((data as VigilConfig).response).map((f) => withLine(f, lineOf));
  if (planFindings.length > 0) throw configInvalid(file, planFindings);
  const isDefault = resolve(file) === resolve(defaultConfigPath());
  return { config: data as VigilConfig, file, baseDir: isDefault ? projectRoot() : dirname(resolve(file)), lineOf };
}

/**
 * Aliases a config may resolve before it is refused. A config has no need of many; a few
 * nested anchors referenced a few times each (an alias bomb) would otherwise expand to
 * gigabytes before the validator sees a byte of it.
 */
export const CONFIG_MAX_ALIAS_COUNT = 100;

function configData(doc: Document, file: string): unknown {
  try {
    return doc.toJS({ maxAliasCount: CONFIG_MAX_ALIAS_COUNT });
  } catch (cause) {
    // The yaml library refuses the expansion with a plain ReferenceError; it is a property of
    // the file, so it is reported as one, with the file named and the exit code of a config error.
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new VigilError(
      'VIGIL_ERR_CONFIG_PARSE',
      `${file}: ${reason}: its YAML aliases expand past the limit (${CONFIG_MAX_ALIAS_COUNT}); write the values out instead of nesting anchors`,
      { cause, details: { file, findings: [reason] } },
    );
  }
}

export function withLine(f: ConfigFinding, lineOf: (p: string) => number | undefined): ConfigFinding {
  // An unknown key's own line; otherwise the value's line, else the parent's.
  let line = lineOf(f.path);
  if (line === undefined) line = lineOf(f.path.split('/').slice(0, -1).join('/'));
  return line === undefined ? f : { ...f, line };
}

/** The error for a set of findings, with a message that lists all of them. */
export function configInvalid(file: string, findings: readonly ConfigFinding[]): VigilError {
  const lines = findings.map(
    (f) => `  ${file}${f.line ? `:${f.line}` : ''} at ${f.path || '/'}: expected ${f.expected}; found ${f.found}`,
  );
  return new VigilError('VIGIL_ERR_CONFIG_INVALID', `invalid config ${file}:\n${lines.join('\n')}`, {
    details: { file, findings },
  });
}

function lineInDoc(doc: Document, text: string, pointer: string): number | undefined {
  let node: unknown = doc.contents;
  let keyNode: YamlNode | undefined;
  for (const part of pointer.split('/').slice(1)) {
    const key = part.replace(/~1/g, '/').replace(/~0/g, '~');
    if (isMap(node)) {
      const pair = node.items.find((p) => (p.key as { value?: unknown } | null)?.value === key);
      if (!pair) return keyNode ? offsetToLine(text, keyNode.range?.[0]) : undefined;
      keyNode = pair.key as YamlNode;
      node = pair.value;
    } else if (isSeq(node)) {
      node = node.items[Number(key)];
      keyNode = node as YamlNode;
    } else return keyNode ? offsetToLine(text, keyNode.range?.[0]) : undefined;
  }
  const target = keyNode ?? (node as YamlNode | undefined);
  return offsetToLine(text, target?.range?.[0]);
}

function offsetToLine(text: string, offset: number | undefined): number | undefined {
  if (offset === undefined) return undefined;
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}
