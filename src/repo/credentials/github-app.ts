import { createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createAppAuth } from '@octokit/auth-app';
import { Octokit } from '@octokit/rest';
import { KipError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { basicAuth, SecretRing, type CredentialSource } from './credential-source.js';

/** Options of the GitHub App credentials (KIPPER_GITHUB_APP_*). */
export interface GithubAppOptions {
  appId: string;
  /** Path of the App's private key (PEM, as GitHub hands it out). */
  privateKeyPath: string;
  /** Looked up from the repo (`GET /repos/{owner}/{repo}/installation`) when unset. */
  installationId: number | undefined;
  /** `https://api.github.com`, or GHES's `https://host/api/v3`. */
  apiUrl: string;
  /** The config repo's URL without credentials: owner and repo are its path without `.git`. */
  repoUrl: string;
  log: Logger;
  /** Bound on each API call, default 15 s. */
  timeoutMs?: number;
}

/** Renew this long before `expires_at` at most (GitHub's tokens live 1 h). */
const RENEW_BEFORE_MS = 5 * 60_000;

/**
 * A GitHub App's installation tokens for git over HTTPS: minted with @octokit/auth-app
 * (it signs the App's JWT and calls `POST /app/installations/{id}/access_tokens`), sent
 * as basic auth `x-access-token:<token>`
 * (https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/authenticating-as-a-github-app-installation),
 * renewed before `expires_at`, and at once when the remote answers 401 (a revoked token).
 */
export class GithubAppToken implements CredentialSource {
  readonly refusedHint: string;
  private readonly octokit: Octokit;
  private readonly ring = new SecretRing();
  private installationId: number | undefined;
  private current: { header: string; expiresAt: number; renewAt: number } | undefined;
  private minting: Promise<void> | undefined;

  private constructor(
    private readonly opts: GithubAppOptions,
    privateKey: string,
    private readonly owner: string,
    private readonly repo: string,
  ) {
    this.installationId = opts.installationId;
    this.refusedHint = `the installation token of GitHub App ${opts.appId} was refused: check that the App is installed on ${owner}/${repo} with the Contents: read and write permission`;
    const timeoutMs = opts.timeoutMs ?? 15_000;
    const log = opts.log;
    this.octokit = new Octokit({
      authStrategy: createAppAuth,
      auth: { appId: opts.appId, privateKey },
      baseUrl: opts.apiUrl,
      userAgent: 'kipper/0.1',
      // Octokit's own lines carry no secrets; its request errors are ours to report (apiError), so only at debug.
      log: { debug: () => {}, info: () => {}, warn: (m: string) => log.warn(m), error: (m: string) => log.debug(m) },
      request: {
        fetch: (url: string, init: RequestInit) => fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) }),
      },
    });
  }

  /**
   * Reads the key and mints the first token, so a wrong App id, key or installation stops
   * the start with what to fix (CONFIG_INVALID). An API that cannot be reached does not:
   * the first request to the remote tries again.
   */
  static async open(opts: GithubAppOptions): Promise<GithubAppToken> {
    let pem: string;
    try {
      pem = await readFile(opts.privateKeyPath, 'utf8');
    } catch (err) {
      throw new KipError(
        'CONFIG_INVALID',
        `KIPPER_GITHUB_APP_PRIVATE_KEY: cannot read ${opts.privateKeyPath} (${(err as NodeJS.ErrnoException).code ?? 'error'}): mount the App's private key there`,
      );
    }
    try {
      if (createPrivateKey(pem).asymmetricKeyType !== 'rsa') throw new Error('not RSA');
    } catch {
      // Never the key's bytes in a message.
      throw new KipError(
        'CONFIG_INVALID',
        `KIPPER_GITHUB_APP_PRIVATE_KEY: ${opts.privateKeyPath} is not an RSA private key in PEM: use the .pem file GitHub generated for the App`,
      );
    }
    const { owner, repo } = ownerAndRepo(opts.repoUrl);
    const source = new GithubAppToken(opts, pem, owner, repo);
    try {
      await source.mint();
    } catch (err) {
      if (!(err instanceof KipError && err.code === 'CONFIG_INVALID'))
        opts.log.warn('could not mint a GitHub App installation token yet', { error: (err as Error).message });
      else throw err;
    }
    return source;
  }

  async header(): Promise<string | undefined> {
    const now = Date.now();
    if (this.current && now < this.current.renewAt) return this.current.header;
    try {
      await this.mintOnce();
    } catch (err) {
      // A token that is still valid carries on while the API is away; the next request tries again.
      if (this.current && Date.now() < this.current.expiresAt) {
        this.opts.log.warn(
          'could not renew the GitHub App installation token; using the current one until it expires',
          { error: (err as Error).message },
        );
        return this.current.header;
      }
      throw err;
    }
    return this.current!.header;
  }

  async refresh(failed: string | undefined): Promise<boolean> {
    // Another request renewed it meanwhile: retry with that one, no second token.
    if (this.current && this.current.header !== failed) return true;
    this.opts.log.info('the config repo refused the GitHub App installation token (revoked?): minting a new one', {
      appId: this.opts.appId,
    });
    await this.mintOnce();
    return this.current!.header !== failed;
  }

  secrets(): readonly string[] {
    return this.ring.list();
  }

  /** Concurrent callers share one mint. */
  private mintOnce(): Promise<void> {
    this.minting ??= this.mint().finally(() => (this.minting = undefined));
    return this.minting;
  }

  private async mint(): Promise<void> {
    const { appId } = this.opts;
    if (this.installationId === undefined) {
      try {
        const { data } = await this.octokit.rest.apps.getRepoInstallation({ owner: this.owner, repo: this.repo });
        this.installationId = data.id;
        this.opts.log.info('found the GitHub App installation', {
          appId,
          installationId: data.id,
          repo: `${this.owner}/${this.repo}`,
        });
      } catch (err) {
        throw this.apiError(err, 'looking up the installation', {
          404: `GitHub App ${appId} is not installed on ${this.owner}/${this.repo}: install it on that repo, or set KIPPER_GITHUB_APP_INSTALLATION_ID`,
        });
      }
    }
    const installationId = this.installationId;
    let auth: { token: string; expiresAt: string };
    try {
      // refresh: the library caches tokens for 59 min whatever their expires_at; the schedule is ours.
      auth = (await this.octokit.auth({ type: 'installation', installationId, refresh: true })) as {
        token: string;
        expiresAt: string;
      };
    } catch (err) {
      const permissions = `GitHub refused an installation token for installation ${installationId}: give GitHub App ${appId} the Contents: read and write permission on ${this.owner}/${this.repo}`;
      throw this.apiError(err, 'minting an installation token', {
        404: `installation ${installationId} of GitHub App ${appId} was not found: check KIPPER_GITHUB_APP_INSTALLATION_ID (or unset it to look it up from the repo)`,
        403: permissions,
        422: permissions,
      });
    }
    const { header, secrets } = basicAuth('x-access-token', auth.token);
    this.ring.add(secrets);
    const mintedAt = Date.now();
    let expiresAt = Date.parse(auth.expiresAt);
    if (!Number.isFinite(expiresAt)) expiresAt = mintedAt + 60 * 60_000;
    // Five minutes early, or halfway through a shorter life.
    const renewAt = expiresAt - Math.min(RENEW_BEFORE_MS, Math.max(0, expiresAt - mintedAt) / 2);
    this.current = { header, expiresAt, renewAt };
    this.opts.log.debug('minted a GitHub App installation token', {
      appId,
      installationId,
      expiresAt: new Date(expiresAt).toISOString(),
    });
  }

  /** What to fix, from GitHub's answer: status and GitHub's own message, never a token or the JWT. */
  private apiError(err: unknown, doing: string, byStatus: Record<number, string>): KipError {
    const status = (err as { status?: unknown }).status;
    const { appId, apiUrl } = this.opts;
    // Octokit reports a request that got no answer as status 500 without a response.
    if (typeof status !== 'number' || (err as { response?: unknown }).response === undefined) {
      return new KipError(
        'REPO_UNAVAILABLE',
        `GitHub App ${appId}: could not reach the GitHub API at ${apiUrl} while ${doing} (${networkCode(err)}): check KIPPER_GITHUB_API_URL`,
      );
    }
    const said = githubMessage(err);
    const fix =
      byStatus[status] ??
      (status === 401
        ? `GitHub refused the App's credentials: check KIPPER_GITHUB_APP_ID and that KIPPER_GITHUB_APP_PRIVATE_KEY is the private key of App ${appId}`
        : undefined);
    if (fix) return new KipError('CONFIG_INVALID', `${fix} (HTTP ${status}${said ? `: ${said}` : ''})`);
    return new KipError(
      'REPO_UNAVAILABLE',
      `GitHub App ${appId}: the GitHub API at ${apiUrl} answered HTTP ${status} while ${doing}${said ? `: ${said}` : ''}`,
    );
  }
}

