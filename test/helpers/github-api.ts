/**
 * A GitHub REST API double over real HTTP, for the GitHub App credentials (issue #19).
 * Routes, shapes and statuses follow GitHub's published OpenAPI description
 * (github/rest-api-description, descriptions/api.github.com/api.github.com.json):
 * `apps/get-repo-installation` (GET /repos/{owner}/{repo}/installation: 200 installation,
 * 404) and `apps/create-installation-access-token` (POST
 * /app/installations/{installation_id}/access_tokens: 201 installation-token, 401, 404).
 * Both take the App's JWT, checked as GitHub documents it in "Generating a JSON Web Token
 * (JWT) for a GitHub App"
 * (https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-json-web-token-jwt-for-a-github-app):
 * RS256 signed with the App's private key, `iss` the App id, `iat` not in the future
 * (60 s of clock drift allowed), `exp` at most 10 minutes after `iat` and not passed.
 *
 * The tokens it mints are what `accepts` lets through, so a `git http-backend` in front
 * of the config repo (startGitServer's `authorize`) takes exactly those, until they
 * expire or are revoked: "Using an expired token produces a status code of 401".
 */
import { randomBytes, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { compactVerify } from 'jose';

export interface GithubApiOptions {
  /** Registered Apps: their id and the public half of their key. */
  apps: Array<{ id: number; publicKey: KeyObject }>;
  /** Installations of those Apps, each on some repos (`owner/repo`). */
  installations: Array<{ id: number; appId: number; repos: string[] }>;
  /** How long a minted token lives (GitHub: one hour). */
  tokenLifetimeMs?: number;
}

export interface GithubApiCall {
  method: string;
  path: string;
  status: number;
  /** Why the JWT was refused, when it was. */
  refused?: string;
}

export interface MintedToken {
  token: string;
  installationId: number;
  mintedAt: number;
  expiresAt: number;
  revoked: boolean;
}

export interface GithubApi {
  /** Base URL, as KIPPER_GITHUB_API_URL. */
  readonly url: string;
  /** Every request answered, in order. */
  readonly calls: readonly GithubApiCall[];
  /** Every installation token minted, oldest first. */
  readonly minted: readonly MintedToken[];
  /** Every JWT presented (valid or not), for leak checks. */
  readonly jwts: readonly string[];
  /** Lifetime of the tokens minted from now on. */
  tokenLifetimeMs: number;
  /** Whether git basic auth `username:password` is a live token of ours (GitHub's `x-access-token:<token>`). */
  accepts(username: string, password: string): boolean;
  /** Revokes every token minted so far (`DELETE /installation/token`, or an admin's revocation). */
  revokeAll(): void;
  close(): Promise<void>;
}

const DOCS = 'https://docs.github.com/rest';

/** Starts the double on a random loopback port. */
export async function startGithubApi(opts: GithubApiOptions): Promise<GithubApi> {
  const calls: GithubApiCall[] = [];
  const minted: MintedToken[] = [];
  const jwts: string[] = [];
  const state = { tokenLifetimeMs: opts.tokenLifetimeMs ?? 60 * 60_000 };

  /** The App id a valid JWT in the request stands for, or the reason it is refused (GitHub's words). */
  async function appOf(req: IncomingMessage): Promise<{ appId: number } | { refused: string }> {
    const match = /^bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    if (!match) return { refused: 'A JSON web token could not be decoded' };
    const jwt = match[1]!;
    jwts.push(jwt);
    let claims: Record<string, unknown>;
    try {
      const [, payload] = jwt.split('.');
      claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
    } catch {
      return { refused: 'A JSON web token could not be decoded' };
    }
    const app = opts.apps.find((a) => String(a.id) === String(claims.iss));
    if (!app) return { refused: "'Issuer' claim ('iss') must be an Integer or the App's client ID" };
    try {
      // Signature and algorithm: RS256 with this App's key, nothing else.
      await compactVerify(jwt, app.publicKey, { algorithms: ['RS256'] });
    } catch {
      return { refused: 'A JSON web token could not be decoded' };
    }
    const now = Math.floor(Date.now() / 1000);
    const { iat, exp } = claims;
    if (typeof iat !== 'number' || iat > now + 60)
      return { refused: "'Issued at' claim ('iat') must be an Integer representing a time in the past" };
    if (typeof exp !== 'number' || exp - iat > 600)
      return { refused: "'Expiration time' claim ('exp') is too far in the future" };
    if (exp <= now - 60)
      return {
        refused:
          "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires",
      };
    return { appId: app.id };
  }

  async function handle(req: IncomingMessage, res: ServerResponse, call: GithubApiCall): Promise<void> {
    const send = (status: number, body: unknown) => {
      call.status = status;
      res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
    };
    const repoInstallation = /^\/repos\/([^/]+)\/([^/]+)\/installation$/.exec(call.path);
    const accessTokens = /^\/app\/installations\/(\d+)\/access_tokens$/.exec(call.path);
    if (!(req.method === 'GET' && repoInstallation) && !(req.method === 'POST' && accessTokens)) {
      return send(404, { message: 'Not Found', documentation_url: DOCS });
    }
    const app = await appOf(req);
    if ('refused' in app) {
      call.refused = app.refused;
      return send(401, { message: app.refused, documentation_url: DOCS });
    }
    if (repoInstallation) {
      const full = `${decodeURIComponent(repoInstallation[1]!)}/${decodeURIComponent(repoInstallation[2]!)}`;
      const inst = opts.installations.find((i) => i.appId === app.appId && i.repos.includes(full));
      if (!inst) return send(404, { message: 'Not Found', documentation_url: DOCS });
      return send(200, {
        id: inst.id,
        account: { login: full.split('/')[0], type: 'Organization' },
        app_id: inst.appId,
        target_type: 'Organization',
        repository_selection: 'selected',
        access_tokens_url: `${base}/app/installations/${inst.id}/access_tokens`,
        permissions: { contents: 'write', metadata: 'read' },
        events: [],
        created_at: '2026-01-01T00:00:00Z',
        updated_at: '2026-01-01T00:00:00Z',
      });
    }
    const installationId = Number(accessTokens![1]);
    const inst = opts.installations.find((i) => i.id === installationId && i.appId === app.appId);
    if (!inst) return send(404, { message: 'Not Found', documentation_url: DOCS });
    const mintedAt = Date.now();
    const token: MintedToken = {
      token: `ghs_${randomBytes(27).toString('base64url').slice(0, 36)}`,
      installationId,
      mintedAt,
      expiresAt: mintedAt + state.tokenLifetimeMs,
      revoked: false,
    };
    minted.push(token);
    return send(201, {
      token: token.token,
      expires_at: new Date(token.expiresAt).toISOString(),
      permissions: { contents: 'write', metadata: 'read' },
      repository_selection: 'selected',
    });
  }

  const server = createServer((req, res) => {
    const call: GithubApiCall = {
      method: req.method ?? 'GET',
      path: new URL(req.url ?? '/', 'http://localhost').pathname,
      status: 0,
    };
    req.resume();
    req.on('end', () => {
      handle(req, res, call)
        .catch(() => {
          call.status = 500;
          res.writeHead(500).end();
        })
        .finally(() => calls.push(call));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url: base,
    calls,
    minted,
    jwts,
    get tokenLifetimeMs() {
      return state.tokenLifetimeMs;
    },
    set tokenLifetimeMs(ms: number) {
      state.tokenLifetimeMs = ms;
    },
    accepts(username: string, password: string) {
      const t = minted.find((m) => m.token === password);
      return username === 'x-access-token' && t !== undefined && !t.revoked && Date.now() < t.expiresAt;
    },
    revokeAll() {
      for (const t of minted) t.revoked = true;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
