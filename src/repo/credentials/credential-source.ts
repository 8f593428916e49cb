/**
 * Where the remote's credentials come from: a static token, a token file that rotates, or
 * a GitHub App's installation tokens (issue #19). HttpRemote asks before every request,
 * so a rotated or renewed token is used without a restart.
 */
export interface CredentialSource {
  /** The Authorization header for the next request (renewing or re-reading first if due), or undefined without credentials. */
  header(): Promise<string | undefined>;
  /**
   * After the remote answered 401 to `failed` (the header that was sent): get fresh
   * credentials now. True when the next header differs, so the request is worth one retry.
   */
  refresh(failed: string | undefined): Promise<boolean>;
  /** Every secret value this source has handed out (tokens and their basic-auth encodings), for redaction. */
  secrets(): readonly string[];
  /** What to fix when the remote refuses the credentials, e.g. `check KIPPER_GIT_TOKEN`. */
  readonly refusedHint: string;
}

/** The secrets a token shows up as in a message: itself, %-encoded, and the basic-auth value carrying it. */
export function basicAuth(username: string, token: string): { header: string; secrets: string[] } {
  const basic = Buffer.from(`${username}:${token}`, 'utf8').toString('base64');
  const secrets = [basic];
  if (token) secrets.push(token, encodeURIComponent(token));
  return { header: `Basic ${basic}`, secrets };
}

/** Keeps the last few secrets a rotating source handed out: messages about a request in flight may carry the previous one. */
export class SecretRing {
  private readonly values: string[] = [];
  constructor(private readonly keep = 24) {}
  add(secrets: readonly string[]): void {
    for (const s of secrets) if (s && !this.values.includes(s)) this.values.push(s);
    if (this.values.length > this.keep) this.values.splice(0, this.values.length - this.keep);
  }
  list(): readonly string[] {
    return this.values;
  }
}
