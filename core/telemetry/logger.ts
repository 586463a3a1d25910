import { pino } from 'pino';

/** Structured logger (pino). Nothing is logged per event above debug. */
export type Logger = pino.Logger;

export interface LoggerOptions {
  level?: string;
  /** Write to this file descriptor (default 2, stderr, so stdout stays for data). */
  fd?: number;
}

/** The agent's root logger; plugins get `logger.child({ plugin: id })`. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? process.env['VIGIL_LOG_LEVEL'] ?? 'info';
  return pino({ level, base: { app: 'vigil' } }, pino.destination({ fd: options.fd ?? 2, sync: true }));
}

/** A logger that discards everything (tests, tools). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
