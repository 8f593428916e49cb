import { pino, type Logger as PinoLogger } from 'pino';

export const LOG_LEVELS = ['silent', 'error', 'warn', 'info', 'debug', 'trace'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A structured logger: one JSON object per line (pino), fields after the message. */
export interface Logger {
  error(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  debug(msg: string, fields?: Record<string, unknown>): void;
  trace(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
  /** Whether a line at `level` would be written (to skip work for lines that would not). */
  enabled(level: Exclude<LogLevel, 'silent'>): boolean;
}

// Defence in depth: a field with one of these names never reaches a log line, whatever
// a future caller passes. Secrets are kept out of log calls in the first place.
const REDACT = [
  'token',
  'authorization',
  'password',
  'secretKey',
  'adminToken',
  '*.token',
  '*.authorization',
  '*.password',
];

/** A JSON-lines logger at `level` writing to stdout (or `destination`, for tests). */
export function createLogger(level: LogLevel, destination?: { write(line: string): void }): Logger {
  const base = pino(
    {
      level,
      base: undefined, // no pid/hostname noise: the platform adds its own
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACT, censor: '[redacted]' },
    },
    destination ?? pino.destination({ dest: 1, sync: true }),
  );
  return wrap(base);
}

function wrap(p: PinoLogger): Logger {
  return {
    error: (msg, fields) => p.error(fields ?? {}, msg),
    warn: (msg, fields) => p.warn(fields ?? {}, msg),
    info: (msg, fields) => p.info(fields ?? {}, msg),
    debug: (msg, fields) => p.debug(fields ?? {}, msg),
    trace: (msg, fields) => p.trace(fields ?? {}, msg),
    child: (fields) => wrap(p.child(fields)),
    enabled: (level) => p.isLevelEnabled(level),
  };
}
