import { Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest, Agent as HttpsAgent } from 'node:https';
import type { Request, RequestHandler, Response } from 'express';
import type { Bridge } from '../deploys/open-bridge.js';
import { KipError } from '../errors.js';
import type { Logger } from '../log.js';
import { deriveKey } from '../config/tokens.js';
import {
  FORWARDED,
  FORWARDED_FOR,
  FORWARDED_HEADERS,
  openForward,
  signForward,
  type ForwardKeys,
} from './forward-seal.js';
import { requestLog } from './request-id.js';

/** The writes, by path: each names its app, whose repo's Lease decides who writes. */
const WRITE_PATHS = [
  /^\/api\/v1\/webhook\/([^/]+)\/([^/]+)\/?$/,
  /^\/api\/v1\/apps\/([^/]+)\/([^/]+)\/[^/]+\/?$/,
  /^\/apps\/([^/]+)\/([^/]+)\/.+$/,
];

/** Larger than every route's own limit (64 KiB): the holder answers 413 as it would to the caller. */
const FORWARD_BODY_LIMIT = 1024 * 1024;

/** Not passed on either way: they describe one connection, not the request. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'upgrade',
  'proxy-connection',
  'te',
  'trailer',
  'host',
  'content-length',
]);

/** Requests this replica accepted as forwarded by another: never forwarded again. */
const forwarded = new WeakSet<Request>();

/** The keys every replica derives from the shared KIPPER_SECRET_KEY. */
export function forwardKeys(secretKey: string): ForwardKeys {
  return { mac: deriveKey(secretKey, 'forwarded writes: mac'), seal: deriveKey(secretKey, 'forwarded writes: seal') };
}

/**
 * The holder's side: a request carrying `X-Kipper-Forwarded` is served only when its MAC
 * holds (forward-seal.ts); then it is the caller's own request again (headers, address,
 * body), authorised by the routes as if it had come here directly. A forged, altered,
 * stale or replayed one is refused 401 and never reaches a route.
 */
export function acceptForwarded(keys: ForwardKeys, log: Logger): RequestHandler {
  const seen = new Map<string, number>();
  return (req, res, next) => {
    const claimed = req.headers[FORWARDED] ?? req.headers[FORWARDED_HEADERS] ?? req.headers[FORWARDED_FOR];
    if (claimed === undefined) return next();
    const refuse = (reason: string) => {
      requestLog(res, log).warn('forwarded request refused', { reason, address: req.socket.remoteAddress });
      next(
        new KipError(
          'UNAUTHORIZED',
          'forwarded request refused: not vouched for by a replica with the same KIPPER_SECRET_KEY',
        ),
      );
    };
    const length = Number(req.headers['content-length'] ?? 0);
    if (
      !Number.isSafeInteger(length) ||
      length < 0 ||
      length > FORWARD_BODY_LIMIT ||
      req.headers['transfer-encoding'] !== undefined
    )
      return refuse('malformed');
    readExactly(req, length).then(
      (body) => {
        const opened = openForward(
          keys,
          { method: req.method, url: req.originalUrl, body },
          {
            forwarded: one(req.headers[FORWARDED]),
            sealed: one(req.headers[FORWARDED_HEADERS]),
            from: one(req.headers[FORWARDED_FOR]),
          },
          seen,
        );
        if ('refused' in opened) return refuse(opened.refused);
        // The caller's request again: its own headers (credentials included) and address,
        // its body put back for the route's parser.
        req.headers = {
          ...(opened.headers as IncomingHttpHeaders),
          host: req.headers.host,
          'content-length': String(body.length),
        };
        Object.defineProperty(req, 'ip', { value: opened.from, configurable: true });
        forwarded.add(req);
        if (body.length > 0) req.unshift(body);
        next();
      },
      () => refuse('malformed'),
    );
  };
}

/**
 * The follower's side (docs/running-in-a-cluster.md "Replicas"): a write for an app whose
 * repo's Lease another replica holds goes to that holder, and the caller gets the holder's
 * answer (status, headers, body). Reads, and writes this replica may do itself, go on to
 * the routes. No holder in sight: 503 with Retry-After, nothing written.
 */
