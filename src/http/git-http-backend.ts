/**
 * Run the real `git http-backend` as a CGI for one request: git's smart HTTP protocol
 * (https://git-scm.com/docs/gitprotocol-http) served by git itself. Used to serve the
 * embedded config repo read-only at /git/config.git, and by the tests' git server.
 * CGI variables: https://git-scm.com/docs/git-http-backend. Measured pitfalls handled:
 * Content-Encoding is passed as HTTP_CONTENT_ENCODING (native git gzips requests),
 * CONTENT_LENGTH only when the client sent one (chunked pushes), the CGI `Status:`
 * header becomes the HTTP status, Git-Protocol becomes GIT_PROTOCOL. The backend is
 * spawned asynchronously: a synchronous spawn from the serving process deadlocks.
 */
import { spawn } from 'node:child_process';
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface HttpBackendOptions {
  /** The directory holding the served bare repos (GIT_PROJECT_ROOT). */
  projectRoot: string;
  /** The repo path and service below the root, e.g. `/config.git/info/refs`. */
  pathInfo: string;
  /** Enable git-receive-pack (pushes). Off for anything a bridge serves. */
  allowPush: boolean;
  remoteUser?: string | undefined;
}

/** Answer `req` with `git http-backend`. */
export function serveGitHttpBackend(req: IncomingMessage, res: ServerResponse, opts: HttpBackendOptions): void {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_PROJECT_ROOT: opts.projectRoot,
    GIT_HTTP_EXPORT_ALL: '1',
    // http-backend refuses receive-pack to anonymous users unless it is enabled; for a
    // read-only repo it is explicitly disabled even for authenticated ones.
    GIT_CONFIG_COUNT: '1',
    GIT_CONFIG_KEY_0: 'http.receivepack',
    GIT_CONFIG_VALUE_0: opts.allowPush ? 'true' : 'false',
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_PROTOCOL: `HTTP/${req.httpVersion}`,
    REQUEST_METHOD: req.method ?? 'GET',
    PATH_INFO: opts.pathInfo,
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
  if (opts.remoteUser !== undefined) env.REMOTE_USER = opts.remoteUser;

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
  // A client that goes away mid-request must not leave a backend waiting on its stdin
  // forever (anyone who can reach the route could otherwise pile processes up).
  res.on('close', () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.stdin.destroy();
      child.kill('SIGKILL');
    }
  });

  // CGI response: header lines, a blank line, then the body.
  let head: Buffer = Buffer.alloc(0);
  let headersDone = false;
  child.stdout.on('data', (chunk: Buffer) => {
    if (headersDone) {
      if (!res.write(chunk)) {
        child.stdout.pause();
        res.once('drain', () => child.stdout.resume());
      }
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
