import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Logger } from '../log.js';

/**
 * Give every request an id (the caller's `X-Request-Id` when it is a plain token, else a
 * new UUID), echo it in the answer, and a logger that puts it on every line of the
 * request (`res.locals.log`). One line per request at debug level.
 */
export function requestId(log: Logger): RequestHandler {
  return (req, res, next) => {
    const given = req.headers['x-request-id'];
    const id = typeof given === 'string' && /^[A-Za-z0-9._-]{1,64}$/.test(given) ? given : randomUUID();
    res.setHeader('X-Request-Id', id);
    // Made on first use: most requests at info level log nothing (a deploy's CPU, issue #14).
    let reqLog: Logger | undefined;
    Object.defineProperty(res.locals, 'log', { get: () => (reqLog ??= log.child({ reqId: id })), enumerable: true });
    if (log.enabled('debug')) {
      const started = performance.now();
      res.on('finish', () => {
        // The path only: query strings are not ours to log.
        requestLog(res, log).debug('request', {
          method: req.method,
          path: req.path,
          status: res.statusCode,
          durationMs: Math.round(performance.now() - started),
        });
      });
    }
    next();
  };
}

/** The request's logger (set by `requestId`). */
export function requestLog(res: { locals: Record<string, unknown> }, fallback: Logger): Logger {
  return (res.locals.log as Logger | undefined) ?? fallback;
}