export function forwardWrites(bridge: Bridge, keys: ForwardKeys, log: Logger): RequestHandler {
  const agents = {
    http: new Agent({ keepAlive: true, maxSockets: 64 }),
    https: new HttpsAgent({ keepAlive: true, maxSockets: 64 }),
  };
  return (req, res, next) => {
    // Only origin-form targets (`/path?query`): an absolute-form or `//host` one would make `new URL` leave the holder.
    if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS' || !/^\/(?!\/)/.test(req.originalUrl))
      return next();
    const id = appOf(req.path);
    if (id === null) return next();
    let lease;
    try {
      lease = bridge.repoOf(id).lease;
    } catch {
      return next(); // APP_AMBIGUOUS: the route says so
    }
    if (!lease || lease.isLeader()) return next();
    // Handed to us as the holder, but we no longer are: never a second hop (no loops).
    const holder = forwarded.has(req) ? null : lease.holder();
    if (holder === null)
      return next(
        new KipError(
          'REPO_UNAVAILABLE',
          'no replica holds the write lease of this config repo right now; retry in a moment',
          {
            retryAfter: 2,
            answer: 'no lease holder',
          },
        ),
      );
    forward(req, res, holder, keys, agents).catch((err: unknown) => {
      requestLog(res, log).warn('could not forward to the lease holder', {
        holder,
        error: err instanceof Error ? err.message : String(err),
      });
      if (res.headersSent) res.destroy();
      else
        next(
          new KipError(
            'REPO_UNAVAILABLE',
            'the replica that writes this config repo did not answer; retry in a moment',
            {
              retryAfter: 2,
              answer: 'holder unreachable',
            },
          ),
        );
    });
  };
}

async function forward(
  req: Request,
  res: Response,
  holder: string,
  keys: ForwardKeys,
  agents: { http: Agent; https: HttpsAgent },
): Promise<void> {
  const body = await readAll(req, FORWARD_BODY_LIMIT);
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(req.headers))
    if (v !== undefined && !HOP_BY_HOP.has(k) && !k.startsWith('x-kipper-forwarded')) headers[k] = v;
  const signed = signForward(keys, {
    method: req.method,
    url: req.originalUrl,
    body,
    from: req.ip ?? req.socket.remoteAddress ?? '',
    headers,
  });
  const target = new URL(req.originalUrl, holder);
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  await new Promise<void>((resolve, reject) => {
    const out = send(
      target,
      {
        method: req.method,
        agent: target.protocol === 'https:' ? agents.https : agents.http,
        headers: {
          ...signed,
          'content-type': req.headers['content-type'] ?? 'application/octet-stream',
          'content-length': String(body.length),
        },
      },
      (answer) => {
        for (const [k, v] of Object.entries(answer.headers))
          if (v !== undefined && !HOP_BY_HOP.has(k)) res.setHeader(k, v);
        res.status(answer.statusCode ?? 502);
        answer.pipe(res);
        answer.on('end', resolve);
        answer.on('error', reject);
      },
    );
    out.on('error', reject);
    // The caller gave up: so does the forwarded request (the holder's deadline rules the rest).
    res.on('close', () => {
      if (!res.writableFinished) out.destroy();
    });
    out.end(body);
  });
}

/** `namespace/app` of a write path, else null. */
function appOf(path: string): string | null {
  for (const re of WRITE_PATHS) {
    const m = re.exec(path);
    if (m) {
      try {
        return `${decodeURIComponent(m[1]!)}/${decodeURIComponent(m[2]!)}`;
      } catch {
        return null;
      }
    }
  }
  return null;
}

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function readAll(req: Request, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new KipError('PAYLOAD_TOO_LARGE', 'request body is over 64 KiB'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/**
 * Exactly `length` bytes of the body, read without ending the stream, so that they can be
 * put back (`unshift`) for the route's own body parser.
 */
function readExactly(req: Request, length: number): Promise<Buffer> {
  if (length === 0) return Promise.resolve(Buffer.alloc(0));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onReadable = () => {
      let chunk: Buffer | null;
      while (size < length && (chunk = req.read() as Buffer | null) !== null) {
        chunks.push(chunk);
        size += chunk.length;
      }
      if (size >= length) {
        done();
        if (size > length) reject(new Error('body longer than Content-Length'));
        else resolve(Buffer.concat(chunks));
      }
    };
    const onEnd = () => {
      done();
      reject(new Error('body shorter than Content-Length'));
    };
    const done = () => {
      req.off('readable', onReadable);
      req.off('end', onEnd);
      req.off('error', reject);
    };
    req.on('readable', onReadable);
    req.on('end', onEnd);
    req.on('error', reject);
  });
}
