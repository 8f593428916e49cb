/**
 * A git smart-HTTP server for tests: every request runs the REAL `git http-backend`
 * as a CGI, so clones, fetches and pushes are judged by git itself, not by a mock.
 * Protocol: https://git-scm.com/docs/gitprotocol-http, CGI variables:
 * https://git-scm.com/docs/git-http-backend.
 *
 * The backend is spawned asynchronously per request: a synchronous spawn from the
 * process that serves it would deadlock (git waits on our HTTP answer, we wait on git).
 */
import { mkdtemp } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { serveGitHttpBackend } from '../../src/http/git-http-backend.js';
import { join } from 'node:path';

export interface GitServerRequest {
  method: string;
  path: string;
  status: number;
  /** When it arrived (`performance.now()` of this process). */
  at: number;
  /** From the request's arrival to the end of the answer (mostly git's own time). */
  ms: number;
}

export interface GitServer {
  /** Clone/fetch/push URL of the bare repo `<root>/<repo>`. */
  url(repo: string): string;
  /** Directory holding the served bare repos. */
  readonly root: string;
  /** Port on 127.0.0.1. */
  readonly port: number;
  /** Successful `POST …/git-receive-pack` requests so far. */
  readonly pushes: number;
  /** Every request answered, in order. */
  readonly requests: readonly GitServerRequest[];
  /** While down, every request is answered 503 (an overloaded or restarting server). */
  setDown(down: boolean): void;
  /**
   * While hanging, requests are accepted and never answered (a stuck proxy, a server out
   * of workers). Ending the hang drops the held connections unanswered: nothing they
   * carried reaches git.
   */
  setHanging(hanging: boolean): void;
  /** Requests held by a hang so far. */
  readonly held: number;
  /** Stops listening and drops open (keep-alive) connections. */
  close(): Promise<void>;
}

export interface GitServerOptions {
  root?: string;
  /** Require HTTP basic auth with exactly these credentials (401 otherwise). */
  auth?: { username: string; password: string };
  /**
   * Require HTTP basic auth that this judges good (401 otherwise), asked on every request:
   * tokens that a test mints, rotates and revokes (issue #19).
   */
  authorize?: (username: string, password: string) => boolean;
  /**
   * Hold every request this long before serving it: a remote this far away, as a hosted
   * git server is (issue #14). Counted in `requests[].ms`.
   */
  delayMs?: number;
}

/** Starts a `git http-backend` server on a random loopback port. */
export async function startGitServer(opts: GitServerOptions = {}): Promise<GitServer> {
  const root = opts.root ?? (await mkdtemp(join(tmpdir(), 'kip-git-server-')));
  let down = false;
  let hanging = false;
  const heldRequests = new Set<IncomingMessage>();
  let held = 0;
  let pushes = 0;
  const requests: GitServerRequest[] = [];

  const server = createServer((req, res) => {
    const arrived = performance.now();
    if (opts.delayMs) setTimeout(() => serve(req, res, arrived), opts.delayMs);
    else serve(req, res, arrived);
  });
  const serve = (req: IncomingMessage, res: ServerResponse, started: number) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    res.on('finish', () => {
      requests.push({
        method: req.method ?? 'GET',
        path,
        status: res.statusCode,
        at: started,
        ms: performance.now() - started,
      });
      if (req.method === 'POST' && path.endsWith('/git-receive-pack') && res.statusCode === 200) pushes++;
    });
    if (hanging) {
      held++;
      heldRequests.add(req);
      req.resume();
      return;
    }
    if (down) {
      req.resume();
      res.writeHead(503, { 'Content-Type': 'text/plain', 'Retry-After': '1' }).end('down for tests\n');
      return;
    }
    let remoteUser: string | undefined;
    if (opts.auth || opts.authorize) {
      remoteUser = checkBasicAuth(req, opts.auth ?? {}, opts.authorize);
      if (remoteUser === undefined) {
        req.resume();
        res
          .writeHead(401, { 'WWW-Authenticate': 'Basic realm="kipper-test"', 'Content-Type': 'text/plain' })
          .end('authentication required\n');
        return;
      }
    }
    runBackend(root, req, res, remoteUser);
  };
  // Native git and undici both keep connections alive; close() must not wait for them.
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    root,
    port,
    url: (repo: string) => `http://127.0.0.1:${port}/${repo}`,
    get pushes() {
      return pushes;
    },
    requests,
    setDown(value: boolean) {
      down = value;
    },
    setHanging(value: boolean) {
      hanging = value;
      if (!value) {
        for (const req of heldRequests) req.socket.destroy();
        heldRequests.clear();
      }
    },
    get held() {
      return held;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Returns the user name when the Authorization header matches, else undefined. */
function checkBasicAuth(
  req: IncomingMessage,
  auth: { username?: string; password?: string },
  authorize?: (username: string, password: string) => boolean,
): string | undefined {
  const header = req.headers.authorization ?? '';
  const match = /^Basic\s+(\S+)$/i.exec(header);
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const sep = decoded.indexOf(':');
  if (sep < 0) return undefined;
  const user = decoded.slice(0, sep);
  const pass = decoded.slice(sep + 1);
  if (authorize) return authorize(user, pass) ? user : undefined;
  return user === auth.username && pass === auth.password ? user : undefined;
}

function runBackend(root: string, req: IncomingMessage, res: ServerResponse, remoteUser: string | undefined): void {
  let pathInfo: string;
  try {
    pathInfo = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
  } catch {
    req.resume();
    res.writeHead(400, { 'Content-Type': 'text/plain' }).end('bad path\n');
    return;
  }
  serveGitHttpBackend(req, res, { projectRoot: root, pathInfo, allowPush: true, remoteUser });
}
