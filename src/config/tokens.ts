import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The webhook token of an app: HMAC-SHA256(secret key, `namespace/app:generation`), hex.
 * Nothing but the secret key is stored; bumping the generation (`enable` again) changes
 * the token, and a token for one app can never match another's.
 */
export function deriveWebhookToken(secretKey: string, app: string, generation: number): string {
  return createHmac('sha256', secretKey).update(`${app}:${generation}`).digest('hex');
}

/**
 * Constant-time comparison of a presented secret with the expected one. Unequal lengths
 * return early: the length of a 64-hex token is public, its content is not.
 * https://codahale.com/a-lesson-in-timing-attacks/
 */
export function safeEqual(presented: string, expected: string): boolean {
  const a = Buffer.from(presented, 'utf8');
  const b = Buffer.from(expected, 'utf8');
  if (a.length !== b.length) return false;
  return timingSafeEqual(a, b);
}

/**
 * A key for one purpose (console sessions, notification signatures), derived from the
 * secret key: nothing else to store or rotate, and no purpose can forge another's values.
 */
export function deriveKey(secretKey: string, purpose: string): Buffer {
  return createHmac('sha256', secretKey).update(`kipper key: ${purpose}`).digest();
}
