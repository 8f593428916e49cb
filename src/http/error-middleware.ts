import type { ErrorRequestHandler } from 'express';
import { KipError } from '../errors.js';
import type { Logger } from '../log.js';
import { ERROR_STATUS } from './error-status.js';
import { requestLog } from './request-id.js';

/** Translate body-parser's errors (size, encoding, aborted) into KipErrors. */
function fromBodyParser(err: { type?: string; status?: number }): KipError | null {
  switch (err.type) {
    case 'entity.too.large':
      return new KipError('PAYLOAD_TOO_LARGE', 'request body is over 64 KiB');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new KipError('UNSUPPORTED_MEDIA_TYPE', 'unsupported Content-Encoding or charset; send plain or gzip JSON');
    case 'entity.parse.failed':
      return new KipError('INVALID_JSON', 'the body is not valid JSON');
    case 'request.aborted':
    case 'request.size.invalid':
    case 'stream.encoding.set':
      return new KipError('INVALID_BODY', 'the request body was incomplete');
    default:
      if (typeof err.status === 'number' && err.status >= 400 && err.status < 500) {
        return new KipError('INVALID_BODY', 'the request body could not be read (bad Content-Encoding?)');
      }
      return null;
  }
}

/**
 * Every error becomes `{"error": "<what to fix>", "code": "<STABLE_CODE>"}` with the status
 * of its code, and one log line: `warn` for a 5xx (with what the remote answered and after
 * how many attempts, so an operator sees why a deploy failed), `info` for a 4xx of the
 * webhook (CI callers' mistakes are worth seeing), `debug` for other 4xx.
 */
export function errorMiddleware(log: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const kip = err instanceof KipError ? err : fromBodyParser(err as { type?: string; status?: number });
    const reqLog = requestLog(res, log);
    if (!kip) {
      reqLog.error('unhandled error', {
        method: req.method,
        path: req.path,
        error: err instanceof Error ? err.message : String(err),
      });
    }
    const e = kip ?? new KipError('INTERNAL', 'internal error; see the bridge log');
    const status = ERROR_STATUS[e.code];
    const fields = { app: res.locals.app as string | undefined, code: e.code, status };
    if (e.code === 'PUSH_DECLINED') {
      // The queue logged the remote's reason once, at warn, for the whole push.
      reqLog.info('request failed', { ...fields, remote: e.data.answer });
    } else if (status >= 500) {
      if (kip)
        reqLog.warn('request failed', {
          ...fields,
          remote: e.data.answer,
          attempts: e.data.attempts,
          error: e.message,
        });
    } else if (req.path.startsWith('/api/v1/webhook/')) {
      reqLog.info('webhook refused', {
        ...fields,
        ...(status === 401 || status === 429 ? { address: req.socket.remoteAddress } : {}),
      });
    } else {
      reqLog.debug('request refused', fields);
    }
    if (status === 503) res.setHeader('Retry-After', String(Number(e.data.retryAfter ?? 5)));
    if (e.code === 'TOO_MANY_REQUESTS') res.setHeader('Retry-After', String(Number(e.data.retryAfter ?? 60)));
    if (!res.headersSent) res.status(status).json(errorBody(e));
  };
}

/** The JSON body of an error answer: `{error, code}`, its fields and what else it says. */
export function errorBody(e: KipError): Record<string, unknown> {
  const body: Record<string, unknown> = { error: e.message, code: e.code };
  if (e.data.fields) body.fields = e.data.fields;
  // What the error says besides its message (an app's lock): never secrets, by construction.
  if (e.data.body && typeof e.data.body === 'object')
    Object.assign(body, e.data.body, { error: e.message, code: e.code });
  return body;
}
