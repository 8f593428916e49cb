import { verify } from '@octokit/webhooks-methods';
import type { Request } from 'express';
import { safeEqual } from './tokens.js';

/** How a webhook request proved it may deploy the app. */
export type Authorization = 'token' | 'gitlab' | 'github';

/**
 * Check a request against the app's current webhook token, by any one of the ways CI
 * systems and git providers send it: `X-Kipper-Token` (or Kipper's older
 * `X-Skipper-Token`), GitLab's `X-Gitlab-Token`, or GitHub's `X-Hub-Signature-256`: an
 * HMAC-SHA256 of the raw body bytes keyed with the token, so no token header is needed.
 * Returns null when none matches. `expected` is null for an unknown app or a disabled
 * webhook: the same null, so callers cannot tell the cases apart.
 */
export async function authorizeRequest(req: Request, rawBody: Buffer, expected: string | null): Promise<Authorization | null> {
  const header = (name: string) => {
    const v = req.headers[name];
    return typeof v === 'string' ? v : undefined;
  };
  // Compare against a dummy when there is no token, so timing does not reveal whether
  // the app exists.
  const secret = expected ?? 'x'.repeat(64);
  const kipper = header('x-kipper-token') ?? header('x-skipper-token');
  if (kipper !== undefined) return safeEqual(kipper, secret) && expected !== null ? 'token' : null;
  const gitlab = header('x-gitlab-token');
  if (gitlab !== undefined) return safeEqual(gitlab, secret) && expected !== null ? 'gitlab' : null;
  const signature = header('x-hub-signature-256');
  if (signature !== undefined) {
    // Only sha256: GitHub's legacy `X-Hub-Signature: sha1=…` is not accepted.
    if (!signature.startsWith('sha256=') || rawBody.length === 0) return null;
    // The HMAC covers the bytes as received, never a re-serialisation of the JSON.
    // https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
    const ok = await verify(secret, rawBody.toString('utf8'), signature).catch(() => false);
    // A body that is not valid UTF-8 would not survive the string round trip: refuse it.
    return ok && expected !== null && Buffer.from(rawBody.toString('utf8'), 'utf8').equals(rawBody) ? 'github' : null;
  }
  return null;
}
