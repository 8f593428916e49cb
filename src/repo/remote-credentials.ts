import { KipError } from '../errors.js';
import type { CredentialSource } from './credentials/credential-source.js';
import { StaticToken } from './credentials/static-token.js';

/** User name sent when only a token is configured. */
export const TOKEN_ONLY_USERNAME = 'x-access-token';

/**
 * The URL and credentials of a remote, and the one place that keeps them out of every
 * message: the URL is stored without `user:pass@`, and `redact` blanks every token and
 * basic-auth value the credential source handed out, wherever a lower layer put them.
 */
export class RemoteCredentials {
  /** The repo URL without credentials, query or fragment. */
  readonly url: string;
  private readonly source: CredentialSource;

  constructor(opts: {
    url: string;
    username?: string | undefined;
    token?: string | undefined;
    source?: CredentialSource | undefined;
  }) {
    let parsed: URL;
    try {
      parsed = new URL(opts.url);
    } catch {
      // Not echoing the value: it may carry a password.
      throw new KipError('CONFIG_INVALID', 'KIPPER_REPO_URL is not a valid URL: use https://host/owner/repo.git');
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new KipError('CONFIG_INVALID', `KIPPER_REPO_URL must be http:// or https://, not ${parsed.protocol}`);
    }
    let urlUser: string;
    let urlPassword: string;
    try {
      urlUser = decodeURIComponent(parsed.username);
      urlPassword = decodeURIComponent(parsed.password);
    } catch {
      throw new KipError(
        'CONFIG_INVALID',
        'KIPPER_REPO_URL has badly %-encoded credentials: set KIPPER_GIT_USERNAME and KIPPER_GIT_TOKEN instead',
      );
    }
    parsed.username = '';
    parsed.password = '';
    parsed.hash = '';
    parsed.search = '';
    this.url = parsed.toString().replace(/\/+$/, '');
    if (opts.source) {
      if (urlUser || urlPassword)
        throw new KipError(
          'CONFIG_INVALID',
          'KIPPER_REPO_URL carries credentials: remove them, the token file or GitHub App provides them',
        );
      this.source = opts.source;
      return;
    }
    const token = opts.token || urlPassword || '';
    // GitHub wants a name with an app installation token and accepts any with a personal
    // one; servers that check the name (Gitea, Bitbucket) need KIPPER_GIT_USERNAME.
    const username = opts.username || urlUser || (token ? TOKEN_ONLY_USERNAME : '');
    this.source = new StaticToken(username, token);
  }

  /**
   * The Authorization header for the next request (`Basic …`), or undefined without
   * credentials. Sent up front, not after a 401 challenge: one round trip fewer on every
   * request. Asked before each request: a rotated or renewed token is used at once.
   */
  header(): Promise<string | undefined> {
    return this.source.header();
  }

  /** After a 401 to `failed`: fresh credentials now; true when a retry would send different ones. */
  refresh(failed: string | undefined): Promise<boolean> {
    return this.source.refresh(failed);
  }

  /** Belt and braces: no secret leaves the repo layer, whatever a lower layer put in a message. */
  redact(text: string): string {
    let out = text;
    for (const secret of this.source.secrets()) out = out.split(secret).join('***');
    return out;
  }

  /** What to fix after a 401/403 (`sent`: whether the request carried credentials). */
  refused(status: number, action: string, remote: string, sent: boolean): string {
    return sent
      ? `${action} ${remote}: the server refused the credentials (HTTP ${status}); ${this.source.refusedHint}`
      : `${action} ${remote}: the server wants credentials (HTTP ${status}); set KIPPER_GIT_TOKEN (and KIPPER_GIT_USERNAME if needed)`;
  }

  /** What a failed request got, in a word: `timeout`, or the socket error's code (`ECONNREFUSED`). */
  networkAnswer(err: unknown): string {
    if (!(err instanceof Error)) return 'error';
    if (err.name === 'TimeoutError' || err.name === 'AbortError') return 'timeout';
    // The credential source could not give any (a GitHub App token that could not be minted).
    if (err instanceof KipError) return 'no credentials';
    const inner = innerError(err);
    return (inner as NodeJS.ErrnoException).code ?? inner.name;
  }

  /** One line on why a request failed: timeout, refused connection, DNS, TLS (redacted). */
  describe(err: unknown, timeoutMs: number): string {
    if (!(err instanceof Error)) return this.redact(String(err));
    if (err.name === 'TimeoutError' || err.name === 'AbortError') return `timed out after ${timeoutMs} ms`;
    if (err instanceof KipError) return this.redact(err.message);
    // A wrapped error (undici's "fetch failed" around a socket error) is told by its cause.
    const inner = innerError(err);
    const code = (inner as NodeJS.ErrnoException).code;
    return this.redact(code ? `${code} ${inner.message}` : inner.message);
  }
}

function innerError(err: Error): Error {
  const cause = (err as { cause?: unknown }).cause;
  return cause instanceof Error ? cause : err;
}
