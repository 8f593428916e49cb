import type { LogLevel } from './config/settings.js';

const ORDER: Record<LogLevel, number> = { silent: 0, error: 1, warn: 2, info: 3, debug: 4, trace: 5 };

/** A structured logger: one JSON object per line. */
export interface Logger {
  error(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  debug(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

/** A JSON-lines logger writing to `out` at `level` and above. */
export function createLogger(level: LogLevel, out: (line: string) => void = (l) => process.stdout.write(l), base: Record<string, unknown> = {}): Logger {
  const at = (lvl: Exclude<LogLevel, 'silent'>) => (msg: string, fields: Record<string, unknown> = {}) => {
    if (ORDER[lvl] > ORDER[level]) return;
    out(`${JSON.stringify({ level: lvl, time: new Date().toISOString(), ...base, msg, ...fields })}\n`);
  };
  return {
    error: at('error'),
    warn: at('warn'),
    info: at('info'),
    debug: at('debug'),
    child: (fields) => createLogger(level, out, { ...base, ...fields }),
  };
}
