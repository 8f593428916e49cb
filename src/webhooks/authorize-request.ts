import { verify } from '@octokit/webhooks-methods';
import { safeEqual } from '../config/tokens.js';

/** How a webhook request proved it may deploy the app. */
export type Authorization = 'token' | 'gitlab' | 'github' | 'oidc';

/** The credential a request carries, taken from its headers (the first kind present wins). */
export type Credential =
  | { kind: 'token'; header: 'X-Kipper-Token' | 'X-Skipper-Token'; value: string }
  | { kind: 'oidc'; token: string }
  | { kind: 'gitlab'; value: string }
  | { kind: 'github'; signature: string };

/**
 * The credential of a request, by any one of the ways CI systems and git providers send
 * it: `X-Kipper-Token` (or Kipper's older `X-Skipper-Token`), a CI job's OIDC ID token as
 * `Authorization: Bearer`, GitLab's `X-Gitlab-Token`, or GitHub's `X-Hub-Signature-256`
 * (an HMAC of the body, so no token header is needed).
 */
export function credentialOf(headers: Record<string, string | string[] | undefined>): Credential | null {
  const header = (name: string) => {
    const v = headers[name];
    return typeof v === 'string' ? v : undefined;
  };
  const kipper = header('x-kipper-token');
  if (kipper !== undefined) return { kind: 'token', header: 'X-Kipper-Token', value: kipper };
  const skipper = header('x-skipper-token');
  if (skipper !== undefined) return { kind: 'token', header: 'X-Skipper-Token', value: skipper };
  const bearer = /^Bearer +(\S+)$/i.exec(header('authorization') ?? '');
  if (bearer) return { kind: 'oidc', token: bearer[1]! };
  const gitlab = header('x-gitlab-token');
  if (gitlab !== undefined) return { kind: 'gitlab', value: gitlab };
  const signature = header('x-hub-signature-256');
  if (signature !== undefined) return { kind: 'github', signature };
  return null;
}

/**
 * Check a credential (not an OIDC token: oidc-verifier.ts) against the app's current webhook token. `rawBody` is needed only
 * for a GitHub signature. Returns null when it does not match. `expected` is null for an
 * unknown app or a disabled webhook: the same null, so callers cannot tell the cases apart.
 */
export async function authorizeRequest(
  credential: Exclude<Credential, { kind: 'oidc' }>,
  rawBody: Buffer | undefined,
  expected: string | null,
): Promise<Authorization | null> {
  // Compare against a dummy when there is no token, so timing does not reveal whether
  // the app exists.
  const secret = expected ?? 'x'.repeat(64);
  switch (credential.kind) {
    case 'token':
      return safeEqual(credential.value, secret) && expected !== null ? 'token' : null;
    case 'gitlab':
      return safeEqual(credential.value, secret) && expected !== null ? 'gitlab' : null;
    case 'github': {
      // Only sha256: GitHub's legacy `X-Hub-Signature: sha1=…` is not accepted.
      if (!credential.signature.startsWith('sha256=') || rawBody === undefined || rawBody.length === 0) return null;
      // The HMAC covers the bytes as received, never a re-serialisation of the JSON.
      // https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
      const text = rawBody.toString('utf8');
      const ok = await verify(secret, text, credential.signature).catch(() => false);
      // A body that is not valid UTF-8 would not survive the string round trip: refuse it.
      return ok && expected !== null && Buffer.from(text, 'utf8').equals(rawBody) ? 'github' : null;
    }
  }
}
