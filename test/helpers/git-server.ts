/**
 * A git smart-HTTP server for tests: every request runs the REAL `git http-backend`
 * as a CGI, so clones, fetches and pushes are judged by git itself, not by a mock.
 * Protocol: https://git-scm.com/docs/gitprotocol-http, CGI variables:
 * https://git-scm.com/docs/git-http-backend.
 *
 * The backend is spawned asynchronously per request: a synchronous spawn from the
 * process that serves it would deadlock (git waits on our HTTP answer, we wait on git).
 */
import { spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface GitServerRequest {
  method: string;
  path: string;
  status: number;
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
  /** Stops listening and drops open (keep-alive) connections. */
  close(): Promise<void>;
}

export interface GitServerOptions {
  root?: string;
  /** Require HTTP basic auth with exactly these credentials (401 otherwise). */
  auth?: { username: string; password: string };
}

/** Starts a `git http-backend` server on a random loopback port. */
export async function startGitServer(opts: GitServerOptions = {}): Promise<GitServer> {
  const root = opts.root ?? (await mkdtemp(join(tmpdir(), 'kip-git-server-')));
  let down = false;
  let pushes = 0;
  const requests: GitServerRequest[] = [];

  const server = createServer((req, res) => {
    const started = performance.now();
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    res.on('finish', () => {
      requests.push({ method: req.method ?? 'GET', path, status: res.statusCode, ms: performance.now() - started });
      if (req.method === 'POST' && path.endsWith('/git-receive-pack') && res.statusCode === 200) pushes++;
    });
    if (down) {
      req.resume();
      res.writeHead(503, { 'Content-Type': 'text/plain', 'Retry-After': '1' }).end('down for tests\n');
      return;
    }
    let remoteUser: string | undefined;
    if (opts.auth) {
      remoteUser = checkBasicAuth(req, opts.auth);
      if (remoteUser === undefined) {
        req.resume();
        res
          .writeHead(401, { 'WWW-Authenticate': 'Basic realm="kipper-test"', 'Content-Type': 'text/plain' })
          .end('authentication required\n');
        return;
      }
    }
    runBackend(root, req, res, remoteUser);
  });
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
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Returns the user name when the Authorization header matches, else undefined. */
function checkBasicAuth(req: IncomingMessage, auth: { username: string; password: string }): string | undefined {
  const header = req.headers.authorization ?? '';
  const match = /^Basic\s+(\S+)$/i.exec(header);
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const sep = decoded.indexOf(':');
  if (sep < 0) return undefined;
  const user = decoded.slice(0, sep);
  const pass = decoded.slice(sep + 1);
  return user === auth.username && pass === auth.password ? user : undefined;
}

function runBackend(root: string, req: IncomingMessage, res: ServerResponse, remoteUser: string | undefined): void {
  const url = new URL(req.url ?? '/', 'http://localhost');
  let pathInfo: string;
  try {
    pathInfo = decodeURIComponent(url.pathname);
  } catch {
    req.resume();
    res.writeHead(400, { 'Content-Type': 'text/plain' }).end('bad path\n');
    return;
  }
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_PROJECT_ROOT: root,
    GIT_HTTP_EXPORT_ALL: '1',
    // http-backend refuses receive-pack to anonymous users unless it is enabled.
    GIT_CONFIG_COUNT: '1',
    GIT_CONFIG_KEY_0: 'http.receivepack',
    GIT_CONFIG_VALUE_0: 'true',
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_PROTOCOL: `HTTP/${req.httpVersion}`,
    REQUEST_METHOD: req.method ?? 'GET',
    PATH_INFO: pathInfo,
    QUERY_STRING: url.search.replace(/^\?/, ''),
    CONTENT_TYPE: req.headers['content-type'] ?? '',
    REMOTE_ADDR: req.socket.remoteAddress ?? '127.0.0.1',
  };
  // Only when the client sent one: native git streams big pushes chunked, and a wrong
  // CONTENT_LENGTH makes http-backend read short or wait forever.
  if (req.headers['content-length'] !== undefined) env.CONTENT_LENGTH = req.headers['content-length'];
  // Native git gzips large upload-pack requests; http-backend inflates them itself.
  if (req.headers['content-encoding'] !== undefined) env.HTTP_CONTENT_ENCODING = req.headers['content-encoding'];
  const gitProtocol = req.headers['git-protocol'];
  if (typeof gitProtocol === 'string') env.GIT_PROTOCOL = gitProtocol;
  if (remoteUser !== undefined) env.REMOTE_USER = remoteUser;

  const child = spawn('git', ['http-backend'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  child.on('error', (err) => {
    if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
    res.end(`spawn git http-backend failed: ${err.message}\n`);
  });
  // The backend may exit before reading the whole body (e.g. an error answer).
  child.stdin.on('error', () => undefined);
  req.pipe(child.stdin);

  // CGI response: header lines, a blank line, then the body.
  let head: Buffer = Buffer.alloc(0);
  let headersDone = false;
  child.stdout.on('data', (chunk: Buffer) => {
    if (headersDone) {
      res.write(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const crlf = head.indexOf('\r\n\r\n');
    const lf = head.indexOf('\n\n');
    let end = -1;
    let sepLen = 0;
    if (crlf >= 0 && (lf < 0 || crlf < lf)) {
      end = crlf;
      sepLen = 4;
    } else if (lf >= 0) {
      end = lf;
      sepLen = 2;
    }
    if (end < 0) return;
    headersDone = true;
    let status = 200;
    for (const line of head.subarray(0, end).toString('latin1').split(/\r?\n/)) {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim();
      const value = line.slice(colon + 1).trim();
      if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10) || 500;
      else res.setHeader(name, value);
    }
    res.statusCode = status;
    const rest = head.subarray(end + sepLen);
    if (rest.length > 0) res.write(rest);
  });
  child.on('close', (code) => {
    if (!headersDone) {
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end(`git http-backend exited with ${code ?? 'signal'}: ${stderr}\n`);
      return;
    }
    res.end();
  });
}
