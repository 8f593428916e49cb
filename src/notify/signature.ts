import { createHmac, timingSafeEqual } from 'node:crypto';

/** The header that carries a notification's signature, like GitHub's `X-Hub-Signature-256`. */
export const SIGNATURE_HEADER = 'X-Kipper-Signature-256';

/**
 * The notification secret a receiver is given: the key the bridge derives from its
 * secret key (`deriveKey(secretKey, 'notifications')`), as 64 lowercase hex characters.
 *
 * The HMAC key is this text (its UTF-8 bytes), not the 32 raw bytes, so a receiver
 * treats it like a GitHub webhook secret: any code that checks `X-Hub-Signature-256`
 * with a secret string checks `X-Kipper-Signature-256` with this one, and
 * `openssl dgst -hmac` takes it as is.
 *
 * How a receiver checks a delivery: over the raw body bytes as received (never over
 * re-serialised JSON), compare `sha256=<hex>` with the header by length, then in
 * constant time.
 *
 *   Node:    const expected = 'sha256=' + createHmac('sha256', SECRET).update(rawBody).digest('hex');
 *            const [a, b] = [Buffer.from(header), Buffer.from(expected)];
 *            const ok = a.length === b.length && timingSafeEqual(a, b);
 *            (or `verify(SECRET, rawBody, header)` below)
 *   openssl: openssl dgst -sha256 -hmac "$SECRET" -r body.json | cut -d' ' -f1
 *            prints the hex that follows `sha256=` for the body saved byte for byte in body.json.
 */
export function notificationSecret(key: Buffer): string {
  return key.toString('hex');
}

/** `sha256=<hex HMAC-SHA256 of body>` with the notification secret (a derived key is turned into it). */
export function sign(secret: Buffer | string, body: Uint8Array | string): string {
  return `sha256=${createHmac('sha256', secretText(secret)).update(body).digest('hex')}`;
}

/**
 * Whether `header` (the value of X-Kipper-Signature-256) signs `body`, the exact bytes
 * received. Length check first, then a constant-time comparison: the length of a
 * signature is public, its content is not. https://codahale.com/a-lesson-in-timing-attacks/
 */
export function verify(secret: Buffer | string, body: Uint8Array | string, header: string | null | undefined): boolean {
  if (typeof header !== 'string') return false;
  const presented = Buffer.from(header, 'utf8');
  const expected = Buffer.from(sign(secret, body), 'utf8');
  if (presented.length !== expected.length) return false;
  return timingSafeEqual(presented, expected);
}

function secretText(secret: Buffer | string): string {
  return typeof secret === 'string' ? secret : notificationSecret(secret);
}