/** The socket error's code (`ECONNREFUSED`), `timeout`, or the error's name: undici and Octokit each wrap it once. */
function networkCode(err: unknown): string {
  for (let e = err, depth = 0; e instanceof Error && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    if (e.name === 'TimeoutError') return 'timeout';
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string') return code;
  }
  return err instanceof Error ? err.name : 'error';
}

/** GitHub's `message` field, one line, bounded. */
function githubMessage(err: unknown): string {
  const data = (err as { response?: { data?: unknown } }).response?.data;
  const message = typeof data === 'object' && data !== null ? (data as { message?: unknown }).message : undefined;
  return typeof message === 'string' ? message.replace(/\p{Cc}+/gu, ' ').slice(0, 200) : '';
}

/** `owner` and `repo` from the repo URL's path without `.git` (the last two segments, for hosts under a path). */
export function ownerAndRepo(repoUrl: string): { owner: string; repo: string } {
  const segments = new URL(repoUrl).pathname
    .replace(/\/+$/, '')
    .replace(/\.git$/, '')
    .split('/')
    .filter((s) => s !== '');
  if (segments.length < 2)
    throw new KipError(
      'CONFIG_INVALID',
      `KIPPER_REPO_URL must name the repo as https://host/<owner>/<repo>.git for a GitHub App, got the path ${new URL(repoUrl).pathname}`,
    );
  return {
    owner: decodeURIComponent(segments[segments.length - 2]!),
    repo: decodeURIComponent(segments[segments.length - 1]!),
  };
}
