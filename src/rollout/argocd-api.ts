import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Syncer } from '../config/kipper-file.js';

type ArgoSyncer = Extract<Syncer, { kind: 'argocd' }>;

/** Where Argo CD's API is and how to authenticate to it. Secrets stay in here: never logged. */
export interface ApiEndpoint {
  base: string;
  token?: string | undefined;
}

/** What a syncer's API answered: its JSON, or why there was none (for `unknown`). */
export type ApiAnswer = { ok: true; json: Record<string, unknown> } | { ok: false; reason: string };

/** The API path of an Application. https://argo-cd.readthedocs.io/en/stable/developer-guide/api-docs/ */
export function applicationPath(syncer: ArgoSyncer): string {
  return `api/v1/applications/${encodeURIComponent(syncer.application)}?appNamespace=${encodeURIComponent(syncer.namespace)}`;
}

function send(
  endpoint: ApiEndpoint,
  path: string,
  timeoutMs: number,
  onResponse: (res: IncomingMessage) => void,
): ClientRequest {
  const url = new URL(path, `${endpoint.base}/`);
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const req = request(
    url,
    {
      method: 'GET',
      headers: { accept: 'application/json', ...(endpoint.token ? { authorization: `Bearer ${endpoint.token}` } : {}) },
      timeout: timeoutMs,
    },
    onResponse,
  );
  req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
  req.end();
  return req;
}

const statusReason = (status: number) =>
  status === 401 || status === 403
    ? `HTTP ${status}: the token may not read it`
    : status === 404
      ? 'HTTP 404: no such object'
      : `HTTP ${status}`;
const errorReason = (err: Error) => (err as NodeJS.ErrnoException).code ?? err.message;

/** GET an Application as JSON, bounded by `timeoutMs`; an unreachable or refusing API is a reason, not a throw. */
export function getApplication(endpoint: ApiEndpoint, syncer: ArgoSyncer, timeoutMs = 5_000): Promise<ApiAnswer> {
  return new Promise((resolve) => {
    const req = send(endpoint, applicationPath(syncer), timeoutMs, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        if (status !== 200) return resolve({ ok: false, reason: statusReason(status) });
        try {
          resolve({ ok: true, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> });
        } catch {
          resolve({ ok: false, reason: 'an answer that is not JSON' });
        }
      });
      res.on('error', (err) => resolve({ ok: false, reason: err.message }));
    });
    req.on('error', (err) => resolve({ ok: false, reason: errorReason(err) }));
  });
}

/** What a watch stream tells: each Application it sends, and its end (once, with why). */
export interface WatchHandlers {
  /** `type` is the watch event's: `ADDED` (the current state, first), `MODIFIED`, `DELETED`. */
  application(type: string, json: Record<string, unknown>): void;
  ended(reason: string): void;
}

/** Until the answer's headers: an API that accepts the connection and says nothing is unreachable. */
const CONNECT_TIMEOUT_MS = 5_000;
/** TCP keep-alive probes find a peer that went away without closing (Argo CD sends no heartbeats). */
const KEEPALIVE_MS = 30_000;
/**
 * A stream is ended and opened again after this long: keep-alive probes take minutes to
 * give up on a silent peer, and a new stream starts with the application's state anyway.
 */
const RENEW_MS = 5 * 60_000;
/** One line is one Application (tens to hundreds of KB); more without a newline is not a stream we know. */
const MAX_LINE = 16 * 1024 * 1024;

/**
 * Follows one Application through Argo CD's watch stream (ApplicationService.Watch,
 * `GET /api/v1/stream/applications?name=…&appNamespace=…`): grpc-gateway writes one JSON
 * object per line, `{"result":{"type":"MODIFIED","application":{…}}}`, or
 * `{"error":{…}}` before it ends. For one named application Argo CD sends its current
 * state first (as `ADDED`), then every change. Returns the function that closes it
 * (`ended` is not called then).
 */
export function watchApplication(endpoint: ApiEndpoint, syncer: ArgoSyncer, on: WatchHandlers): () => void {
  let done = false;
  let renew: NodeJS.Timeout | undefined;
  const end = (reason: string) => {
    if (done) return;
    done = true;
    clearTimeout(renew);
    req.destroy();
    on.ended(reason);
  };
  const path = `api/v1/stream/applications?name=${encodeURIComponent(syncer.application)}&appNamespace=${encodeURIComponent(syncer.namespace)}`;
  const req = send(endpoint, path, CONNECT_TIMEOUT_MS, (res) => {
    const status = res.statusCode ?? 0;
    if (status !== 200) {
      res.resume();
      return end(statusReason(status));
    }
    // Connected: from here on silence is normal (no change), not a timeout.
    req.setTimeout(0);
    res.socket.setKeepAlive(true, KEEPALIVE_MS);
    renew = setTimeout(() => end('renewed after 5 minutes'), RENEW_MS);
    renew.unref();
    let buffered = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      buffered += chunk;
      if (buffered.length > MAX_LINE) return end('a stream line over 16 MB');
      let newline: number;
      while (!done && (newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        if (line) take(line);
      }
    });
    res.on('end', () => end('the stream ended'));
    res.on('error', (err) => end(err.message));
  });
  req.on('error', (err) => end(errorReason(err)));

  function take(line: string): void {
    let message: {
      result?: { type?: unknown; application?: unknown };
      error?: { message?: unknown; http_code?: unknown; code?: unknown };
    };
    try {
      // Tolerates the server-sent-events framing (`data: {…}`) the same endpoint can use.
      message = JSON.parse(line.startsWith('data:') ? line.slice(5) : line) as typeof message;
    } catch {
      return end('a stream line that is not JSON');
    }
    if (message.error) {
      const code = typeof message.error.http_code === 'number' ? message.error.http_code : undefined;
      return end(
        code
          ? statusReason(code)
          : `the stream failed: ${typeof message.error.message === 'string' ? message.error.message : 'error'}`,
      );
    }
    const app = message.result?.application;
    if (typeof app === 'object' && app !== null && !Array.isArray(app)) {
      on.application(
        typeof message.result?.type === 'string' ? message.result.type : 'MODIFIED',
        app as Record<string, unknown>,
      );
    }
  }

  return () => {
    done = true;
    clearTimeout(renew);
    req.destroy();
  };
}
