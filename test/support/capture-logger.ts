/** A real pino logger whose lines the test reads back (what an operator would see in the log). */
import { pino } from 'pino';
import type { Logger } from '../../core/telemetry/logger.js';

export interface CapturedLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export function captureLogger(level = 'info'): { logger: Logger; lines: CapturedLine[]; warnings: () => CapturedLine[] } {
  const lines: CapturedLine[] = [];
  const logger = pino({ level }, { write: (s: string) => void lines.push(JSON.parse(s) as CapturedLine) });
  // pino's warn level is 40.
  return { logger, lines, warnings: () => lines.filter((l) => l.level === 40) };
}
