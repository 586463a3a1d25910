import pc from 'picocolors';
import type { Detection, Severity, ProcessInfo } from '../../../core/index.js';

type Paint = (s: string) => string;

export interface Palette {
  severity: Readonly<Record<Severity, Paint>>;
  dim: Paint;
  bold: Paint;
}

/** Colours by severity; `enabled: false` yields plain text (no escape sequences at all). */
export function createPalette(enabled: boolean): Palette {
  const c = pc.createColors(enabled);
  return {
    severity: {
      informational: (s) => c.gray(s),
      low: (s) => c.cyan(s),
      medium: (s) => c.yellow(s),
      high: (s) => c.red(s),
      critical: (s) => c.bold(c.white(c.bgRed(s))),
    },
    dim: (s) => c.dim(s),
    bold: (s) => c.bold(s),
  };
}

// C0/C1 controls (ANSI escapes, carriage returns) and bidi overrides: detection fields carry
// attacker-chosen strings (image paths, titles from imported rules), and printing them raw
// would let a process rewrite or hide lines on the operator's terminal.
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/** Makes a string safe to print on a terminal: unsafe characters become `\xNN` / `\uNNNN`. */
export function sanitize(text: string): string {
  return text.replace(UNSAFE, (ch) => {
    const code = ch.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

function isoTime(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? '-' : d.toISOString();
}

/** The detection's actor, or (as the contract defines) the last evidence event's process. */
export function actorOf(d: Detection): ProcessInfo | undefined {
  if (d.actor) return d.actor;
  const last = d.evidence[d.evidence.length - 1];
  return last?.proc;
}

const SEVERITY_WIDTH = 'INFORMATIONAL'.length;

/**
 * One detection as a short block: a main line (time, severity, title, rule id, actor,
 * host) and, when there is something to add, an indented line with the summary and tags.
 * The result ends with a newline.
 */
export function formatDetection(d: Detection, palette: Palette): string {
  const sev = d.severity.toUpperCase().padEnd(SEVERITY_WIDTH);
  const actor = actorOf(d);
  const image = actor?.image ?? actor?.name;
  const who = `${image === undefined ? '?' : sanitize(image)}${actor?.pid === undefined ? '' : ` pid=${actor.pid}`}`;
  const paint = palette.severity[d.severity] ?? ((s: string) => s);
  let out =
    `${palette.dim(isoTime(d.time))} ${paint(sev)} ${palette.bold(sanitize(d.rule.title))} ` +
    `${palette.dim(`[${sanitize(d.rule.id)}]`)} actor=${who} host=${sanitize(d.host.name)}\n`;
  const extra: string[] = [];
  if (d.summary !== undefined && d.summary !== d.rule.title) extra.push(sanitize(d.summary));
  if (d.tags.length > 0) extra.push(palette.dim(`tags: ${sanitize(d.tags.join(' '))}`));
  if (extra.length > 0) out += `    ${extra.join('  ')}\n`;
  return out;
}
