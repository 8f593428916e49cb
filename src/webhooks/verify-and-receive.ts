import { KipError } from '../errors.js';
import { authorizeRequest, credentialOf, type Authorization, type Credential } from './authorize-request.js';
import type { CiIdentity } from './oidc-verifier.js';
import { parseJsonBody } from './parse-body.js';
import { providerAction, providerSender, type ProviderAction } from './provider-event.js';

/**
 * What the webhook needs of an HTTP request, handed in by the server's adapter (in the
 * style of octokit/webhooks.js's `verify-and-receive.ts`): headers, and the body read on
 * demand, so that nothing here knows the framework and the body is read only when due.
 */
export interface WebhookRequest {
  headers: Record<string, string | string[] | undefined>;
  /** The raw body; rejects with PAYLOAD_TOO_LARGE beyond 64 KiB (also after gzip). */
  readBody(): Promise<Buffer>;
}

/** A request that proved it may deploy the app, and what it asks for. */
export interface Received {
  auth: Authorization;
  /** The parsed JSON body. */
  json: unknown;
  /** A git provider's event (GitHub, GitLab), or null for a plain CI request. */
  action: ProviderAction | null;
  /** Who sent a provider event (its sender's login), when it says. */
  sender: string | undefined;
  /** The CI job a verified OIDC ID token names (auth `oidc`). */
  ci?: CiIdentity;
}

/** Checks a CI job's OIDC ID token for the app: its identity, or null (the check's failure is logged by it). */
export type TrustedToken = (token: string) => Promise<CiIdentity | null>;

/**
 * Verify a webhook request against the app's current token, then read and parse it. In
 * this order, each step answering before the next looks further: a token header
 * (X-Kipper-Token, X-Gitlab-Token) is checked before the body is read, so an unauthorised
 * caller gets 401 and never 413; a GitHub request authorised only by X-Hub-Signature-256
 * has its body read first, since the signature covers it; then Content-Type (415), JSON.
 * `expected` is null for an unknown app or a disabled webhook: the same 401 either way.
 * An `Authorization: Bearer` ID token is checked by `trusted` (kipper.yaml `trust:`) instead.
 */
export async function verifyAndReceive(
  req: WebhookRequest,
  expected: string | null,
  trusted: TrustedToken,
): Promise<Received> {
  const credential = credentialOf(req.headers);
  let auth: Authorization | null = null;
  let ci: CiIdentity | undefined;
  let signed: Buffer | undefined;
  if (credential?.kind === 'oidc') {
    ci = (await trusted(credential.token)) ?? undefined;
    if (ci) auth = 'oidc';
  } else if (credential) {
    signed = credential.kind === 'github' ? await req.readBody() : undefined;
    auth = await authorizeRequest(credential, signed, expected);
  }
  if (!auth) throw unauthorized(credential);
  if (!isJsonContentType(header(req, 'content-type'))) {
    throw new KipError(
      'UNSUPPORTED_MEDIA_TYPE',
      'send the body as JSON with Content-Type: application/json (GitHub: Content type "application/json")',
    );
  }
  const json = parseJsonBody(signed ?? (await req.readBody()));
  const github = header(req, 'x-github-event');
  const gitlab = header(req, 'x-gitlab-event');
  return {
    auth,
    json,
    action: providerAction(github, gitlab, json),
    sender: providerSender(github, gitlab, json),
    ...(ci ? { ci } : {}),
  };
}

/**
 * Says which credential was checked and did not match, never whether the app exists: the
 * message depends only on the request's own headers. A token header and no credential at
 * all share one message (send X-Kipper-Token); a GitLab token or a GitHub signature is
 * named, so a provider's webhook settings point at the right field.
 */
function unauthorized(credential: Credential | null): KipError {
  const how = 'see `kip app webhook status`';
  switch (credential?.kind) {
    case 'gitlab':
      return new KipError(
        'UNAUTHORIZED',
        `X-Gitlab-Token (the GitLab webhook's Secret token) is not this app's current webhook token, or its webhook is disabled; ${how}`,
      );
    case 'oidc':
      // One message for every failed check (the bridge's log says which): a caller learns
      // nothing about the rules, the keys or whether the app exists.
      return new KipError(
        'UNAUTHORIZED',
        'the Authorization: Bearer ID token is not trusted to deploy this app: a kipper.yaml trust: rule must name its issuer, audience, claims and this app (the bridge log says which check failed)',
      );
    case 'github':
      return new KipError(
        'UNAUTHORIZED',
        `X-Hub-Signature-256 does not verify with this app's current webhook token (set it as the GitHub webhook's Secret; sha256 only), or its webhook is disabled; ${how}`,
      );
    default:
      return new KipError(
        'UNAUTHORIZED',
        `missing or invalid webhook token for this app (send X-Kipper-Token; ${how})`,
      );
  }
}

/** application/json or any `+json` type; a request without a Content-Type is not JSON (415). */
function isJsonContentType(value: string | undefined): boolean {
  if (value === undefined) return false;
  const type = value.split(';')[0]!.trim().toLowerCase();
  return type === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(type);
}

function header(req: WebhookRequest, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === 'string' ? v : undefined;
}
